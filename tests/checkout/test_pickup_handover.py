"""Handing a pick-up order over at the station: by its code, at its store, once, only when
everything has arrived; the shipments become delivered, the order's return window starts
and the shopper is told. Through the service and through the admin form staff use."""

from __future__ import annotations

import pytest
from django.test import Client

from checkout import pickup_codes
from checkout.delivery_models import Notification, Shipment
from checkout.models import Order, OrderEvent
from miniprogram_api.accounts.models import Customer
from tests.checkout.delivery_town import make_town
from tests.checkout.online_orders import online_order
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HANDOVER_URL = "/admin/checkout/order/pickup-handover/"


@pytest.fixture
def town():
    return make_town()


@pytest.fixture
def shopper():
    return CustomerFactory()


@pytest.fixture
def staff() -> Client:
    boss = Customer.objects.create_superuser("station", "a-strong-password")
    client = Client()
    client.force_login(boss)
    client.user = boss
    return client


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    """The messages themselves are the notification tests' business: here, only that one
    is written."""
    from checkout import tasks

    monkeypatch.setattr(tasks.send_notification, "delay", lambda notification_id: None)


def pickup_order(town, shopper, *statuses: str, store=None) -> Order:
    store = store or town.near_store
    order = online_order(
        customer=shopper,
        city=town.city,
        product=town.tea,
        channel="pickup",
        store=store,
        shipments=[(store, status) for status in statuses or ("ready_for_pickup",)],
    )
    pickup_codes.assign_code(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def statuses(order: Order) -> list[str]:
    return list(Shipment.objects.filter(order=order).values_list("status", flat=True))


# --- The service --------------------------------------------------------------------------


def test_handing_over_delivers_the_shipments_starts_the_return_window_and_tells_the_shopper(town, shopper):
    order = pickup_order(town, shopper, "ready_for_pickup", "ready_for_pickup", "cancelled")

    handed = pickup_codes.hand_over(store_id=town.near_store.pk, code=order.pickup_code, staff_id=7)

    order.refresh_from_db()
    assert handed.pk == order.pk and order.delivered_at is not None
    assert statuses(order) == ["delivered", "delivered", "cancelled"]
    assert all(s.delivered_at == order.delivered_at for s in Shipment.objects.filter(order=order, status="delivered"))
    event = OrderEvent.objects.get(order=order, type="collected_at_station")
    assert event.data["staff_id"] == 7 and event.data["store_id"] == town.near_store.pk
    assert list(Notification.objects.values_list("order_id", "kind")) == [(order.pk, "delivered")]


def test_a_second_hand_over_is_refused_and_changes_nothing(town, shopper):
    order = pickup_order(town, shopper)
    pickup_codes.hand_over(store_id=town.near_store.pk, code=order.pickup_code)
    first = Order.objects.get(pk=order.pk).delivered_at

    with pytest.raises(pickup_codes.AlreadyCollected):
        pickup_codes.hand_over(store_id=town.near_store.pk, code=order.pickup_code)

    assert Order.objects.get(pk=order.pk).delivered_at == first
    assert OrderEvent.objects.filter(order=order, type="collected_at_station").count() == 1
    assert Notification.objects.count() == 1


def test_an_order_not_all_at_the_station_is_not_handed_over(town, shopper):
    order = pickup_order(town, shopper, "ready_for_pickup", "dispatched")

    with pytest.raises(pickup_codes.PickupNotReady) as refused:
        pickup_codes.hand_over(store_id=town.near_store.pk, code=order.pickup_code)

    assert sorted(refused.value.details["shipments"].values()) == ["dispatched", "ready_for_pickup"]
    assert statuses(order) == ["ready_for_pickup", "dispatched"]
    assert Order.objects.get(pk=order.pk).delivered_at is None


@pytest.mark.parametrize("code", ["00000000", "1234", "abcdefgh", ""])
def test_an_unknown_code_is_not_found(town, shopper, code):
    pickup_order(town, shopper)

    with pytest.raises(pickup_codes.PickupCodeNotFound):
        pickup_codes.hand_over(store_id=town.near_store.pk, code=code)


def test_the_code_works_only_at_the_orders_store(town, shopper):
    order = pickup_order(town, shopper)

    with pytest.raises(pickup_codes.PickupCodeNotFound):
        pickup_codes.hand_over(store_id=town.plain_store.pk, code=order.pickup_code)

    assert Order.objects.get(pk=order.pk).delivered_at is None


def test_an_unpaid_or_closed_order_is_not_handed_over(town, shopper):
    order = pickup_order(town, shopper)
    Order.objects.filter(pk=order.pk).update(state="closed")

    with pytest.raises(pickup_codes.PickupCodeNotFound):
        pickup_codes.hand_over(store_id=town.near_store.pk, code=order.pickup_code)


def test_two_open_orders_sharing_a_code_are_refused_as_ambiguous(town, shopper):
    first = pickup_order(town, shopper)
    second = pickup_order(town, CustomerFactory())
    Order.objects.filter(pk=second.pk).update(pickup_code=first.pickup_code)  # the one-in-10^8 race

    with pytest.raises(pickup_codes.PickupCodeAmbiguous) as refused:
        pickup_codes.hand_over(store_id=town.near_store.pk, code=first.pickup_code)

    assert sorted(refused.value.details["orders"]) == sorted([first.number, second.number])


# --- The admin form -----------------------------------------------------------------------


def test_the_order_list_links_to_the_hand_over_form(staff):
    page = staff.get("/admin/checkout/order/").content.decode()

    assert HANDOVER_URL in page


def test_staff_hand_over_by_code_and_the_form_keeps_their_store(staff, town, shopper):
    order = pickup_order(town, shopper)

    response = staff.post(HANDOVER_URL, {"store": town.near_store.pk, "code": order.pickup_code})

    assert response.status_code == 302
    assert response["Location"] == f"{HANDOVER_URL}?store={town.near_store.pk}"
    assert Order.objects.get(pk=order.pk).delivered_at is not None
    assert OrderEvent.objects.get(order=order, type="collected_at_station").data["staff_id"] == staff.user.pk
    page = staff.get(response["Location"]).content.decode()
    assert f"Order {order.number} handed over" in page
    assert f'<option value="{town.near_store.pk}" selected>' in page


@pytest.mark.parametrize(
    ("statuses", "code", "message"),
    [
        (("dispatched",), None, "Not every shipment of this order has reached the pick-up station yet."),
        (("ready_for_pickup",), "99999999", "No open pick-up order at this store has this code."),
        (("ready_for_pickup",), "12ab", "The code is 8 digits."),
    ],
    ids=["not-ready", "unknown", "malformed"],
)
def test_the_form_says_why_an_order_is_not_handed_over(staff, town, shopper, statuses, code, message):
    order = pickup_order(town, shopper, *statuses)

    response = staff.post(HANDOVER_URL, {"store": town.near_store.pk, "code": code or order.pickup_code})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Order.objects.get(pk=order.pk).delivered_at is None


def test_only_stores_with_a_station_are_offered(staff, town):
    page = staff.get(HANDOVER_URL).content.decode()

    assert "Near Store" in page
    assert "Plain Store" not in page and "Pudong Warehouse" not in page


def test_staff_without_the_right_to_change_orders_cannot_hand_over(town, shopper):
    clerk = Customer.objects.create_user("clerk", "a-strong-password", is_staff=True)
    client = Client()
    client.force_login(clerk)
    order = pickup_order(town, shopper)

    response = client.post(HANDOVER_URL, {"store": town.near_store.pk, "code": order.pickup_code})

    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).delivered_at is None
