"""Checking out a delivery cart: routing, stock and slot reservations, the order and its
shipments, the fee, what a payment or a timeout does, and races on PostgreSQL.

Checkouts go through the API and create their payments at the sandbox over HTTP, as the
scan & pay checkout tests do.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout import payment_jobs, settlement
from checkout.models import CartLine, Order, OrderEvent, Shipment, ShipmentLine, SlotCapacity
from checkout.payments.base import TradeStatus
from miniprogram_api.core import clock
from promotions.coupons import issue_coupons
from promotions.models import Coupon, CouponTemplate
from stores.models import Stock
from tests.checkout.delivery_town import (
    FAR_HOME,
    address_for,
    checkout,
    fill_cart,
    make_town,
    next_slot,
    shanghai,
)
from tests.factories import CityFactory, CustomerFactory, ProductFactory, StockFactory, client_for
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)

DAY = dt.timedelta(days=1)


@pytest.fixture
def town():
    return make_town()


@pytest.fixture
def shopper():
    return CustomerFactory()


def reserved(location, product) -> int:
    return Stock.objects.get(location=location, product=product).reserved


def taken(location, slot_id: str) -> int:
    date, window = slot_id.split("/")
    row = SlotCapacity.objects.filter(location=location, date=date, slot=window).first()
    return row.taken if row else 0


def cart_of(customer, city) -> dict[int, int]:
    return dict(CartLine.objects.filter(cart__customer=customer, cart__city=city).values_list("product_id", "quantity"))


def ordered(response) -> Order:
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["order"]["id"])


def coupon_for(customer, **terms) -> Coupon:
    now = clock.now()
    fields = {
        "name": "满100减5",
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "threshold_fen": 10000,
        "amount_off_fen": 500,
        "valid_from": now - DAY,
        "valid_until": now + 7 * DAY,
        **terms,
    }
    template = CouponTemplate.objects.create(**fields)
    (coupon,) = issue_coupons(template_id=template.pk, customer_id=customer.pk)
    return coupon


def move_clock(monkeypatch, by: dt.timedelta) -> None:
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + by)


# --- A checkout ---------------------------------------------------------------------------


def test_checkout_to_an_address_reserves_the_stock_books_the_slot_and_empties_the_cart(server, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 2, town.tea: 1})
    slot = next_slot(town.city, "15:00-18:00")

    response = checkout(client_for(shopper), town.city, address=home, slot=slot)

    order = ordered(response)
    body = response.json()
    assert body["payment_params"]["package"].startswith("prepay_id=")
    assert (order.channel, order.state, order.city_id, order.store_id) == (
        "delivery",
        "pending_payment",
        town.city.pk,
        None,
    )
    assert (order.slot_date.isoformat(), order.slot) == tuple(slot.split("/"))
    assert order.delivery_address == {
        "address_id": home.pk,
        "recipient": "Li Lei",
        "phone": "13800138000",
        "text": "Room 501, 1 Test Road",
        "city": "shanghai",
        "latitude": "31.230400",
        "longitude": "121.473700",
    }
    # Both products are at the near store, 1 km away: one shipment from it.
    (shipment,) = Shipment.objects.filter(order=order)
    assert (shipment.location_id, shipment.status, shipment.distance_m) == (town.near_store.pk, "pending_payment", 1001)
    assert order.routing["fulfilment"] == "delivery" and order.routing["method"] == "single_location"
    assert reserved(town.near_store, town.milk) == 2 and reserved(town.near_store, town.tea) == 1
    assert reserved(town.warehouse, town.milk) == 0
    assert taken(town.near_store, slot) == 1
    assert cart_of(shopper, town.city) == {}
    # Adjustments and shipment lines name the order's own lines.
    lines = {line["product_id"]: line for line in body["order"]["lines"]}
    assert ShipmentLine.objects.filter(shipment=shipment).count() == 2
    for line in ShipmentLine.objects.filter(shipment=shipment):
        assert lines[line.product_id]["id"] == line.order_line_id
        assert lines[line.product_id]["quantity"] == line.quantity
    assert [a for a in body["order"]["adjustments"] if a["source"] == "delivery_fee"] == [
        {"source": "delivery_fee", "promotion_id": order.adjustments[0]["promotion_id"], "line_id": None,
         "amount_fen": 800, "label": "Delivery fee"}
    ]  # fmt: skip
    assert body["order"]["shipments"] == [
        {
            "id": shipment.pk,
            "location": {"id": town.near_store.pk, "code": "SHN", "name": "Near Store", "kind": "store"},
            "status": "pending_payment",
            "slot_date": order.slot_date.isoformat(),
            "slot": "15:00-18:00",
            "dispatched_at": None,
            "delivered_at": None,
        }
    ]


@pytest.mark.parametrize(
    ("items", "goods_fen", "fee_fen"),
    [
        ({"rice": 2}, 16900, 0),  # exactly the threshold: free
        ({"rice": 1, "milk": 6}, 8450 + 7740, 800),  # 161.90: just below
        ({"milk": 2}, 2580, 800),
    ],
)
def test_delivery_is_free_from_169_rmb_of_goods_and_8_rmb_below(server, town, shopper, items, goods_fen, fee_fen):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {getattr(town, name): quantity for name, quantity in items.items()})

    order = ordered(checkout(client_for(shopper), town.city, address=home))

    assert (order.goods_subtotal_fen, order.delivery_fee_fen, order.total_fen) == (
        goods_fen,
        fee_fen,
        goods_fen + fee_fen,
    )


def test_the_fee_threshold_counts_goods_after_discounts(server, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.rice: 2})
    coupon = coupon_for(shopper)

    order = ordered(checkout(client_for(shopper), town.city, address=home, coupon_ids=[coupon.pk]))

    # 169.00 of rice, 5.00 off: 164.00 of goods is below 169, so the fee applies.
    assert (order.goods_subtotal_fen, order.discount_fen, order.delivery_fee_fen, order.total_fen) == (
        16900,
        500,
        800,
        17200,
    )
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_id) == ("locked", order.pk)


def test_a_coupon_that_does_not_apply_is_refused_and_nothing_is_written(server, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 2})
    in_store_only = coupon_for(shopper, channels=CouponTemplate.Channels.IN_STORE, threshold_fen=0)

    response = checkout(client_for(shopper), town.city, address=home, coupon_ids=[in_store_only.pk])

    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "coupon_not_applicable",
        "message": "A chosen coupon cannot be used on this basket.",
        "details": {str(in_store_only.pk): "wrong_channel"},
    }
    assert not Order.objects.exists() and reserved(town.near_store, town.milk) == 0
    assert cart_of(shopper, town.city) == {town.milk.pk: 2}


def test_a_cart_no_single_location_can_send_ships_from_two_and_reserves_at_both(server, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.tea: 2, town.oil: 1})  # tea only at the store, oil only at the warehouse
    slot = next_slot(town.city)

    order = ordered(checkout(client_for(shopper), town.city, address=home, slot=slot))

    shipments = list(Shipment.objects.filter(order=order).order_by("distance_m"))
    assert [(s.location_id, s.distance_m, s.slot) for s in shipments] == [
        (town.near_store.pk, 1001, "09:00-12:00"),
        (town.warehouse.pk, 5004, "09:00-12:00"),
    ]
    assert [list(ShipmentLine.objects.filter(shipment=s).values_list("product_id", "quantity")) for s in shipments] == [
        [(town.tea.pk, 2)],
        [(town.oil.pk, 1)],
    ]
    assert reserved(town.near_store, town.tea) == 2 and reserved(town.warehouse, town.oil) == 1
    assert taken(town.near_store, slot) == 1 and taken(town.warehouse, slot) == 1
    assert order.routing["method"] == "exact_search"
    assert [row["code"] for row in order.routing["candidates"] if row["decision"] == "chosen"] == ["SHN", "SHW"]


def test_pick_up_routes_to_the_store_and_owes_no_delivery_fee(server, town, shopper):
    fill_cart(shopper, town.city, {town.oil: 1, town.milk: 1})  # only the warehouse has oil

    response = checkout(client_for(shopper), town.city, pickup_store=town.near_store)

    order = ordered(response)
    assert (order.channel, order.store_id, order.delivery_address, order.delivery_fee_fen) == (
        "pickup",
        town.near_store.pk,
        None,
        0,
    )
    assert order.total_fen == 8900 + 1290
    # The warehouse is 4 km from the store (the address routing measured from).
    (shipment,) = Shipment.objects.filter(order=order)
    assert (shipment.location_id, shipment.distance_m) == (town.warehouse.pk, 4003)
    assert order.routing["fulfilment"] == "pickup" and order.routing["pickup_store_id"] == town.near_store.pk
    assert response.json()["order"]["store"]["code"] == "SHN"


# --- Refusals -----------------------------------------------------------------------------


def assert_refused(response, status: int, code: str, shopper, town, cart: dict) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert not Order.objects.exists() and not Shipment.objects.exists()
    assert not Stock.objects.filter(reserved__gt=0).exists()
    assert not SlotCapacity.objects.filter(taken__gt=0).exists()
    assert cart_of(shopper, town.city) == cart
    return error


def test_pick_up_at_a_store_without_a_station_is_refused(town, shopper):
    fill_cart(shopper, town.city, {town.milk: 1})

    response = checkout(client_for(shopper), town.city, pickup_store=town.plain_store)

    assert_refused(response, 422, "no_pickup_station", shopper, town, {town.milk.pk: 1})


def test_an_address_in_another_city_is_refused(town, shopper):
    beijing = CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")
    office = address_for(shopper, beijing, ("39.908700", "116.460500"))
    fill_cart(shopper, town.city, {town.milk: 1})

    response = checkout(client_for(shopper), town.city, address=office)

    error = assert_refused(response, 422, "address_in_other_city", shopper, town, {town.milk.pk: 1})
    assert error["details"] == {"address_id": office.pk, "city": "beijing"}


def test_another_shoppers_address_is_not_found(town, shopper):
    theirs = address_for(CustomerFactory(), town.city)
    fill_cart(shopper, town.city, {town.milk: 1})

    response = checkout(client_for(shopper), town.city, address=theirs)

    assert_refused(response, 404, "address_not_found", shopper, town, {town.milk.pk: 1})


def test_a_slot_the_cut_off_has_passed_is_refused(monkeypatch, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 1})
    client = client_for(shopper)
    monkeypatch.setattr(clock, "now", lambda: shanghai(2026, 11, 22, 21, 59, 59))
    listed = client.get(f"/api/v1/delivery/slots?address_id={home.pk}").json()["options"][0]["id"]
    assert listed == "2026-11-23/09:00-12:00"
    monkeypatch.setattr(clock, "now", lambda: shanghai(2026, 11, 22, 22, 0, 0))

    response = checkout(client, town.city, address=home, slot=listed)

    error = assert_refused(response, 422, "slot_unavailable", shopper, town, {town.milk.pk: 1})
    assert error["details"] == {"slot": listed, "delivery_date": "2026-11-24", "reason": "past"}


def test_an_empty_cart_is_refused(town, shopper):
    home = address_for(shopper, town.city)

    response = checkout(client_for(shopper), town.city, address=home)

    assert_refused(response, 422, "cart_empty", shopper, town, {})


def test_what_no_location_has_is_out_of_stock_and_nothing_is_reserved(town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 2, town.tea: 51})  # 50 teas in the city

    response = checkout(client_for(shopper), town.city, address=home)

    error = assert_refused(response, 409, "out_of_stock", shopper, town, {town.milk.pk: 2, town.tea.pk: 51})
    assert error["details"] == {"product_ids": [town.tea.pk]}


def test_a_full_slot_is_refused_and_the_stock_stays_free(server, town):
    town.near_store.slot_capacity = 1
    town.near_store.save()
    first, second = CustomerFactory(), CustomerFactory()
    slot = next_slot(town.city)
    for shopper in (first, second):
        fill_cart(shopper, town.city, {town.tea: 1})
    ordered(checkout(client_for(first), town.city, address=address_for(first, town.city), slot=slot))

    response = checkout(client_for(second), town.city, address=address_for(second, town.city), slot=slot)

    assert response.status_code == 409 and response.json()["error"]["code"] == "slot_full"
    assert reserved(town.near_store, town.tea) == 1 and taken(town.near_store, slot) == 1
    assert Order.objects.count() == 1 and cart_of(second, town.city) == {town.tea.pk: 1}


# --- Express ------------------------------------------------------------------------------


def test_express_ships_within_the_hour_from_the_store_nearby(server, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 1, town.tea: 1})

    order = ordered(checkout(client_for(shopper), town.city, address=home, slot="express"))

    assert (order.slot_date, order.slot, order.routing["fulfilment"]) == (clock.local_today(), "express", "express")
    (shipment,) = Shipment.objects.filter(order=order)
    assert (shipment.location_id, shipment.slot) == (town.near_store.pk, "express")
    assert SlotCapacity.objects.get(location=town.near_store, slot="express").taken == 1


def test_express_farther_than_5_km_is_refused(town, shopper):
    far = address_for(shopper, town.city, FAR_HOME)
    fill_cart(shopper, town.city, {town.milk: 1})

    response = checkout(client_for(shopper), town.city, address=far, slot="express")

    error = assert_refused(response, 422, "slot_unavailable", shopper, town, {town.milk.pk: 1})
    assert error["details"]["reason"] == "express_unavailable"


# --- Payment, timeout, retries ------------------------------------------------------------


def test_paying_sends_the_shipments_to_be_picked(server, town, shopper):
    fill_cart(shopper, town.city, {town.tea: 1, town.oil: 1})
    order = ordered(checkout(client_for(shopper), town.city, address=address_for(shopper, town.city)))

    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]

    order.refresh_from_db()
    assert order.state == Order.State.PAID
    assert list(Shipment.objects.filter(order=order).values_list("status", flat=True)) == ["awaiting_pick"] * 2
    # Paid stock stays reserved until dispatch consumes it.
    assert reserved(town.near_store, town.tea) == 1 and reserved(town.warehouse, town.oil) == 1


def test_an_order_unpaid_in_time_gives_back_its_stock_and_slots_and_its_lines_return_to_the_cart(
    server, monkeypatch, town, shopper
):
    fill_cart(shopper, town.city, {town.tea: 2, town.oil: 1})
    slot = next_slot(town.city)
    order = ordered(checkout(client_for(shopper), town.city, address=address_for(shopper, town.city), slot=slot))
    fill_cart(shopper, town.city, {town.tea: 1, town.milk: 3})  # shopping on meanwhile
    move_clock(monkeypatch, dt.timedelta(minutes=16))  # past the 15-minute payment deadline

    assert payment_jobs.close_expired_orders() == 1
    assert payment_jobs.close_expired_orders() == 0

    assert Order.objects.get(pk=order.pk).state == Order.State.CLOSED
    assert reserved(town.near_store, town.tea) == 0 and reserved(town.warehouse, town.oil) == 0
    assert taken(town.near_store, slot) == 0 and taken(town.warehouse, slot) == 0
    shipments = Shipment.objects.filter(order=order)
    assert [s.status for s in shipments] == ["cancelled", "cancelled"]
    assert all(s.stock_released_at is not None for s in shipments)
    assert cart_of(shopper, town.city) == {town.tea.pk: 3, town.milk.pk: 3, town.oil.pk: 1}
    assert OrderEvent.objects.filter(order=order, type="shipments_released").count() == 1


def test_a_payment_after_the_timeout_pays_the_order_and_flags_its_released_shipments_for_staff(
    server, monkeypatch, town, shopper
):
    fill_cart(shopper, town.city, {town.tea: 2})
    order = ordered(checkout(client_for(shopper), town.city, address=address_for(shopper, town.city)))
    move_clock(monkeypatch, dt.timedelta(minutes=16))
    assert payment_jobs.close_expired_orders() == 1
    late = TradeStatus(
        out_trade_no=order.number,
        state="paid",
        amount_fen=order.total_fen,
        provider_trade_id="4200001234202611220000000077",
        paid_at=clock.now(),
    )

    assert settlement.apply_trade_status(provider="wechat_pay", status=late, source="notification").outcome == "paid"

    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    # The stock went back and may be another order's now: staff re-route or refund.
    assert list(Shipment.objects.filter(order=order).values_list("status", flat=True)) == ["cancelled"]
    assert reserved(town.near_store, town.tea) == 0
    event = OrderEvent.objects.get(order=order, type="shipments_released_before_payment")
    assert event.data == {"shipment_ids": [Shipment.objects.get(order=order).pk]}


def test_a_retried_checkout_returns_the_first_order(server, town, shopper):
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 2})
    client = client_for(shopper)

    first = checkout(client, town.city, address=home, key="cart-1")
    replay = checkout(client, town.city, address=home, key="cart-1")
    again = checkout(client, town.city, address=home)  # no key: the cart is empty, the order pending
    other_slot = checkout(client, town.city, address=home, slot=next_slot(town.city, "18:00-21:00"))

    order = ordered(first)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert again.status_code == 201 and again.json()["order"]["id"] == order.pk
    assert again.json()["payment_params"] == first.json()["payment_params"]
    assert other_slot.status_code == 422 and other_slot.json()["error"]["code"] == "cart_empty"
    assert Order.objects.count() == 1 and reserved(town.near_store, town.milk) == 2


# Token, idempotency-free request, cart lock and lines, address, pricing's promotions,
# routing (2), stock lock and update (2), slot capacity (get_or_create and update), the
# order, its lines, payment and event, shipments (3), holds, clearing the cart, reading the
# order back and the provider's client params: the same for 1 line or 200.
CHECKOUT_QUERIES = 40


def test_checkout_queries_do_not_grow_with_the_lines(server, town, django_assert_max_num_queries):
    products = [ProductFactory() for _ in range(20)]
    for product in products:
        StockFactory(location=town.near_store, product=product, on_hand=10)
    counts = []
    # A slot of its own each, so both checkouts create their slot's capacity row.
    for size, window in ((1, "09:00-12:00"), (20, "12:00-15:00")):
        shopper = CustomerFactory()
        home = address_for(shopper, town.city)
        fill_cart(shopper, town.city, dict.fromkeys(products[:size], 2))
        client = client_for(shopper)
        slot = next_slot(town.city, window)
        with django_assert_max_num_queries(CHECKOUT_QUERIES), CaptureQueriesContext(connection) as queries:
            ordered(checkout(client, town.city, address=home, slot=slot))
        counts.append(len(queries))

    assert counts[0] == counts[1], counts


# --- Races on PostgreSQL ------------------------------------------------------------------


def _shoppers_with_carts(town, n: int, items) -> list[tuple]:
    shoppers = []
    for _ in range(n):
        shopper = CustomerFactory()
        fill_cart(shopper, town.city, items)
        shoppers.append((client_for(shopper), address_for(shopper, town.city)))
    return shoppers


@pytest.mark.postgres
def test_twenty_checkouts_for_the_last_five_units_sell_five(server, town):
    Stock.objects.filter(product=town.milk).update(on_hand=0)
    Stock.objects.filter(location=town.warehouse, product=town.milk).update(on_hand=5)
    shoppers = _shoppers_with_carts(town, 20, {town.milk: 1})
    slot = next_slot(town.city)

    def buy(index: int):
        client, home = shoppers[index]
        response = checkout(client, town.city, address=home, slot=slot)
        return response.status_code, response.json().get("error", {}).get("code")

    results = run_in_parallel(buy, 20)

    assert Counter(results) == {(201, None): 5, (409, "out_of_stock"): 15}
    assert Order.objects.count() == 5 and ShipmentLine.objects.count() == 5
    assert Stock.objects.get(location=town.warehouse, product=town.milk).reserved == 5
    assert taken(town.warehouse, slot) == 5


@pytest.mark.postgres
def test_a_slot_for_three_takes_three_of_ten_concurrent_checkouts(server, town):
    town.near_store.slot_capacity = 3
    town.near_store.save()
    shoppers = _shoppers_with_carts(town, 10, {town.tea: 1})
    slot = next_slot(town.city, "18:00-21:00")

    def buy(index: int):
        client, home = shoppers[index]
        response = checkout(client, town.city, address=home, slot=slot)
        return response.status_code, response.json().get("error", {}).get("code")

    results = run_in_parallel(buy, 10)

    assert Counter(results) == {(201, None): 3, (409, "slot_full"): 7}
    assert Order.objects.count() == 3 and taken(town.near_store, slot) == 3
    assert Stock.objects.get(location=town.near_store, product=town.tea).reserved == 3
    # The refused shoppers keep their carts.
    assert CartLine.objects.count() == 7
