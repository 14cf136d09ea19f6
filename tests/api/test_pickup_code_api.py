"""``GET /api/v1/orders/{id}/pickup-code`` and ``pickup-code.png``: the shopper's own paid
pick-up order only; the code is drawn at checkout, 8 digits, free among the store's open
pick-up orders; the image is a QR code an independent decoder reads back to the code."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from checkout import pickup_codes
from checkout.delivery_models import Shipment
from checkout.models import Order
from tests.checkout.delivery_town import checkout, fill_cart, make_town
from tests.checkout.online_orders import online_order
from tests.factories import CustomerFactory, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def town():
    return make_town()


@pytest.fixture
def shopper():
    return CustomerFactory()


def pickup_order(town, shopper, *, paid: bool = True, statuses=("awaiting_pick",)) -> Order:
    order = online_order(
        customer=shopper,
        city=town.city,
        product=town.tea,
        channel=Order.Channel.PICKUP,
        store=town.near_store,
        paid=paid,
        shipments=[(town.near_store, status) for status in statuses],
    )
    pickup_codes.assign_code(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_the_shopper_reads_the_code_of_a_paid_pick_up_order(town, shopper):
    order = pickup_order(town, shopper)

    response = client_for(shopper).get(f"/api/v1/orders/{order.pk}/pickup-code")

    assert response.status_code == 200
    assert response.json() == {
        "code": order.pickup_code,
        "store": {"id": town.near_store.pk, "code": "SHN", "name": "Near Store", "address": "1 Test Road"},
        "ready": False,
        "collected_at": None,
    }
    assert len(order.pickup_code) == 8 and order.pickup_code.isdigit()


@pytest.mark.parametrize(
    ("statuses", "ready"),
    [
        (("ready_for_pickup",), True),
        (("ready_for_pickup", "dispatched"), False),
        (("ready_for_pickup", "cancelled"), True),
        (("cancelled",), False),
    ],
    ids=["all-there", "one-on-its-way", "cancelled-one-ignored", "nothing-coming"],
)
def test_ready_means_every_shipment_reached_the_station(town, shopper, statuses, ready):
    order = pickup_order(town, shopper, statuses=statuses)

    assert client_for(shopper).get(f"/api/v1/orders/{order.pk}/pickup-code").json()["ready"] is ready


def test_the_png_is_a_qr_code_of_the_code(town, shopper):
    order = pickup_order(town, shopper)

    response = client_for(shopper).get(f"/api/v1/orders/{order.pk}/pickup-code.png", HTTP_ACCEPT="image/png")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "private, no-store"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert [(code.format.name, code.text) for code in decoded] == [("QRCode", order.pickup_code)]


@pytest.mark.parametrize("suffix", ["pickup-code", "pickup-code.png"])
def test_another_shoppers_order_is_not_found(town, shopper, suffix):
    order = pickup_order(town, shopper)

    response = client_for(CustomerFactory()).get(f"/api/v1/orders/{order.pk}/{suffix}")

    assert response.status_code == 404
    assert error_code(response) == "order_not_found"
    assert order.pickup_code not in response.content.decode()


def test_an_image_request_for_another_shoppers_order_gets_the_json_error(town, shopper):
    order = pickup_order(town, shopper)

    response = client_for(CustomerFactory()).get(f"/api/v1/orders/{order.pk}/pickup-code.png", HTTP_ACCEPT="image/png")

    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert error_code(response) == "order_not_found"


@pytest.mark.parametrize("suffix", ["pickup-code", "pickup-code.png"])
def test_a_delivery_order_has_no_pick_up_code(town, shopper, suffix):
    order = online_order(customer=shopper, city=town.city, product=town.tea)

    response = client_for(shopper).get(f"/api/v1/orders/{order.pk}/{suffix}")

    assert response.status_code == 409
    assert error_code(response) == "pickup_code_unavailable"
    assert response.json()["error"]["details"] == {"state": "paid", "channel": "delivery"}


def test_an_unpaid_pick_up_order_shows_no_code_yet(town, shopper):
    order = pickup_order(town, shopper, paid=False)

    response = client_for(shopper).get(f"/api/v1/orders/{order.pk}/pickup-code")

    assert response.status_code == 409
    assert error_code(response) == "pickup_code_unavailable"


def test_a_paid_pick_up_order_without_a_code_gets_one_when_asked(town, shopper):
    order = online_order(customer=shopper, city=town.city, product=town.tea, channel="pickup", store=town.near_store)
    assert order.pickup_code == ""

    code = client_for(shopper).get(f"/api/v1/orders/{order.pk}/pickup-code").json()["code"]

    assert Order.objects.get(pk=order.pk).pickup_code == code
    assert client_for(shopper).get(f"/api/v1/orders/{order.pk}/pickup-code").json()["code"] == code


def test_without_a_token_it_is_401(town, shopper, api_client):
    order = pickup_order(town, shopper)

    assert api_client.get(f"/api/v1/orders/{order.pk}/pickup-code").status_code == 401


# --- Drawing the code ---------------------------------------------------------------------


def test_checkout_of_a_pick_up_cart_gives_the_order_its_code(server, town, shopper):
    fill_cart(shopper, town.city, {town.tea: 1})

    response = checkout(client_for(shopper), town.city, pickup_store=town.near_store)

    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["order"]["id"])
    assert len(order.pickup_code) == 8 and order.pickup_code.isdigit()


def test_a_code_held_by_an_open_order_of_the_store_is_drawn_again(town, shopper, monkeypatch):
    first = pickup_order(town, shopper)
    draws = iter([first.pickup_code, first.pickup_code, "04821337"])
    monkeypatch.setattr(pickup_codes, "_draw", lambda: next(draws))

    second = online_order(customer=shopper, city=town.city, product=town.tea, channel="pickup", store=town.near_store)

    assert pickup_codes.assign_code(order_id=second.pk) == "04821337"


def test_a_code_may_repeat_at_another_store_or_once_the_order_is_collected(town, shopper, monkeypatch):
    first = pickup_order(town, shopper)
    monkeypatch.setattr(pickup_codes, "_draw", lambda: first.pickup_code)
    elsewhere = online_order(customer=shopper, city=town.city, product=town.tea, channel="pickup", store=town.warehouse)
    assert pickup_codes.assign_code(order_id=elsewhere.pk) == first.pickup_code

    Order.objects.filter(pk=first.pk).update(delivered_at=first.paid_at)
    Shipment.objects.filter(order=first).update(status="delivered")
    again = online_order(customer=shopper, city=town.city, product=town.tea, channel="pickup", store=town.near_store)

    assert pickup_codes.assign_code(order_id=again.pk) == first.pickup_code


def test_a_delivery_order_gets_no_code(town, shopper):
    order = online_order(customer=shopper, city=town.city, product=town.tea)

    assert pickup_codes.assign_code(order_id=order.pk) == ""
    assert Order.objects.get(pk=order.pk).pickup_code == ""
