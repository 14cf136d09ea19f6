"""Fulfilment: pick lists after the cut-off, dispatch at the lead time with a courier that
has room, stock consumed once, pick-up at the station, courier events (out of order,
failed and retried, delivered), tasks that run twice, and two dispatchers at once.

Times are Shanghai wall-clock: the shipments are for 2026-11-23, the cut-off is the
evening before.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from checkout import courier_events, fulfilment, tasks
from checkout.couriers.base import Stop
from checkout.couriers.local import LocalCourierProvider
from checkout.models import CourierEvent, Notification, Order, OrderEvent, PickList, Shipment
from miniprogram_api.core import clock
from stores.models import Stock
from tests.checkout.delivery_town import make_town, shanghai
from tests.checkout.fulfilment_orders import courier_in, paid_order, shipment_of
from tests.factories import CityFactory, CustomerFactory
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
TODAY = dt.date(2026, 11, 22)
TOMORROW = TODAY + DAY
CUT_OFF = shanghai(2026, 11, 22, 22, 0, 0)


@pytest.fixture
def town():
    return make_town()


@pytest.fixture
def shopper():
    return CustomerFactory()


@pytest.fixture(autouse=True)
def courier_record():
    LocalCourierProvider.forget()
    yield LocalCourierProvider
    LocalCourierProvider.forget()


@pytest.fixture
def clock_at(monkeypatch):
    def move(moment: dt.datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return move


def stock(location, product) -> tuple[int, int]:
    row = Stock.objects.get(location=location, product=product)
    return row.on_hand, row.reserved


def event_types(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).values_list("type", flat=True))


def status_of(order: Order, location=None) -> str:
    return shipment_of(order, location).status


def courier_event(shipment: Shipment, kind: str, at: dt.datetime, event_id: str | None = None, **payload):
    return courier_events.apply_courier_event(
        event_id=event_id or f"{kind}-{shipment.pk}-{at:%H%M%S}",
        tracking_no=Shipment.objects.get(pk=shipment.pk).tracking_no,
        kind=kind,
        occurred_at=at,
        payload=payload,
    )


def tomorrow_at_nine(town, customer=None, **sends):
    return paid_order(
        customer or CustomerFactory(),
        town,
        sends=sends.get("sends") or [(town.near_store, {town.milk: 1})],
        slot_date=TOMORROW,
        slot="09:00-12:00",
        pickup_store=sends.get("pickup_store"),
    )


# --- Pick lists ---------------------------------------------------------------------------


def test_tomorrows_shipments_go_on_pick_lists_only_once_the_cut_off_has_passed(town, shopper):
    morning = paid_order(
        shopper,
        town,
        sends=[(town.near_store, {town.milk: 2}), (town.warehouse, {town.oil: 1})],
        slot_date=TOMORROW,
        slot="09:00-12:00",
    )
    evening = paid_order(
        CustomerFactory(), town, sends=[(town.near_store, {town.tea: 1})], slot_date=TOMORROW, slot="18:00-21:00"
    )
    day_after = paid_order(
        CustomerFactory(), town, sends=[(town.near_store, {town.tea: 1})], slot_date=TOMORROW + DAY, slot="09:00-12:00"
    )

    assert fulfilment.build_pick_lists(now=shanghai(2026, 11, 22, 21, 59, 59)) == 0
    assert set(Shipment.objects.values_list("status", flat=True)) == {"awaiting_pick"}
    assert not PickList.objects.exists()

    assert fulfilment.build_pick_lists(now=CUT_OFF) == 3

    near, warehouse = town.near_store.pk, town.warehouse.pk
    assert {
        (pick_list.location_id, pick_list.slot_date, pick_list.slot): set(
            pick_list.shipments.values_list("pk", flat=True)
        )
        for pick_list in PickList.objects.all()
    } == {
        (near, TOMORROW, "09:00-12:00"): {shipment_of(morning, town.near_store).pk},
        (warehouse, TOMORROW, "09:00-12:00"): {shipment_of(morning, town.warehouse).pk},
        (near, TOMORROW, "18:00-21:00"): {shipment_of(evening).pk},
    }
    assert [status_of(morning, town.near_store), status_of(evening), status_of(day_after)] == [
        "picking",
        "picking",
        "awaiting_pick",
    ]
    assert event_types(morning).count("shipment_picking") == 2


def test_a_shipment_paid_after_the_run_joins_its_pick_list_on_the_next_run(town, shopper):
    first = tomorrow_at_nine(town, shopper)
    assert fulfilment.build_pick_lists(now=CUT_OFF) == 1
    paid_late = tomorrow_at_nine(town)  # checked out at 21:59, paid at 22:03

    assert fulfilment.build_pick_lists(now=CUT_OFF + dt.timedelta(minutes=4)) == 1
    assert fulfilment.build_pick_lists(now=CUT_OFF + dt.timedelta(minutes=5)) == 0

    assert shipment_of(paid_late).pick_list_id == shipment_of(first).pick_list_id
    assert PickList.objects.count() == 1


def test_each_city_batches_at_its_own_cut_off(town, shopper):
    town.city.delivery_cutoff = dt.time(20, 0)
    town.city.save()
    order = tomorrow_at_nine(town, shopper)

    assert fulfilment.build_pick_lists(now=shanghai(2026, 11, 22, 19, 59, 59)) == 0
    assert fulfilment.build_pick_lists(now=shanghai(2026, 11, 22, 20, 0)) == 1
    assert status_of(order) == "picking"


def test_express_goes_on_a_pick_list_at_once(town, shopper):
    order = paid_order(shopper, town, sends=[(town.near_store, {town.tea: 1})], slot_date=TODAY, slot="express")

    assert fulfilment.build_pick_lists(now=shanghai(2026, 11, 22, 10, 0)) == 1

    shipment = shipment_of(order)
    assert (shipment.status, shipment.pick_list.slot, shipment.pick_list.slot_date) == ("picking", "express", TODAY)


# --- Dispatch -----------------------------------------------------------------------------


def test_a_shipment_is_dispatched_when_its_slot_starts_within_the_lead_time(town, shopper, courier_record):
    rider = courier_in(town.city)
    order = tomorrow_at_nine(town, shopper, sends=[(town.near_store, {town.milk: 2, town.tea: 1})])
    fulfilment.build_pick_lists(now=CUT_OFF)

    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 7, 59, 59)) == 0
    assert status_of(order) == "picking" and not courier_record.sent
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0)) == 1

    shipment = shipment_of(order)
    (request,) = courier_record.sent
    assert (shipment.status, shipment.courier_id, shipment.attempts) == ("dispatched", rider.pk, 1)
    assert shipment.dispatched_at == shanghai(2026, 11, 23, 8, 0)
    assert shipment.tracking_no == LocalCourierProvider.tracking_no_for(f"{shipment.pk}-1")
    assert (request.reference, request.order_number, request.courier_ref) == (
        f"{shipment.pk}-1",
        order.number,
        "rider-wang-wei",
    )
    assert request.origin == Stop(
        name="Near Store", phone="", address="1 Test Road", latitude="31.239400", longitude="121.473700"
    )
    assert request.destination == Stop(
        name="Li Lei",
        phone="13800138000",
        address="Room 501, 1 Test Road",
        latitude="31.230400",
        longitude="121.473700",
    )
    assert (request.window_start, request.window_end) == (shanghai(2026, 11, 23, 9), shanghai(2026, 11, 23, 12))
    assert sorted((item.sku, item.quantity) for item in request.items) == [("200001", 2), ("200004", 1)]
    event = OrderEvent.objects.get(order=order, type="shipment_dispatched")
    assert event.data == {
        "shipment_id": shipment.pk,
        "courier_id": rider.pk,
        "courier": "Wang Wei",
        "tracking_no": shipment.tracking_no,
        "attempt": 1,
    }


def test_the_lead_time_is_a_setting(town, shopper, settings):
    settings.DISPATCH_LEAD_MINUTES = 20
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper)
    fulfilment.build_pick_lists(now=CUT_OFF)

    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 39)) == 0
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 40)) == 1
    assert status_of(order) == "dispatched"


def test_a_shipment_not_yet_on_a_pick_list_is_not_dispatched(town, shopper):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper)  # paid, but the pick lists were not built

    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 30)) == 0
    assert status_of(order) == "awaiting_pick"


def test_express_is_dispatched_at_once_without_waiting_for_a_pick_list(town, shopper):
    courier_in(town.city)
    order = paid_order(shopper, town, sends=[(town.near_store, {town.tea: 1})], slot_date=TODAY, slot="express")

    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 22, 15, 0)) == 1
    assert status_of(order) == "dispatched"


def test_dispatch_consumes_the_stock_once_on_hand_and_reserved_drop_by_the_quantity(town, shopper, clock_at):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper, sends=[(town.near_store, {town.milk: 3, town.tea: 2})])
    assert stock(town.near_store, town.milk) == (50, 3) and stock(town.near_store, town.tea) == (50, 2)
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))

    assert stock(town.near_store, town.milk) == (47, 0) and stock(town.near_store, town.tea) == (48, 0)
    assert shipment_of(order).stock_consumed_at == shanghai(2026, 11, 23, 8, 0)

    # The delivery fails and is sent again: the goods came back with the rider, and leave
    # again without being taken out of the stock a second time.
    clock_at(shanghai(2026, 11, 23, 10, 30))
    courier_event(shipment_of(order), "failed", shanghai(2026, 11, 23, 10, 25), reason="Nobody home")
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 11, 0)) == 1

    assert shipment_of(order).attempts == 2
    assert stock(town.near_store, town.milk) == (47, 0) and stock(town.near_store, town.tea) == (48, 0)


def test_a_courier_takes_no_more_shipments_in_a_slot_than_their_capacity(town, caplog):
    rider = courier_in(town.city, capacity=2)
    courier_in(CityFactory(code="beijing", name="Beijing"), "Beijing Rider")
    courier_in(town.city, "Off Duty", active=False)
    orders = [tomorrow_at_nine(town) for _ in range(3)]
    afternoon = paid_order(
        CustomerFactory(), town, sends=[(town.near_store, {town.milk: 1})], slot_date=TOMORROW, slot="12:00-15:00"
    )
    fulfilment.build_pick_lists(now=CUT_OFF)

    with caplog.at_level(logging.WARNING, logger="checkout.fulfilment"):
        assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 11, 0)) == 3

    assert [status_of(order) for order in orders] == ["dispatched", "dispatched", "picking"]
    # Another slot has its own room.
    assert (shipment_of(afternoon).status, shipment_of(afternoon).courier_id) == ("dispatched", rider.pk)
    assert f"no courier with room in city {town.city.pk} for 2026-11-23 09:00-12:00: 1 shipment(s) wait" in caplog.text

    # The next run, with another rider on duty, takes the one left.
    second = courier_in(town.city, "Zhao Lei", capacity=2)
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 11, 1)) == 1
    assert (shipment_of(orders[2]).status, shipment_of(orders[2]).courier_id) == ("dispatched", second.pk)


def test_shipments_are_spread_over_the_couriers_with_room(town):
    first, second = courier_in(town.city, "A", capacity=5), courier_in(town.city, "B", capacity=5)
    orders = [tomorrow_at_nine(town) for _ in range(4)]
    fulfilment.build_pick_lists(now=CUT_OFF)

    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0)) == 4

    assert sorted(shipment_of(order).courier_id for order in orders) == [first.pk, first.pk, second.pk, second.pk]


def test_a_pick_up_from_the_stations_own_stock_is_ready_without_a_courier(town, shopper, courier_record):
    order = tomorrow_at_nine(town, shopper, sends=[(town.near_store, {town.tea: 2})], pickup_store=town.near_store)
    fulfilment.build_pick_lists(now=CUT_OFF)

    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0)) == 1

    shipment = shipment_of(order)
    assert (shipment.status, shipment.ready_at, shipment.courier_id, shipment.tracking_no) == (
        "ready_for_pickup",
        shanghai(2026, 11, 23, 8, 0),
        None,
        "",
    )
    assert not courier_record.sent
    assert stock(town.near_store, town.tea) == (48, 0)
    assert OrderEvent.objects.get(order=order, type="shipment_ready_for_pickup").data["via"] == "station_stock"
    assert Order.objects.get(pk=order.pk).delivered_at is None  # collected later, with the pick-up code


def test_a_pick_up_brought_by_a_courier_is_ready_once_delivered_to_the_station(town, shopper, courier_record):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper, sends=[(town.warehouse, {town.oil: 1})], pickup_store=town.near_store)
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))
    (request,) = courier_record.sent
    assert (request.origin.name, request.destination.name) == ("Pudong Warehouse", "Near Store")

    result = courier_event(shipment_of(order), "delivered", shanghai(2026, 11, 23, 8, 50))

    shipment = shipment_of(order)
    assert (result.outcome, result.status) == ("applied", "ready_for_pickup")
    assert (shipment.status, shipment.ready_at, shipment.delivered_at) == (
        "ready_for_pickup",
        shanghai(2026, 11, 23, 8, 50),
        None,
    )
    assert Order.objects.get(pk=order.pk).delivered_at is None


def test_every_task_run_twice_dispatches_once(town, shopper, clock_at, courier_record):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper, sends=[(town.near_store, {town.milk: 4})])

    clock_at(CUT_OFF)
    assert [tasks.build_pick_lists.delay().get() for _ in range(2)] == [1, 0]
    clock_at(shanghai(2026, 11, 23, 8, 30))
    assert [tasks.dispatch_due_shipments.delay().get() for _ in range(2)] == [1, 0]

    shipment = shipment_of(order)
    assert (shipment.status, shipment.attempts, len(courier_record.sent)) == ("dispatched", 1, 1)
    assert event_types(order).count("shipment_dispatched") == 1
    assert stock(town.near_store, town.milk) == (46, 0)


# --- Courier events -----------------------------------------------------------------------


def test_a_failed_delivery_is_retried_in_the_next_slot_then_left_to_staff(town, shopper, clock_at, courier_record):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper)
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))
    first_waybill = shipment_of(order).tracking_no

    clock_at(shanghai(2026, 11, 23, 10, 30))
    result = courier_event(shipment_of(order), "failed", shanghai(2026, 11, 23, 10, 25), reason="Nobody home")

    shipment = shipment_of(order)
    assert (result.outcome, result.status) == ("applied", "picking")
    assert (shipment.status, shipment.courier_id, shipment.slot_date, shipment.slot, shipment.attempts) == (
        "picking",
        None,
        TOMORROW,
        "12:00-15:00",
        1,
    )
    assert shipment.failure_reason == "Nobody home"
    assert (shipment.pick_list.slot_date, shipment.pick_list.slot) == (TOMORROW, "12:00-15:00")
    assert OrderEvent.objects.get(order=order, type="shipment_delivery_retry").data["retry_slot"] == (
        "2026-11-23/12:00-15:00"
    )

    # Sent again when the next slot is within the lead time, with a new waybill.
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 10, 59)) == 0
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 11, 0)) == 1
    shipment = shipment_of(order)
    assert (shipment.status, shipment.attempts) == ("dispatched", 2)
    assert shipment.tracking_no != first_waybill
    assert [request.reference for request in courier_record.sent] == [f"{shipment.pk}-1", f"{shipment.pk}-2"]

    clock_at(shanghai(2026, 11, 23, 13, 30))
    result = courier_event(shipment, "failed", shanghai(2026, 11, 23, 13, 20), reason="Address not found")

    shipment = shipment_of(order)
    assert (result.status, shipment.status, shipment.failure_reason) == ("failed", "failed", "Address not found")
    assert OrderEvent.objects.get(order=order, type="shipment_delivery_failed").data == {
        "shipment_id": shipment.pk,
        "tracking_no": shipment.tracking_no,
        "attempts": 2,
        "reason": "Address not found",
        "failed_at": "2026-11-23T13:20:00+08:00",
    }
    assert fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 24, 8, 0)) == 0


def test_with_one_attempt_allowed_a_failure_goes_straight_to_staff(town, shopper, settings, clock_at):
    settings.FAILED_DELIVERY_MAX_ATTEMPTS = 1
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper)
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))
    clock_at(shanghai(2026, 11, 23, 10, 0))

    courier_event(shipment_of(order), "failed", shanghai(2026, 11, 23, 9, 55))

    assert shipment_of(order).status == "failed"
    assert shipment_of(order).failure_reason == "The courier reported a failed delivery."


def test_a_failure_after_the_last_slot_retries_in_the_first_slot_of_the_next_day(town):
    assert courier_events.next_window(city=town.city, after=shanghai(2026, 11, 23, 19, 0)) == (
        TOMORROW + DAY,
        "09:00-12:00",
    )
    assert courier_events.next_window(city=town.city, after=shanghai(2026, 11, 23, 12, 0)) == (TOMORROW, "15:00-18:00")


def test_the_order_is_delivered_when_its_last_shipment_is(town, shopper, clock_at):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper, sends=[(town.near_store, {town.tea: 1}), (town.warehouse, {town.oil: 1})])
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))
    near, warehouse = shipment_of(order, town.near_store), shipment_of(order, town.warehouse)
    clock_at(shanghai(2026, 11, 23, 11, 0))

    # Delivered without a picked-up first (events arrive out of order), and the late
    # picked-up then changes nothing.
    assert courier_event(near, "delivered", shanghai(2026, 11, 23, 9, 40)).status == "delivered"
    late = courier_event(near, "picked_up", shanghai(2026, 11, 23, 9, 5))
    assert (late.outcome, late.status) == ("ignored", "delivered")
    assert Order.objects.get(pk=order.pk).delivered_at is None

    assert courier_event(warehouse, "picked_up", shanghai(2026, 11, 23, 9, 10)).status == "picked_up"
    assert courier_event(warehouse, "delivered", shanghai(2026, 11, 23, 10, 15)).status == "delivered"

    order.refresh_from_db()
    assert order.delivered_at == shanghai(2026, 11, 23, 10, 15)
    assert shipment_of(order, town.near_store).delivered_at == shanghai(2026, 11, 23, 9, 40)
    assert OrderEvent.objects.get(order=order, type="delivered").data == {"delivered_at": "2026-11-23T10:15:00+08:00"}
    assert CourierEvent.objects.filter(shipment__order=order).count() == 4
    # The shopper heard of each step once: dispatched (two shipments, one message), delivered.
    kinds = list(Notification.objects.filter(order=order).order_by("pk").values_list("kind", flat=True))
    assert kinds[-2:] == ["dispatched", "delivered"] and kinds.count("dispatched") == 1


def test_a_cancelled_shipment_does_not_hold_the_order_back_and_its_events_are_recorded_and_ignored(
    town, shopper, clock_at
):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper, sends=[(town.near_store, {town.tea: 1}), (town.warehouse, {town.oil: 1})])
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))
    near, warehouse = shipment_of(order, town.near_store), shipment_of(order, town.warehouse)
    Shipment.objects.filter(pk=warehouse.pk).update(status=Shipment.Status.CANCELLED)  # called off by staff
    clock_at(shanghai(2026, 11, 23, 11, 0))

    ignored = courier_event(warehouse, "delivered", shanghai(2026, 11, 23, 9, 30))
    courier_event(near, "delivered", shanghai(2026, 11, 23, 9, 40))

    assert (ignored.outcome, ignored.status) == ("ignored", "cancelled")
    assert CourierEvent.objects.filter(shipment=warehouse).count() == 1
    assert shipment_of(order, town.warehouse).delivered_at is None
    assert Order.objects.get(pk=order.pk).delivered_at == shanghai(2026, 11, 23, 9, 40)


def test_the_same_event_twice_is_applied_once(town, shopper, clock_at):
    courier_in(town.city)
    order = tomorrow_at_nine(town, shopper)
    fulfilment.build_pick_lists(now=CUT_OFF)
    fulfilment.dispatch_due_shipments(now=shanghai(2026, 11, 23, 8, 0))
    clock_at(shanghai(2026, 11, 23, 10, 30))

    first = courier_event(shipment_of(order), "failed", shanghai(2026, 11, 23, 10, 25), event_id="evt-1")
    again = courier_event(shipment_of(order), "failed", shanghai(2026, 11, 23, 10, 25), event_id="evt-1")

    assert (first.outcome, again.outcome, again.status) == ("applied", "duplicate", "picking")
    assert CourierEvent.objects.count() == 1
    assert event_types(order).count("shipment_delivery_retry") == 1


def test_an_unknown_tracking_number_is_not_found_and_records_nothing(db):
    with pytest.raises(courier_events.UnknownTrackingNumber):
        courier_events.apply_courier_event(
            event_id="e1", tracking_no="LC000", kind="delivered", occurred_at=CUT_OFF, payload={}
        )
    assert not CourierEvent.objects.exists()


# --- Concurrency --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_in_parallel_dispatch_each_shipment_once_and_fill_no_courier_past_capacity(
    town, courier_record
):
    couriers = [courier_in(town.city, "A", capacity=10), courier_in(town.city, "B", capacity=10)]
    orders = [
        paid_order(CustomerFactory(), town, sends=[(town.near_store, {town.milk: 1})], slot_date=TODAY, slot="express")
        for _ in range(24)
    ]
    now = shanghai(2026, 11, 22, 15, 0)

    dispatched = run_in_parallel(lambda _: fulfilment.dispatch_due_shipments(now=now, batch_size=3), 2)

    assert sum(dispatched) == 20
    shipments = Shipment.objects.filter(order__in=orders)
    assert shipments.filter(status="dispatched", attempts=1).count() == 20
    assert shipments.filter(status="awaiting_pick", attempts=0, courier__isnull=True).count() == 4
    for courier in couriers:
        assert shipments.filter(courier=courier).count() == 10
    assert OrderEvent.objects.filter(type="shipment_dispatched").count() == 20
    assert len({request.reference for request in courier_record.sent}) == len(courier_record.sent) == 20
    assert stock(town.near_store, town.milk) == (30, 4)
