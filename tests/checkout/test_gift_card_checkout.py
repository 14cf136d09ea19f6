"""Gift cards as a tender: they pay first, WeChat Pay or Alipay the rest; their part is held
while the external payment is pending, spent when it is paid, given back when it is not;
cards covering the whole order pay it at once with no trade. Checkouts go through the API
and the sandbox provider, as the other checkout tests do."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.db import transaction
from rest_framework.test import APIClient

from checkout import payment_jobs, raffle_entry, settlement
from checkout.models import Basket, Order, OrderEvent, Payment
from checkout.payments.base import TradeStatus
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from promotions import gift_card_ledger
from promotions.models import GiftCard, GiftCardShare, GiftCardTransaction
from tests.checkout.delivery_town import address_for, fill_cart, make_town, next_slot
from tests.checkout.delivery_town import checkout as cart_checkout
from tests.checkout.shop import APPLE_PLU, BEER_EAN, MILK_EAN, make_shop, weight_label
from tests.factories import BasketFactory, BasketLineFactory, CustomerFactory, LocationFactory, client_for
from tests.parallel import run_in_parallel
from tests.promotions.raffle_setup import ALWAYS, make_raffle

pytestmark = pytest.mark.django_db(transaction=True)

# Three milk (35.70), two beers (13.00) and 500 g of apples (9.95).
BASKET_FEN = 5865


@pytest.fixture
def shop():
    return make_shop()


def card_for(customer, amount_fen: int) -> GiftCard:
    with transaction.atomic():
        return gift_card_ledger.issue(owner_id=customer.pk, amount_fen=amount_fen)


def money(card: GiftCard) -> tuple[int, int]:
    card.refresh_from_db()
    return card.balance_fen, card.held_fen


def ledger(card: GiftCard) -> list[tuple[str, int, int]]:
    return list(
        GiftCardTransaction.objects.filter(card=card).order_by("pk").values_list("kind", "amount_fen", "held_delta_fen")
    )


def filled_basket(client: APIClient, store_id: int) -> int:
    basket_id = client.post("/api/v1/baskets", {"store_id": store_id}, format="json").json()["id"]
    for body in (
        {"barcode": MILK_EAN, "quantity": 3},
        {"barcode": BEER_EAN, "quantity": 2},
        {"barcode": weight_label(APPLE_PLU, 500)},
    ):
        assert client.post(f"/api/v1/baskets/{basket_id}/scan", body, format="json").status_code == 200
    return basket_id


def checkout(client: APIClient, basket_id: int, card_ids, method: str = "wechat_pay", key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"payment_method": method, "gift_card_ids": card_ids}
    return client.post(f"/api/v1/baskets/{basket_id}/checkout", body, format="json", **headers)


def ordered(response) -> Order:
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["order"]["id"])


def move_clock(monkeypatch, by: dt.timedelta) -> None:
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + by)


# --- Paying part, paying all --------------------------------------------------------------


@pytest.mark.parametrize("method", ["wechat_pay", "alipay"])
def test_a_card_pays_first_and_the_provider_is_asked_only_for_the_rest(server, shop, method):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = card_for(shopper, 3000)

    order = ordered(checkout(client, filled_basket(client, shop.store.pk), [card.pk], method))

    assert (order.state, order.total_fen, order.gift_card_fen) == ("pending_payment", BASKET_FEN, 3000)
    (payment,) = Payment.objects.filter(order=order)
    assert (payment.provider, payment.amount_fen) == (method, BASKET_FEN - 3000)
    assert money(card) == (0, 3000)  # held while the external payment is pending

    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]

    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert money(card) == (0, 0)
    assert ledger(card) == [("issue", 3000, 0), ("hold", -3000, 3000), ("capture", 0, -3000)]
    assert gift_card_ledger.ledger_problems() == []


def test_cards_pay_in_the_order_chosen_and_only_what_is_needed(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    first, second, spare = card_for(shopper, 5000), card_for(shopper, 5000), card_for(shopper, 5000)

    response = checkout(client, filled_basket(client, shop.store.pk), [second.pk, first.pk, spare.pk])

    order = ordered(response)
    # Covered entirely: paid at once, with no trade at any provider.
    assert (order.state, order.gift_card_fen) == ("paid", BASKET_FEN)
    assert response.json()["payment_params"] is None
    assert not Payment.objects.filter(order=order).exists()
    assert money(second) == (0, 0) and money(first) == (5000 - (BASKET_FEN - 5000), 0) and money(spare) == (5000, 0)
    assert Basket.objects.get(pk=order.basket_id).status == Basket.Status.CHECKED_OUT
    assert OrderEvent.objects.get(order=order, type="paid").data["source"] == "gift_cards_cover_total"
    # The exit pass is there, as for any paid order.
    assert client.get(f"/api/v1/orders/{order.pk}/exit-pass").status_code == 200


def test_an_order_unpaid_at_its_deadline_gives_the_card_its_money_back(server, shop, monkeypatch):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = card_for(shopper, 3000)
    basket_id = filled_basket(client, shop.store.pk)
    order = ordered(checkout(client, basket_id, [card.pk]))
    move_clock(monkeypatch, dt.timedelta(minutes=16))

    assert payment_jobs.close_expired_orders() == 1

    assert Order.objects.get(pk=order.pk).state == Order.State.CLOSED
    assert money(card) == (3000, 0)
    assert [kind for kind, _, _ in ledger(card)] == ["issue", "hold", "release"]
    # The basket is open again and the card pays the next checkout.
    assert ordered(checkout(client, basket_id, [card.pk])).gift_card_fen == 3000


def pay_late(order: Order) -> None:
    payment = Payment.objects.get(order=order)
    status = TradeStatus(
        out_trade_no=payment.out_trade_no,
        state="paid",
        amount_fen=payment.amount_fen,
        provider_trade_id="4200001234202611220000000077",
        paid_at=clock.now(),
    )
    settlement.apply_trade_status(provider="wechat_pay", status=status, source="notification")


def test_a_late_payment_takes_the_cards_part_again(server, shop, monkeypatch):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = card_for(shopper, 3000)
    order = ordered(checkout(client, filled_basket(client, shop.store.pk), [card.pk]))
    move_clock(monkeypatch, dt.timedelta(minutes=16))
    payment_jobs.close_expired_orders()

    pay_late(order)

    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    assert money(card) == (0, 0)
    assert [kind for kind, _, _ in ledger(card)] == ["issue", "hold", "release", "hold", "capture"]
    assert not OrderEvent.objects.filter(order=order, type="gift_cards_not_retaken").exists()


def test_a_late_payment_records_what_the_card_no_longer_has(server, shop, monkeypatch):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = card_for(shopper, 3000)
    order = ordered(checkout(client, filled_basket(client, shop.store.pk), [card.pk]))
    move_clock(monkeypatch, dt.timedelta(minutes=16))
    payment_jobs.close_expired_orders()
    # Meanwhile the shopper spent 20.00 of the card elsewhere.
    with transaction.atomic():
        cards = gift_card_ledger.lock_cards([card.pk])
        gift_card_ledger.hold(cards, {card.pk: 2000}, order_id=10**9)
        gift_card_ledger.capture_for_order(order_id=10**9)

    pay_late(order)

    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    assert money(card) == (0, 0)
    assert OrderEvent.objects.get(order=order, type="gift_cards_not_retaken").data == {"missing_fen": 2000}
    assert gift_card_ledger.ledger_problems() == []


# --- Refusals: nothing written ------------------------------------------------------------


def shared(card: GiftCard) -> GiftCard:
    GiftCardShare.objects.create(
        card=card, sharer=card.owner, secret_hash="0" * 64, expires_at=clock.now() + dt.timedelta(hours=1)
    )
    return card


def frozen(card: GiftCard) -> GiftCard:
    GiftCard.objects.filter(pk=card.pk).update(status=GiftCard.Status.FROZEN)
    return card


def emptied(card: GiftCard) -> GiftCard:
    with transaction.atomic():
        cards = gift_card_ledger.lock_cards([card.pk])
        gift_card_ledger.hold(cards, {card.pk: card.balance_fen}, order_id=10**9)
        gift_card_ledger.capture_for_order(order_id=10**9)
    return card


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda shopper: card_for(CustomerFactory(), 3000), 404, "gift_card_not_found"),
        (lambda shopper: frozen(card_for(shopper, 3000)), 409, "gift_card_frozen"),
        (lambda shopper: shared(card_for(shopper, 3000)), 409, "gift_card_being_shared"),
        (lambda shopper: emptied(card_for(shopper, 3000)), 409, "gift_card_empty"),
    ],
    ids=["another_shoppers", "frozen", "offered_to_a_friend", "empty"],
)
def test_a_card_that_cannot_pay_is_refused_and_nothing_is_written(server, shop, make, status, code):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = make(shopper)
    before = money(card), ledger(card)
    basket_id = filled_basket(client, shop.store.pk)

    response = checkout(client, basket_id, [card.pk])

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not Order.objects.exists()
    assert (money(card), ledger(card)) == before
    assert Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN


@pytest.mark.parametrize("card_ids", [[1, 1], ["1"], [0], [-5], "7", [True], [10**20]])
def test_malformed_gift_card_ids_are_a_400(server, shop, card_ids):
    client = client_for(CustomerFactory())
    basket_id = filled_basket(client, shop.store.pk)

    response = checkout(client, basket_id, card_ids)

    assert response.status_code == 400, response.content
    assert not Order.objects.exists()


def test_a_retry_resumes_the_order_only_with_the_same_cards(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card, other = card_for(shopper, 3000), card_for(shopper, 1000)
    basket_id = filled_basket(client, shop.store.pk)
    order = ordered(checkout(client, basket_id, [card.pk]))

    assert ordered(checkout(client, basket_id, [card.pk])).pk == order.pk
    refused = checkout(client, basket_id, [card.pk, other.pk])

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "order_awaiting_other_gift_cards"
    assert refused.json()["error"]["details"]["gift_card_ids"] == [card.pk]
    assert money(card) == (0, 3000) and money(other) == (1000, 0)


# --- Delivery ---------------------------------------------------------------------------


def test_a_delivery_order_takes_gift_cards_too(server):
    town = make_town()
    shopper = CustomerFactory()
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 2})
    card = card_for(shopper, 500)
    client = client_for(shopper)
    body = {
        "city": town.city.code,
        "slot": next_slot(town.city),
        "payment_method": "alipay",
        "address_id": home.pk,
        "gift_card_ids": [card.pk],
    }

    order = ordered(client.post("/api/v1/cart/checkout", body, format="json"))

    assert order.gift_card_fen == 500
    assert Payment.objects.get(order=order).amount_fen == order.total_fen - 500
    assert money(card) == (0, 500)
    # A plain checkout of the same kind still works with no cards.
    fill_cart(shopper, town.city, {town.milk: 1})
    assert ordered(cart_checkout(client, town.city, address=home, method="alipay")).gift_card_fen == 0


# --- Racing checkouts (PostgreSQL) --------------------------------------------------------


@pytest.mark.postgres
def test_one_card_spent_by_two_checkouts_at_once_pays_one_of_them(server, shop):
    shopper = CustomerFactory()
    card = card_for(shopper, 3000)
    other_store = LocationFactory(opens_at=dt.time(0, 0), closes_at=dt.time(0, 0))
    baskets = [BasketFactory(customer=shopper, store=store) for store in (shop.store, other_store)]
    for basket in baskets:
        BasketLineFactory(basket=basket, product=shop.milk, quantity=3)
    raw, _ = issue_token(customer=shopper)

    def attempt(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return checkout(client, baskets[index].pk, [card.pk])

    answers = run_in_parallel(attempt, 2)

    assert sorted(answer.status_code for answer in answers) == [201, 409]
    (won,) = [answer for answer in answers if answer.status_code == 201]
    (lost,) = [answer for answer in answers if answer.status_code == 409]
    assert lost.json()["error"]["code"] == "gift_card_empty"
    order = Order.objects.get()
    assert order.pk == won.json()["order"]["id"] and order.gift_card_fen == 3000
    assert money(card) == (0, 3000)
    assert [kind for kind, _, _ in ledger(card)] == ["issue", "hold"]
    assert gift_card_ledger.ledger_problems() == []


# --- A raffle prize on an order part-paid by card -------------------------------------------


def test_a_prize_reprices_only_the_external_payment(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = card_for(shopper, 3000)
    order = ordered(checkout(client, filled_basket(client, shop.store.pk), [card.pk]))

    result = raffle_entry.enter_raffle(
        customer_id=shopper.pk, raffle_id=make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000).pk, order_id=order.pk
    )

    assert result.won
    order.refresh_from_db()
    assert (order.total_fen, order.gift_card_fen) == (BASKET_FEN - 1000, 3000)
    old, new = Payment.objects.filter(order=order).order_by("pk")
    assert (old.state, new.state, new.amount_fen) == ("closed", "pending", BASKET_FEN - 1000 - 3000)
    assert money(card) == (0, 3000)


def test_a_prize_bringing_the_total_below_the_cards_part_gives_the_excess_back_and_pays(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    card = card_for(shopper, 5000)
    order = ordered(checkout(client, filled_basket(client, shop.store.pk), [card.pk]))

    raffle_entry.enter_raffle(
        customer_id=shopper.pk, raffle_id=make_raffle(win_probability_ppm=ALWAYS, prize_fen=1000).pk, order_id=order.pk
    )

    order.refresh_from_db()
    assert (order.state, order.total_fen, order.gift_card_fen) == ("paid", BASKET_FEN - 1000, BASKET_FEN - 1000)
    assert [p.state for p in Payment.objects.filter(order=order)] == ["closed"]
    assert money(card) == (5000 - (BASKET_FEN - 1000), 0)
    assert [kind for kind, _, _ in ledger(card)] == ["issue", "hold", "release", "capture"]
    assert gift_card_ledger.ledger_problems() == []
