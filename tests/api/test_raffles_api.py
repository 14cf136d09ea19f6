"""``GET /api/v1/raffles`` and ``POST /api/v1/raffles/{id}/enter``: the shapes the client
reads, every refusal as one error shape that changes nothing, and, on PostgreSQL, the
prize budget and the daily entry limit under real parallel clients."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from checkout.models import Order, OrderEvent, Payment
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.sandbox.models import WeChatPayTrade
from promotions.models import RaffleDay, RaffleEntry, RaffleShopperDay
from tests.checkout.shop import make_shop
from tests.factories import CustomerFactory, client_for
from tests.orders import make_order
from tests.parallel import run_in_parallel
from tests.promotions.raffle_setup import ALWAYS, NEVER, make_raffle

ORDER_FEN = 3 * 1190 + 1500  # 3 milk and a loaf


@pytest.fixture
def shop():
    return make_shop()


def order_for(shop, customer) -> Order:
    return make_order(
        customer_id=customer.pk, store_id=shop.store.pk, items=[(shop.milk, 3, 1190), (shop.bread, 1, 1500)]
    )


def enter(client: APIClient, raffle_id: int, body, **headers):
    return client.post(f"/api/v1/raffles/{raffle_id}/enter", body, format="json", **headers)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


# --- Listing --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_live_raffles_with_my_entries_left_today(auth_client, shop):
    now = timezone.now()
    raffle = make_raffle(name="8.8 Lucky Draw", prize_fen=8800, daily_entries_per_customer=3)
    make_raffle(name="Switched off", active=False)
    make_raffle(name="Next week", starts_at=now + dt.timedelta(days=7), ends_at=now + dt.timedelta(days=8))
    weekend = make_raffle(name="Weekend Draw", win_probability_ppm=NEVER, daily_entries_per_customer=2)
    order = order_for(shop, auth_client.customer)
    assert enter(auth_client, weekend.pk, {"order_id": order.pk}).status_code == 200
    # Yesterday's entries do not count today; today's do.
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    RaffleShopperDay.objects.create(raffle=raffle, customer=auth_client.customer, date=yesterday, entries=3)

    response = auth_client.get("/api/v1/raffles")

    assert response.status_code == 200
    by_name = {item["name"]: item for item in response.json()}
    assert set(by_name) == {"8.8 Lucky Draw", "Weekend Draw"}
    assert by_name["8.8 Lucky Draw"] == {
        "id": raffle.pk,
        "name": "8.8 Lucky Draw",
        "starts_at": timezone.localtime(raffle.starts_at).isoformat(),
        "ends_at": timezone.localtime(raffle.ends_at).isoformat(),
        "prize_fen": 8800,
        "daily_entries_per_customer": 3,
        "entries_left_today": 3,
    }
    assert by_name["Weekend Draw"]["entries_left_today"] == 1


def test_the_list_needs_a_token(api_client, db):
    assert_error(api_client.get("/api/v1/raffles"), 401, "not_authenticated")


# --- Entering -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_losing_entry_answers_the_outcome_and_the_unchanged_order(auth_client, shop):
    order = order_for(shop, auth_client.customer)
    raffle = make_raffle(win_probability_ppm=NEVER)

    response = enter(auth_client, raffle.pk, {"order_id": order.pk})

    assert response.status_code == 200, response.content
    body = response.json()
    entry = RaffleEntry.objects.get()
    assert {k: body[k] for k in ("entry_id", "outcome", "won", "prize_fen", "payment_params")} == {
        "entry_id": entry.pk,
        "outcome": "lost",
        "won": False,
        "prize_fen": 0,
        "payment_params": None,
    }
    assert body["order"] == auth_client.get(f"/api/v1/orders/{order.pk}").json()
    assert body["order"]["total_fen"] == ORDER_FEN and body["order"]["discount_fen"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_winning_entry_answers_the_repriced_order_and_the_new_payment_params(server, shop):
    customer = CustomerFactory()
    client = client_for(customer)
    order = order_for(shop, customer)
    raffle = make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000)

    response = enter(client, raffle.pk, {"order_id": order.pk})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["outcome"], body["won"], body["prize_fen"]) == ("won", True, 1000)
    assert body["order"]["discount_fen"] == 1000 and body["order"]["total_fen"] == ORDER_FEN - 1000
    assert sum(line["discount_fen"] for line in body["order"]["lines"]) == 1000
    assert body["order"]["payment"] == {
        "provider": "wechat_pay",
        "out_trade_no": f"{order.number}R1",
        "state": "pending",
        "amount_fen": ORDER_FEN - 1000,
        "paid_at": None,
    }
    assert set(body["payment_params"]) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    trade = WeChatPayTrade.objects.get(out_trade_no=f"{order.number}R1")
    assert body["payment_params"]["package"] == f"prepay_id={trade.prepay_id}"
    assert trade.amount_fen == ORDER_FEN - 1000


@pytest.mark.django_db
def test_a_retry_with_the_same_idempotency_key_replays_the_first_answer(auth_client, shop):
    order = order_for(shop, auth_client.customer)
    raffle = make_raffle(win_probability_ppm=NEVER)

    first = enter(auth_client, raffle.pk, {"order_id": order.pk}, HTTP_IDEMPOTENCY_KEY="enter-1")
    again = enter(auth_client, raffle.pk, {"order_id": order.pk}, HTTP_IDEMPOTENCY_KEY="enter-1")
    fresh = enter(auth_client, raffle.pk, {"order_id": order.pk}, HTTP_IDEMPOTENCY_KEY="enter-2")

    assert first.status_code == again.status_code == 200 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert_error(fresh, 409, "raffle_already_entered")
    assert RaffleEntry.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"order_id": None}, {"order_id": "1"}, {"order_id": 1.5}, {"order_id": True}, {"order_id": 0}, [1], "x"],
    ids=["missing", "null", "string", "float", "bool", "zero", "list", "string-body"],
)
def test_a_bad_body_is_a_400_and_draws_nothing(auth_client, shop, body):
    order_for(shop, auth_client.customer)
    raffle = make_raffle(win_probability_ppm=ALWAYS)

    response = enter(auth_client, raffle.pk, body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"validation_error", "malformed_request"}
    assert not RaffleEntry.objects.exists() and not RaffleShopperDay.objects.exists()


@pytest.mark.django_db
def test_each_refusal_has_its_code_and_changes_nothing(auth_client, shop):
    me = auth_client.customer
    now = timezone.now()
    live = make_raffle(win_probability_ppm=NEVER, daily_entries_per_customer=2)
    ended = make_raffle(starts_at=now - dt.timedelta(days=2), ends_at=now - dt.timedelta(days=1))
    off = make_raffle(active=False)
    mine, second, third, paid = (order_for(shop, me) for _ in range(4))
    Order.objects.filter(pk=paid.pk).update(state=Order.State.PAID)
    foreign = order_for(shop, CustomerFactory())

    assert_error(enter(auth_client, live.pk, {"order_id": foreign.pk}), 404, "order_not_found")
    assert_error(enter(auth_client, live.pk, {"order_id": paid.pk}), 409, "order_not_payable")
    assert_error(enter(auth_client, off.pk, {"order_id": mine.pk}), 404, "raffle_not_found")
    assert_error(enter(auth_client, live.pk + 1000, {"order_id": mine.pk}), 404, "raffle_not_found")
    assert_error(enter(auth_client, ended.pk, {"order_id": mine.pk}), 422, "raffle_not_live")
    assert not RaffleEntry.objects.exists() and not RaffleShopperDay.objects.exists()

    assert enter(auth_client, live.pk, {"order_id": mine.pk}).status_code == 200
    assert_error(enter(auth_client, live.pk, {"order_id": mine.pk}), 409, "raffle_already_entered")
    assert enter(auth_client, live.pk, {"order_id": second.pk}).status_code == 200
    error = assert_error(enter(auth_client, live.pk, {"order_id": third.pk}), 409, "raffle_entry_limit_reached")
    assert error["details"] == {"daily_entries_per_customer": 2}

    assert RaffleEntry.objects.count() == 2
    assert RaffleShopperDay.objects.get(raffle=live, customer=me).entries == 2
    assert not OrderEvent.objects.exclude(type="created").exists()
    assert set(Payment.objects.values_list("state", flat=True)) == {"pending"}


# --- Parallel clients (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_winning_entries_give_away_exactly_the_days_budget(server, shop):
    raffle = make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000, daily_prize_budget_fen=3 * 1000)
    shoppers = []
    for _ in range(30):
        customer = CustomerFactory()
        raw, _ = issue_token(customer=customer)
        shoppers.append((raw, order_for(shop, customer).pk))

    def enter_once(index: int) -> tuple[int, str]:
        raw, order_id = shoppers[index]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = enter(client, raffle.pk, {"order_id": order_id})
        assert response.status_code == 200, response.content
        return response.status_code, response.json()["outcome"]

    results = run_in_parallel(enter_once, 30)

    assert Counter(outcome for _, outcome in results) == {"won": 3, "budget_exhausted": 27}
    day = RaffleDay.objects.get(raffle=raffle)
    assert (day.spent_fen, day.budget_fen) == (3000, 3000)
    assert Counter(RaffleEntry.objects.values_list("outcome", flat=True)) == {"won": 3, "budget_exhausted": 27}
    repriced = Order.objects.filter(discount_fen=1000, total_fen=ORDER_FEN - 1000)
    assert repriced.count() == 3
    assert Order.objects.filter(discount_fen=0, total_fen=ORDER_FEN).count() == 27
    assert Payment.objects.filter(state="pending", amount_fen=ORDER_FEN - 1000).count() == 3
    assert Payment.objects.filter(state="closed").count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_shoppers_parallel_entries_stop_at_the_daily_limit(shop):
    raffle = make_raffle(win_probability_ppm=NEVER, daily_entries_per_customer=2)
    customer = CustomerFactory()
    raw, _ = issue_token(customer=customer)
    order_ids = [order_for(shop, customer).pk for _ in range(10)]

    def enter_once(index: int) -> tuple[int, str]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = enter(client, raffle.pk, {"order_id": order_ids[index]})
        return response.status_code, response.json().get("error", {}).get("code", "entered")

    results = run_in_parallel(enter_once, 10)

    assert Counter(results) == {(200, "entered"): 2, (409, "raffle_entry_limit_reached"): 8}
    assert RaffleEntry.objects.filter(raffle=raffle, customer=customer).count() == 2
    assert RaffleShopperDay.objects.get(raffle=raffle, customer=customer).entries == 2
