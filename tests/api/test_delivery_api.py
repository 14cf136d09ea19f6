"""The delivery slot list and cart checkout at the HTTP edge: shapes, the cut-off, bad
input, owner scoping, and delivery orders in the order list."""

from __future__ import annotations

import pytest

from checkout.models import Order
from miniprogram_api.core import clock
from tests.checkout.delivery_town import FAR_HOME, address_for, checkout, fill_cart, make_town, shanghai
from tests.factories import CityFactory, CustomerFactory

WINDOWS = ["09:00-12:00", "12:00-15:00", "15:00-18:00", "18:00-21:00"]


@pytest.fixture
def town(db):
    return make_town()


def slots(client, **params):
    return client.get("/api/v1/delivery/slots", params)


def at(monkeypatch, moment) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


# --- The slot list ------------------------------------------------------------------------


def test_the_slot_list_before_the_cut_off_offers_tomorrow_express_and_pick_up(monkeypatch, auth_client, town):
    at(monkeypatch, shanghai(2026, 11, 22, 21, 59, 59))
    home = address_for(auth_client.customer, town.city)
    fill_cart(auth_client.customer, town.city, {town.milk: 1})

    response = slots(auth_client, address_id=home.pk)

    assert response.status_code == 200
    body = response.json()
    assert (body["delivery_date"], body["cutoff"], body["unavailable_product_ids"]) == ("2026-11-23", "22:00", [])
    store = {"id": town.near_store.pk, "code": "SHN", "name": "Near Store", "address": "1 Test Road"}
    assert body["options"] == [
        *(
            {"id": f"2026-11-23/{w}", "kind": "next_day", "date": "2026-11-23", "window": w, "remaining": 40,
             "store": None}
            for w in WINDOWS
        ),
        {"id": "express", "kind": "express", "date": "2026-11-22", "window": "21:59-22:59", "remaining": 40,
         "store": {**store, "distance_m": 1001}},
        *(
            {"id": f"2026-11-23/{w}", "kind": "pickup", "date": "2026-11-23", "window": w, "remaining": 40,
             "store": {**store, "distance_m": 1001}}
            for w in WINDOWS
        ),
    ]  # fmt: skip


def test_from_22_00_00_the_slot_list_offers_the_day_after(monkeypatch, auth_client, town):
    at(monkeypatch, shanghai(2026, 11, 22, 22, 0, 0))
    home = address_for(auth_client.customer, town.city, FAR_HOME)

    body = slots(auth_client, address_id=home.pk).json()

    assert body["delivery_date"] == "2026-11-24"
    assert {(o["kind"], o["date"]) for o in body["options"]} == {("next_day", "2026-11-24"), ("pickup", "2026-11-24")}


def test_the_slot_list_for_a_pick_up_store(monkeypatch, auth_client, town):
    at(monkeypatch, shanghai(2026, 11, 22, 8, 0))

    response = slots(auth_client, pickup_store_id=town.near_store.pk, city="shanghai")

    assert response.status_code == 200
    assert [(o["id"], o["kind"], o["store"]["distance_m"]) for o in response.json()["options"]] == [
        (f"2026-11-23/{w}", "pickup", None) for w in WINDOWS
    ]


def test_another_shoppers_address_is_not_found(auth_client, town):
    theirs = address_for(CustomerFactory(), town.city)

    for address_id in (theirs.pk, 99_999_999):
        response = slots(auth_client, address_id=address_id)
        assert response.status_code == 404 and response.json()["error"]["code"] == "address_not_found"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"address_id": "abc"},
        {"address_id": "0"},
        {"address_id": str(2**63)},
        {"pickup_store_id": "1"},  # no city
        {"address_id": "1", "pickup_store_id": "1", "city": "shanghai"},
    ],
)
def test_bad_slot_list_parameters_are_400(auth_client, town, params):
    response = slots(auth_client, **params)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_pick_up_slot_errors(auth_client, town):
    unknown_city = slots(auth_client, pickup_store_id=town.near_store.pk, city="atlantis")
    no_station = slots(auth_client, pickup_store_id=town.plain_store.pk, city="shanghai")
    warehouse = slots(auth_client, pickup_store_id=town.warehouse.pk, city="shanghai")

    assert (unknown_city.status_code, unknown_city.json()["error"]["code"]) == (400, "unknown_city")
    assert (no_station.status_code, no_station.json()["error"]["code"]) == (422, "no_pickup_station")
    assert (warehouse.status_code, warehouse.json()["error"]["code"]) == (404, "store_not_found")


