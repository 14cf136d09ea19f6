"""Checkout with promotions: what an order spends (a coupon, flash-sale quota), what it
charges, and what payment, a timeout or a late payment does with what it held.

Checkouts go through the API and create their payments at the sandbox over HTTP, as the
payment-flow tests do; the PostgreSQL tests race real parallel checkouts.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import requests
from rest_framework.test import APIClient

from checkout import payment_jobs, settlement
from checkout.models import Basket, Order, OrderEvent, OrderLine, Payment
from checkout.payments.base import TradeStatus
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from promotions import holds
from promotions.coupons import issue_coupons
from promotions.models import Coupon, CouponTemplate, FlashSale, FlashSaleItem, FlashSaleReservation
from tests.checkout.shop import APPLE_PLU, BEER_EAN, MILK_EAN, make_shop, weight_label
from tests.factories import BasketFactory, BasketLineFactory, CustomerFactory, LocationFactory, client_for
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

DAY = dt.timedelta(days=1)


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture
def beer_flash(shop) -> FlashSaleItem:
    """Beer at 4.50 instead of 6.50, two per shopper."""
    now = clock.now()
    sale = FlashSale.objects.create(name="Beer flash sale", starts_at=now - DAY, ends_at=now + DAY)
    return FlashSaleItem.objects.create(
        sale=sale, product=shop.beer, flash_price_fen=450, quota=10, per_customer_limit=2
    )


def coupon_for(customer, **terms) -> Coupon:
    """A 满30减5 coupon (5 RMB off from 30 RMB), in store and online, unless ``terms`` say otherwise."""
    now = clock.now()
    fields = {
        "name": "满30减5",
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "threshold_fen": 3000,
        "amount_off_fen": 500,
        "valid_from": now - DAY,
        "valid_until": now + 7 * DAY,
        **terms,
    }
    template = CouponTemplate.objects.create(**fields)
    (coupon,) = issue_coupons(template_id=template.pk, customer_id=customer.pk)
    return coupon


def filled_basket(client: APIClient, store_id: int) -> int:
    """Three bottles of milk (35.70), two beers (13.00, or 9.00 at the flash price) and
    500 g of apples (9.95)."""
    basket_id = client.post("/api/v1/baskets", {"store_id": store_id}, format="json").json()["id"]
    for body in (
        {"barcode": MILK_EAN, "quantity": 3},
        {"barcode": BEER_EAN, "quantity": 2},
        {"barcode": weight_label(APPLE_PLU, 500)},
    ):
        assert client.post(f"/api/v1/baskets/{basket_id}/scan", body, format="json").status_code == 200
    return basket_id


def checkout(client: APIClient, basket_id: int, coupon_ids=None, key: str | None = None, method: str = "wechat_pay"):
    body = {"payment_method": method} | ({"coupon_ids": coupon_ids} if coupon_ids is not None else {})
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/baskets/{basket_id}/checkout", body, format="json", **headers)


def ordered(client: APIClient, basket_id: int, coupon: Coupon) -> Order:
    response = checkout(client, basket_id, [coupon.pk])
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["order"]["id"])


def status_of(coupon: Coupon) -> tuple:
    coupon.refresh_from_db()
    return coupon.status, coupon.order_id


def reservations(**filters) -> list[tuple]:
    return list(
        FlashSaleReservation.objects.filter(**filters).order_by("pk").values_list("order_id", "quantity", "status")
    )


def sold(item: FlashSaleItem) -> int:
    item.refresh_from_db()
    return item.sold


def move_clock(monkeypatch, by: dt.timedelta) -> None:
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + by)


def pay_late(order: Order) -> settlement.Settled:
    """The provider reports the order paid after we closed it (the shopper paid at the last
    second, the notification came late)."""
    status = TradeStatus(
        out_trade_no=order.number,
        state="paid",
        amount_fen=order.total_fen,
        provider_trade_id="4200001234202611220000000099",
        paid_at=clock.now(),
    )
    return settlement.apply_trade_status(provider="wechat_pay", status=status, source="notification")


# --- Checkout -----------------------------------------------------------------------------


def test_checkout_with_a_coupon_and_a_flash_price_charges_the_discounted_total_and_holds_both(server, shop, beer_flash):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper)

    response = checkout(client, filled_basket(client, shop.store.pk), [coupon.pk])

    assert response.status_code == 201, response.content
    body = response.json()["order"]
    order = Order.objects.get(pk=body["id"])
    # 58.65 of goods; 4.00 off the beers at the flash price; the coupon's 5.00 spread over
    # the 54.65 left by largest remainder: 3.27 milk, 0.82 beer, 0.91 apples.
    assert (order.goods_subtotal_fen, order.discount_fen, order.total_fen) == (5865, 900, 4965)
    lines = list(OrderLine.objects.filter(order=order).values_list("sku", "line_total_fen", "discount_fen"))
    assert lines == [("100001", 3570, 327), ("100002", 1300, 482), ("100003", 995, 91)]
    assert sum(discount for _, _, discount in lines) == order.discount_fen
    assert [(line["discount_fen"], line["final_fen"]) for line in body["lines"]] == [(327, 3243), (482, 818), (91, 904)]
    assert Payment.objects.get(order=order).amount_fen == 4965
    flash, *coupon_shares = body["adjustments"]
    order_line_ids = [line["id"] for line in body["lines"]]
    assert flash == {
        "source": "flash_sale",
        "promotion_id": beer_flash.sale_id,
        "line_id": order_line_ids[1],  # the order's own beer line, not the basket's
        "amount_fen": 400,
        "label": "Beer flash sale",
        "units": 2,
        "item_id": beer_flash.pk,
    }
    assert [(a["source"], a["promotion_id"], a["line_id"], a["amount_fen"]) for a in coupon_shares] == [
        ("coupon", coupon.pk, order_line_ids[0], 327),
        ("coupon", coupon.pk, order_line_ids[1], 82),
        ("coupon", coupon.pk, order_line_ids[2], 91),
    ]
    assert status_of(coupon) == ("locked", order.pk)
    assert reservations() == [(order.pk, 2, "held")] and sold(beer_flash) == 2


def test_payment_uses_the_coupon_and_sells_the_flash_units(server, shop, beer_flash):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper)
    order = ordered(client, filled_basket(client, shop.store.pk), coupon)

    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]

    order.refresh_from_db()
    coupon.refresh_from_db()
    assert order.state == Order.State.PAID
    assert (coupon.status, coupon.order_id, coupon.used_at is not None) == ("used", order.pk, True)
    assert reservations() == [(order.pk, 2, "sold")] and sold(beer_flash) == 2
    assert not OrderEvent.objects.filter(order=order, type="promotions_not_retaken").exists()


def test_an_order_unpaid_at_its_deadline_gives_back_the_coupon_and_the_flash_quota(
    server, shop, beer_flash, monkeypatch
):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper)
    basket_id = filled_basket(client, shop.store.pk)
    order = ordered(client, basket_id, coupon)
    move_clock(monkeypatch, dt.timedelta(minutes=16))  # past the 15-minute payment deadline

    assert payment_jobs.close_expired_orders() == 1
    assert payment_jobs.close_expired_orders() == 0

    assert Order.objects.get(pk=order.pk).state == Order.State.CLOSED
    assert status_of(coupon) == ("available", None)
    assert reservations() == [(order.pk, 2, "released")] and sold(beer_flash) == 0
    # The basket is open again, and the same coupon and flash price go on the next order.
    again = checkout(client, basket_id, [coupon.pk])
    assert again.status_code == 201, again.content
    assert again.json()["order"]["total_fen"] == 4965
    assert status_of(coupon) == ("locked", again.json()["order"]["id"]) and sold(beer_flash) == 2


def test_a_late_payment_takes_back_the_coupon_and_the_units_it_had_given_back(server, shop, beer_flash, monkeypatch):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper)
    order = ordered(client, filled_basket(client, shop.store.pk), coupon)
    move_clock(monkeypatch, dt.timedelta(minutes=16))
    assert payment_jobs.close_expired_orders() == 1

    assert pay_late(order).outcome == "paid"

    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    assert status_of(coupon) == ("used", order.pk)
    assert reservations() == [(order.pk, 2, "sold")] and sold(beer_flash) == 2
    assert not OrderEvent.objects.filter(order=order, type="promotions_not_retaken").exists()


def test_a_late_payment_records_what_another_order_took_meanwhile(server, shop, beer_flash, monkeypatch):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper)
    basket_id = filled_basket(client, shop.store.pk)
    first = ordered(client, basket_id, coupon)
    move_clock(monkeypatch, dt.timedelta(minutes=16))
    assert payment_jobs.close_expired_orders() == 1
    second = checkout(client, basket_id, [coupon.pk]).json()["order"]["id"]  # the reopened basket

    pay_late(first)

    assert Order.objects.get(pk=first.pk).state == Order.State.PAID
    assert status_of(coupon) == ("locked", second)
    # The shopper's limit is two beers at the flash price, and the second order holds them.
    assert reservations(order_id=first.pk) == [(first.pk, 2, "released")] and sold(beer_flash) == 2
    event = OrderEvent.objects.get(order=first, type="promotions_not_retaken")
    assert event.data == {"coupon_ids": [coupon.pk], "flash_units": {str(beer_flash.pk): 2}}


def _coupon_that(case: str, shopper) -> Coupon:
    if case == "foreign":
        return coupon_for(CustomerFactory())
    if case == "wrong_channel":
        return coupon_for(shopper, channels=CouponTemplate.Channels.DELIVERY)
    if case == "below_threshold":
        return coupon_for(shopper, threshold_fen=10_000)
    coupon = coupon_for(shopper)
    if case == "expired":
        Coupon.objects.filter(pk=coupon.pk).update(valid_until=clock.now() - dt.timedelta(minutes=1))
    elif case == "used":
        Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.USED, order_id=999, used_at=clock.now())
    elif case == "locked":
        Coupon.objects.filter(pk=coupon.pk).update(status=Coupon.Status.LOCKED, order_id=999)
    return coupon


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("expired", "expired"),
        ("foreign", "not_available"),
        ("used", "not_available"),
        ("locked", "not_available"),
        ("wrong_channel", "wrong_channel"),
        ("below_threshold", "below_threshold"),
    ],
)
def test_a_coupon_that_does_not_apply_is_refused_and_nothing_is_written(server, shop, beer_flash, case, reason):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = _coupon_that(case, shopper)
    before = status_of(coupon)
    basket_id = filled_basket(client, shop.store.pk)

    response = checkout(client, basket_id, [coupon.pk])

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "coupon_not_applicable"
    assert response.json()["error"]["details"] == {str(coupon.pk): reason}
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN
    assert status_of(coupon) == before
    assert reservations() == [] and sold(beer_flash) == 0


def test_two_order_coupons_are_refused(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    first, second = coupon_for(shopper), coupon_for(shopper, name="满30减3", amount_off_fen=300)
    basket_id = filled_basket(client, shop.store.pk)

    response = checkout(client, basket_id, [second.pk, first.pk])

    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "coupon_not_applicable",
        "message": response.json()["error"]["message"],
        "details": {str(second.pk): "one_order_coupon_only"},
    }
    assert not Order.objects.exists() and Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN
    assert status_of(first) == status_of(second) == ("available", None)


@pytest.mark.parametrize(
    "coupon_ids",
    [[1, 2, 3], [5, 5], ["5"], [0], [2**63], "5", {"id": 5}, [None], [5.0]],
    ids=["three", "twice", "string-id", "zero", "huge", "not-a-list", "object", "null", "float"],
)
def test_malformed_coupon_ids_are_a_400_and_write_nothing(server, shop, coupon_ids):
    client = client_for(CustomerFactory())
    basket_id = filled_basket(client, shop.store.pk)

    response = checkout(client, basket_id, coupon_ids)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert "coupon_ids" in response.json()["error"]["details"]
    assert not Order.objects.exists() and Basket.objects.get(pk=basket_id).status == Basket.Status.OPEN


def test_checkout_without_coupons_still_works_with_an_empty_list(server, shop):
    client = client_for(CustomerFactory())

    response = checkout(client, filled_basket(client, shop.store.pk), [])

    assert response.status_code == 201 and response.json()["order"]["total_fen"] == 3570 + 1300 + 995


def test_a_retried_checkout_of_a_frozen_basket_returns_its_order_and_holds_nothing_more(server, shop, beer_flash):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper)
    basket_id = filled_basket(client, shop.store.pk)
    first = checkout(client, basket_id, [coupon.pk]).json()["order"]

    again = checkout(client, basket_id, [coupon.pk])

    assert again.status_code == 201 and again.json()["order"] == first
    assert Order.objects.count() == 1
    assert status_of(coupon) == ("locked", first["id"])
    assert reservations() == [(first["id"], 2, "held")] and sold(beer_flash) == 2


def test_a_retry_with_other_coupons_is_refused_and_the_pending_order_keeps_its_own(server, shop, beer_flash):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon, other = coupon_for(shopper), coupon_for(shopper)
    basket_id = filled_basket(client, shop.store.pk)
    first = checkout(client, basket_id, [coupon.pk]).json()["order"]

    swapped = checkout(client, basket_id, [other.pk])
    dropped = checkout(client, basket_id, [])

    for refused in (swapped, dropped):
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "basket_awaiting_other_coupons"
        assert refused.json()["error"]["details"] == {"order_id": first["id"], "coupon_ids": [coupon.pk]}
    assert Order.objects.count() == 1
    assert status_of(coupon) == ("locked", first["id"]) and status_of(other)[0] == "available"


def test_an_idempotency_key_is_bound_to_the_chosen_coupons(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon, other = coupon_for(shopper), coupon_for(shopper, kind="free_delivery", amount_off_fen=0)
    basket_id = filled_basket(client, shop.store.pk)
    first = checkout(client, basket_id, [coupon.pk], key="k-1")
    assert first.status_code == 201

    replayed = checkout(client, basket_id, [coupon.pk], key="k-1")
    refused = checkout(client, basket_id, [], key="k-1")
    swapped = checkout(client, basket_id, [other.pk, coupon.pk], key="k-1")

    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    assert replayed.json() == first.json()
    for answer in (refused, swapped):
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1 and status_of(other) == ("available", None)


# --- Racing checkouts (PostgreSQL) --------------------------------------------------------


def all_priced_before_any_holds(monkeypatch, parties: int) -> None:
    """Every checkout prices its basket (and so sees the coupon or the quota free) before
    any of them holds: the worst interleaving, forced rather than hoped for."""
    barrier = threading.Barrier(parties, timeout=60)
    real = holds.hold_for_order

    def hold_when_all_priced(**kwargs):
        barrier.wait()
        return real(**kwargs)

    monkeypatch.setattr(holds, "hold_for_order", hold_when_all_priced)


def second_store():
    return LocationFactory(opens_at=dt.time(0, 0), closes_at=dt.time(0, 0))


@pytest.mark.postgres
def test_one_coupon_checked_out_on_two_baskets_at_once_goes_on_one_order(server, shop, monkeypatch):
    shopper = CustomerFactory()
    coupon = coupon_for(shopper)
    baskets = [BasketFactory(customer=shopper, store=store) for store in (shop.store, second_store())]
    for basket in baskets:
        BasketLineFactory(basket=basket, product=shop.milk, quantity=3)
    raw, _ = issue_token(customer=shopper)
    all_priced_before_any_holds(monkeypatch, 2)

    def attempt(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return checkout(client, baskets[index].pk, [coupon.pk])

    answers = run_in_parallel(attempt, 2)

    assert sorted(answer.status_code for answer in answers) == [201, 409]
    (won,) = [answer for answer in answers if answer.status_code == 201]
    (lost,) = [index for index, answer in enumerate(answers) if answer.status_code == 409]
    assert answers[lost].json()["error"]["code"] == "coupon_unavailable"
    assert list(Order.objects.values_list("pk", flat=True)) == [won.json()["order"]["id"]]
    assert status_of(coupon) == ("locked", won.json()["order"]["id"])
    assert Basket.objects.get(pk=baskets[lost].pk).status == Basket.Status.OPEN


@pytest.mark.postgres
def test_fifty_buyers_for_ten_flash_units_make_ten_orders_at_the_flash_price(server, shop, beer_flash, monkeypatch):
    FlashSaleItem.objects.filter(pk=beer_flash.pk).update(quota=10, per_customer_limit=1)
    shoppers = CustomerFactory.create_batch(50)
    baskets = [BasketFactory(customer=shopper, store=shop.store) for shopper in shoppers]
    for basket in baskets:
        BasketLineFactory(basket=basket, product=shop.beer, barcode=BEER_EAN)
    tokens = [issue_token(customer=shopper)[0] for shopper in shoppers]
    all_priced_before_any_holds(monkeypatch, 50)

    def attempt(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[index]}")
        return checkout(client, baskets[index].pk)

    answers = run_in_parallel(attempt, 50)

    codes = sorted((answer.status_code, answer.json().get("error", {}).get("code")) for answer in answers)
    assert codes == [(201, None)] * 10 + [(409, "flash_sale_sold_out")] * 40
    assert sorted(Order.objects.values_list("total_fen", "discount_fen")) == [(450, 200)] * 10
    assert sold(beer_flash) == 10
    orders = Order.objects.values_list("pk", flat=True)
    assert sorted(reservations()) == sorted((order_id, 1, "held") for order_id in orders)
    refused = [baskets[i].pk for i, answer in enumerate(answers) if answer.status_code == 409]
    assert set(Basket.objects.filter(pk__in=refused).values_list("status", flat=True)) == {Basket.Status.OPEN}


@pytest.mark.postgres
def test_a_shopper_checking_out_twice_at_once_gets_the_flash_price_once(server, shop, beer_flash, monkeypatch):
    FlashSaleItem.objects.filter(pk=beer_flash.pk).update(per_customer_limit=1)
    shopper = CustomerFactory()
    baskets = [BasketFactory(customer=shopper, store=store) for store in (shop.store, second_store())]
    for basket in baskets:
        BasketLineFactory(basket=basket, product=shop.beer, barcode=BEER_EAN)
    raw, _ = issue_token(customer=shopper)
    all_priced_before_any_holds(monkeypatch, 2)

    def attempt(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return checkout(client, baskets[index].pk)

    answers = run_in_parallel(attempt, 2)

    codes = sorted((answer.status_code, answer.json().get("error", {}).get("code")) for answer in answers)
    assert codes == [(201, None), (409, "flash_sale_limit_reached")]
    assert list(Order.objects.values_list("total_fen", flat=True)) == [450]
    assert reservations(customer=shopper) == [(Order.objects.get().pk, 1, "held")] and sold(beer_flash) == 1


def test_a_coupon_covering_the_whole_basket_pays_the_order_at_once_with_no_trade(server, shop):
    shopper = CustomerFactory()
    client = client_for(shopper)
    coupon = coupon_for(shopper, threshold_fen=0, amount_off_fen=10_000)  # more than the 58.65 basket

    response = checkout(client, filled_basket(client, shop.store.pk), [coupon.pk])

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["payment_params"] is None
    assert (body["order"]["state"], body["order"]["total_fen"], body["order"]["payment"]) == ("paid", 0, None)
    order = Order.objects.get(pk=body["order"]["id"])
    assert (order.goods_subtotal_fen, order.discount_fen) == (5865, 5865)
    assert not Payment.objects.filter(order=order).exists()  # no 0-fen trade sent to a provider
    assert status_of(coupon) == ("used", order.pk)
    assert order.basket.status == "checked_out"
    assert client.get(f"/api/v1/orders/{order.pk}/exit-pass").status_code == 200