# --- Checkout input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address_id": None}, "non_field_errors"),  # neither address nor store
        ({"pickup_store_id": 1}, "non_field_errors"),  # both
        ({"slot": None}, "slot"),
        ({"slot": 9}, "slot"),
        ({"city": None}, "city"),
        ({"address_id": "1"}, "address_id"),
        ({"payment_method": "cash"}, "payment_method"),
        ({"coupon_ids": [1, 1]}, "coupon_ids"),
        ({"coupon_ids": [1, 2, 3]}, "coupon_ids"),
    ],
)
def test_bad_checkout_input_is_400_and_writes_nothing(auth_client, town, change, field):
    home = address_for(auth_client.customer, town.city)
    fill_cart(auth_client.customer, town.city, {town.milk: 1})
    body = {"city": "shanghai", "address_id": home.pk, "slot": "express", "payment_method": "wechat_pay", **change}
    body = {key: value for key, value in body.items() if value is not None}

    response = auth_client.post("/api/v1/cart/checkout", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error" and field in response.json()["error"]["details"]
    assert not Order.objects.exists()


def test_checkout_in_an_unknown_city_is_400(auth_client, town):
    home = address_for(auth_client.customer, town.city)
    body = {"city": "atlantis", "address_id": home.pk, "slot": "express", "payment_method": "wechat_pay"}

    response = auth_client.post("/api/v1/cart/checkout", body, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "unknown_city")


def test_checkout_with_an_address_of_another_city_is_422(auth_client, town):
    beijing = CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")
    office = address_for(auth_client.customer, beijing, ("39.908700", "116.460500"))
    fill_cart(auth_client.customer, town.city, {town.milk: 1})

    response = checkout(auth_client, town.city, address=office)

    assert (response.status_code, response.json()["error"]["code"]) == (422, "address_in_other_city")


# --- Delivery orders in the order list ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_delivery_orders_show_their_slot_address_and_shipments_in_constant_queries(
    server, auth_client, django_assert_num_queries
):
    town = make_town()
    home = address_for(auth_client.customer, town.city)
    fill_cart(auth_client.customer, town.city, {town.tea: 1, town.oil: 1})  # two shipments
    first = checkout(auth_client, town.city, address=home).json()["order"]["id"]
    with django_assert_num_queries(7):  # token, count, page, lines, payments, shipments, returns
        auth_client.get("/api/v1/orders")
    for _ in range(3):
        fill_cart(auth_client.customer, town.city, {town.milk: 1, town.oil: 1})
        assert checkout(auth_client, town.city, pickup_store=town.near_store).status_code == 201

    with django_assert_num_queries(7):
        results = auth_client.get("/api/v1/orders").json()["results"]

    assert len(results) == 4
    detail = auth_client.get(f"/api/v1/orders/{first}").json()
    assert detail == next(order for order in results if order["id"] == first)
    assert (detail["channel"], detail["city"], detail["slot"]) == ("delivery", "shanghai", "09:00-12:00")
    assert detail["delivery_address"]["address_id"] == home.pk
    assert [(s["location"]["code"], s["status"], s["slot"]) for s in detail["shipments"]] == [
        ("SHN", "pending_payment", "09:00-12:00"),
        ("SHW", "pending_payment", "09:00-12:00"),
    ]
    assert all(o["shipments"] and o["store"]["code"] == "SHN" for o in results if o["channel"] == "pickup")
