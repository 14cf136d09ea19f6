"""Staff re-routing or cancelling a shipment before dispatch: the reservation and the slot
booking move (or are given back), the order records why, and nothing changes once the
shipment has left. Orders are made by a real cart checkout against the payment sandbox.

The town (``tests.checkout.delivery_town``): home; the near store 1 km north (milk,
rice, tea), the warehouse 5 km north (milk, rice, oil), the plain store 3 km east (no
stock unless a test gives it some).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import requests
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout import payment_jobs, shipment_changes, shipments
from checkout.models import Order, OrderEvent, OrderLine, PickList, Shipment, ShipmentLine, SlotCapacity
from miniprogram_api.accounts.models import Customer
from miniprogram_api.core import clock
from promotions.coupons import issue_coupons
from promotions.models import CouponTemplate
from stores.models import Stock
from tests.checkout.delivery_town import address_for, checkout, fill_cart, make_town
from tests.factories import CustomerFactory, ProductFactory, StockFactory, client_for
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def town():
    return make_town()


@pytest.fixture
def shopper():
    return CustomerFactory()


@pytest.fixture
def boss():
    return Customer.objects.create_superuser("boss", "a-strong-password")


@pytest.fixture
def staff(boss) -> Client:
    client = Client()
    client.login(username="boss", password="a-strong-password")
    return client


def reserved(location, product) -> int:
    return Stock.objects.get(location=location, product=product).reserved


def taken(location, order: Order) -> int:
    row = SlotCapacity.objects.filter(location=location, date=order.slot_date, slot=order.slot).first()
    return row.taken if row else 0


def lines_of(shipment: Shipment) -> dict[int, int]:
    return dict(ShipmentLine.objects.filter(shipment=shipment).values_list("product_id", "quantity"))


def order_for(shopper, town, items, *, slot: str | None = None, coupon_ids=None, **where) -> Order:
    fill_cart(shopper, town.city, items)
    if "pickup_store" not in where:
        where["address"] = address_for(shopper, town.city)
    response = checkout(client_for(shopper), town.city, slot=slot, coupon_ids=coupon_ids, **where)
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["order"]["id"])


def only_shipment(order: Order) -> Shipment:
    (shipment,) = Shipment.objects.filter(order=order)
    return shipment


# --- Re-routing ---------------------------------------------------------------------------


def test_rerouting_moves_the_reservation_and_the_slot_booking_to_the_next_nearest(server, town, shopper, boss):
    order = order_for(shopper, town, {town.milk: 2, town.rice: 1})
    shipment = only_shipment(order)
    assert shipment.location_id == town.near_store.pk
    assert (reserved(town.near_store, town.milk), taken(town.near_store, order), taken(town.warehouse, order)) == (
        2,
        1,
        0,
    )

    done = shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    assert done == shipment_changes.Rerouted(
        shipment_id=shipment.pk,
        from_location_id=town.near_store.pk,
        shipment_locations=((shipment.pk, town.warehouse.pk),),
    )
    shipment.refresh_from_db()
    assert (shipment.location_id, shipment.distance_m, shipment.status) == (town.warehouse.pk, 5004, "pending_payment")
    assert lines_of(shipment) == {town.milk.pk: 2, town.rice.pk: 1}
    # The old location's reservation and booking are given back; the new one holds them.
    assert (reserved(town.near_store, town.milk), reserved(town.near_store, town.rice)) == (0, 0)
    assert (reserved(town.warehouse, town.milk), reserved(town.warehouse, town.rice)) == (2, 1)
    assert (taken(town.near_store, order), taken(town.warehouse, order)) == (0, 1)
    order.refresh_from_db()
    (record,) = order.routing["reroutes"]
    assert record["shipment_id"] == shipment.pk and record["from_location_id"] == town.near_store.pk
    assert record["by"] == {"user_id": boss.pk, "username": "boss"}
    assert record["excluded_location_ids"] == [town.near_store.pk]
    assert record["now_from"] == [{"shipment_id": shipment.pk, "location_id": town.warehouse.pk}]
    assert record["explanation"]["method"] == "single_location"
    assert order.routing["method"] == "single_location"  # the checkout's own explanation stays
    event = OrderEvent.objects.get(order=order, type="shipment_rerouted")
    assert event.data["from_location_id"] == town.near_store.pk


def test_a_shipment_on_a_pick_list_goes_back_to_awaiting_its_pick_at_the_new_location(server, town, shopper, boss):
    order = order_for(shopper, town, {town.milk: 1})
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    shipment = only_shipment(order)
    pick_list = PickList.objects.create(location=town.near_store, slot_date=order.slot_date, slot=order.slot)
    Shipment.objects.filter(pk=shipment.pk).update(status="picking", pick_list=pick_list)

    shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    shipment.refresh_from_db()
    assert (shipment.location_id, shipment.status, shipment.pick_list_id) == (town.warehouse.pk, "awaiting_pick", None)
    assert (reserved(town.near_store, town.milk), reserved(town.warehouse, town.milk)) == (0, 1)


def test_excluded_and_full_locations_are_passed_over(server, town, shopper, boss):
    StockFactory(location=town.plain_store, product=town.milk, on_hand=10)
    order = order_for(shopper, town, {town.milk: 1})
    shipment = only_shipment(order)

    # The plain store (3 km) is nearer than the warehouse (5 km), but staff exclude it.
    shipment_changes.reroute_shipment(shipment.pk, exclude_location_ids=[town.plain_store.pk], staff_user=boss)
    shipment.refresh_from_db()
    assert shipment.location_id == town.warehouse.pk

    # Back to the near store, whose slot is now full: the plain store it is.
    SlotCapacity.objects.filter(location=town.near_store, date=order.slot_date, slot=order.slot).update(
        capacity=0, taken=0
    )
    shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)
    shipment.refresh_from_db()
    assert shipment.location_id == town.plain_store.pk
    assert [reserved(loc, town.milk) for loc in (town.near_store, town.warehouse, town.plain_store)] == [0, 0, 1]
    assert [taken(loc, order) for loc in (town.near_store, town.warehouse, town.plain_store)] == [0, 0, 1]
    order.refresh_from_db()
    assert [r["excluded_location_ids"] for r in order.routing["reroutes"]] == [
        sorted([town.near_store.pk, town.plain_store.pk]),
        [town.warehouse.pk],
    ]


def test_a_location_that_takes_no_orders_in_the_slot_is_passed_over(server, town, shopper, boss):
    StockFactory(location=town.plain_store, product=town.milk, on_hand=10)
    town.plain_store.slot_capacity = 0  # never booked for the slot: its own capacity counts
    town.plain_store.save()
    order = order_for(shopper, town, {town.milk: 1})
    shipment = only_shipment(order)

    shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    shipment.refresh_from_db()
    assert shipment.location_id == town.warehouse.pk  # 5 km, past the plain store's 3 km


def test_rerouting_splits_the_shipment_when_no_other_location_has_everything_and_payment_moves_them_all(
    server, town, shopper, boss
):
    StockFactory(location=town.plain_store, product=town.tea, on_hand=10)
    order = order_for(shopper, town, {town.milk: 2, town.tea: 1})  # both at the near store
    shipment = only_shipment(order)

    done = shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    # Tea only at the plain store (3 km), milk only at the warehouse (5 km): two shipments.
    (first, _), (second_id, second_location) = done.shipment_locations
    assert (first, second_location) == (shipment.pk, town.warehouse.pk)
    shipment.refresh_from_db()
    second = Shipment.objects.get(pk=second_id)
    assert (shipment.location_id, lines_of(shipment)) == (town.plain_store.pk, {town.tea.pk: 1})
    assert (second.location_id, second.status, second.slot_date, second.slot) == (
        town.warehouse.pk,
        "pending_payment",
        shipment.slot_date,
        shipment.slot,
    )
    assert lines_of(second) == {town.milk.pk: 2}
    milk_line = OrderLine.objects.get(order=order, product_id=town.milk.pk)
    assert ShipmentLine.objects.get(shipment=second).order_line_id == milk_line.pk
    assert (reserved(town.near_store, town.milk), reserved(town.near_store, town.tea)) == (0, 0)
    assert (reserved(town.warehouse, town.milk), reserved(town.plain_store, town.tea)) == (2, 1)
    assert [taken(loc, order) for loc in (town.near_store, town.warehouse, town.plain_store)] == [0, 1, 1]

    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    assert sorted(Shipment.objects.filter(order=order).values_list("status", flat=True)) == ["awaiting_pick"] * 2


def test_a_rerouted_order_unpaid_in_time_gives_back_everything_it_now_holds(server, monkeypatch, town, shopper, boss):
    StockFactory(location=town.plain_store, product=town.tea, on_hand=10)
    order = order_for(shopper, town, {town.milk: 2, town.tea: 1})
    shipment_changes.reroute_shipment(only_shipment(order).pk, staff_user=boss)
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + dt.timedelta(minutes=16))

    assert payment_jobs.close_expired_orders() == 1

    stocks = Stock.objects.filter(product__in=[town.milk, town.tea])
    assert sum(stocks.values_list("reserved", flat=True)) == 0
    assert sum(SlotCapacity.objects.filter(date=order.slot_date).values_list("taken", flat=True)) == 0
    assert set(Shipment.objects.filter(order=order).values_list("status", flat=True)) == {"cancelled"}


def test_a_line_no_other_location_has_whole_is_split_by_units(server, town, shopper, boss):
    Stock.objects.filter(location=town.warehouse, product=town.milk).update(on_hand=4)
    StockFactory(location=town.plain_store, product=town.milk, on_hand=3)
    order = order_for(shopper, town, {town.milk: 6})
    shipment = only_shipment(order)

    done = shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    # No other location has 6: the warehouse holds the most (4), the plain store the rest (2);
    # nearest first, so the shipment itself goes to the plain store.
    (_, other_id) = (sid for sid, _ in done.shipment_locations)
    shipment.refresh_from_db()
    assert (shipment.location_id, lines_of(shipment)) == (town.plain_store.pk, {town.milk.pk: 2})
    assert lines_of(Shipment.objects.get(pk=other_id)) == {town.milk.pk: 4}
    assert [reserved(loc, town.milk) for loc in (town.near_store, town.warehouse, town.plain_store)] == [0, 4, 2]

    # Cancelling both refunds the whole line between them: 6 x 12.90 = 77.40, 2:4 by units.
    first = shipment_changes.cancel_shipment(shipment.pk, reason="short", staff_user=boss)
    second = shipment_changes.cancel_shipment(other_id, reason="short", staff_user=boss)
    assert (first.refund_due_fen, second.refund_due_fen) == (2580, 5160)


def test_rerouting_is_refused_when_nowhere_else_can_serve_it_and_nothing_changes(server, town, shopper, boss):
    order = order_for(shopper, town, {town.tea: 1, town.milk: 1})  # tea: only the near store has it
    shipment = only_shipment(order)

    with pytest.raises(shipment_changes.NoOtherLocation) as refused:
        shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    assert refused.value.code == "no_other_location"
    assert refused.value.details["product_ids"] == [town.tea.pk]
    shipment.refresh_from_db()
    assert shipment.location_id == town.near_store.pk
    assert (reserved(town.near_store, town.tea), reserved(town.warehouse, town.milk)) == (1, 0)
    assert taken(town.near_store, order) == 1
    order.refresh_from_db()
    assert "reroutes" not in order.routing
    assert not OrderEvent.objects.filter(order=order, type="shipment_rerouted").exists()


@pytest.mark.parametrize("status", ["dispatched", "picked_up", "ready_for_pickup", "delivered", "failed"])
def test_rerouting_and_cancelling_are_refused_once_dispatched(server, town, shopper, boss, status):
    order = order_for(shopper, town, {town.milk: 1})
    shipment = only_shipment(order)
    Shipment.objects.filter(pk=shipment.pk).update(status=status, stock_consumed_at=clock.now())

    for change in (
        lambda: shipment_changes.reroute_shipment(shipment.pk, staff_user=boss),
        lambda: shipment_changes.cancel_shipment(shipment.pk, reason="too late", staff_user=boss),
    ):
        with pytest.raises(shipment_changes.ShipmentAlreadyDispatched) as refused:
            change()
        assert (refused.value.code, refused.value.details["status"]) == ("shipment_already_dispatched", status)

    shipment.refresh_from_db()
    assert (shipment.location_id, shipment.status) == (town.near_store.pk, status)
    assert reserved(town.near_store, town.milk) == 1 and reserved(town.warehouse, town.milk) == 0


def test_a_pick_up_shipment_is_rerouted_by_the_distance_to_the_pick_up_store(server, town, shopper, boss):
    order = order_for(shopper, town, {town.milk: 1}, pickup_store=town.near_store)
    shipment = only_shipment(order)

    shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    shipment.refresh_from_db()
    # The warehouse is 4 km north of the station (5 km from the shopper's home, unused here).
    assert (shipment.location_id, shipment.distance_m) == (town.warehouse.pk, 4003)


def test_an_express_shipment_cannot_be_rerouted_but_can_be_cancelled(server, town, shopper, boss):
    order = order_for(shopper, town, {town.milk: 1}, slot="express")
    shipment = only_shipment(order)

    with pytest.raises(shipment_changes.ExpressNotReroutable):
        shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)
    shipment_changes.cancel_shipment(shipment.pk, reason="rider ill", staff_user=boss)

    assert reserved(town.near_store, town.milk) == 0
    assert SlotCapacity.objects.get(location=town.near_store, slot="express").taken == 0


@pytest.mark.postgres
def test_five_concurrent_reroutes_onto_three_units_move_three(server, town, boss):
    Stock.objects.filter(location=town.warehouse, product=town.milk).update(on_hand=3)
    moved = [only_shipment(order_for(CustomerFactory(), town, {town.milk: 1})) for _ in range(5)]

    def reroute(index: int) -> str:
        try:
            shipment_changes.reroute_shipment(moved[index].pk, staff_user=boss)
        except (shipment_changes.NoOtherLocation, shipments.OutOfStock) as exc:
            return exc.code
        return "moved"

    results = Counter(run_in_parallel(reroute, 5))

    # Routing reads stock without locks, so a loser may still pick the warehouse and be
    # refused under the lock (out_of_stock) or see it empty first (no_other_location).
    assert results["moved"] == 3 and sum(results.values()) == 5
    assert (reserved(town.warehouse, town.milk), reserved(town.near_store, town.milk)) == (3, 2)
    assert Shipment.objects.filter(location=town.warehouse).count() == 3
    order = Order.objects.get(pk=moved[0].order_id)
    assert taken(town.warehouse, order) == 3 and taken(town.near_store, order) == 2


# --- Cancelling ---------------------------------------------------------------------------


def test_cancelling_gives_back_stock_and_slot_and_records_the_refund_due_after_discounts(server, town, shopper, boss):
    now = clock.now()
    template = CouponTemplate.objects.create(
        name="满100减5",
        kind=CouponTemplate.Kind.AMOUNT_OFF,
        threshold_fen=10000,
        amount_off_fen=500,
        valid_from=now - dt.timedelta(days=1),
        valid_until=now + dt.timedelta(days=7),
    )
    (coupon,) = issue_coupons(template_id=template.pk, customer_id=shopper.pk)
    # Tea (70.00) from the near store, oil (89.00) from the warehouse; 5.00 off the order.
    order = order_for(shopper, town, {town.tea: 2, town.oil: 1}, coupon_ids=[coupon.pk])
    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    from_warehouse = Shipment.objects.get(order=order, location=town.warehouse)
    oil_line = OrderLine.objects.get(order=order, product_id=town.oil.pk)
    assert oil_line.discount_fen > 0

    done = shipment_changes.cancel_shipment(from_warehouse.pk, reason="  oil spilt in the warehouse ", staff_user=boss)

    assert done.refund_due_fen == 8900 - oil_line.discount_fen
    from_warehouse.refresh_from_db()
    assert (from_warehouse.status, from_warehouse.stock_released_at is not None) == ("cancelled", True)
    assert reserved(town.warehouse, town.oil) == 0 and taken(town.warehouse, order) == 0
    # The other shipment is untouched.
    assert reserved(town.near_store, town.tea) == 2 and taken(town.near_store, order) == 1
    event = OrderEvent.objects.get(order=order, type="shipment_cancelled")
    assert event.data == {
        "shipment_id": from_warehouse.pk,
        "location_id": town.warehouse.pk,
        "from_status": "awaiting_pick",
        "order_state": "paid",
        "reason": "oil spilt in the warehouse",
        "by": {"user_id": boss.pk, "username": "boss"},
        "lines": {str(town.oil.pk): 1},
        "refund_due_fen": done.refund_due_fen,
    }
    # Once cancelled, it stays cancelled.
    with pytest.raises(shipment_changes.ShipmentAlreadyCancelled):
        shipment_changes.cancel_shipment(from_warehouse.pk, reason="again", staff_user=boss)
    with pytest.raises(shipment_changes.ShipmentAlreadyCancelled):
        shipment_changes.reroute_shipment(from_warehouse.pk, staff_user=boss)
    assert OrderEvent.objects.filter(order=order, type="shipment_cancelled").count() == 1


def test_an_unknown_shipment_is_not_found(boss):
    with pytest.raises(shipment_changes.ShipmentNotFound):
        shipment_changes.cancel_shipment(987654, reason="x", staff_user=boss)


# --- The admin ----------------------------------------------------------------------------


def action(staff: Client, name: str, shipment_ids: list[int], reason: str = ""):
    return staff.post(
        "/admin/checkout/shipment/",
        {"action": name, "_selected_action": [str(pk) for pk in shipment_ids], "index": 0, "reason": reason},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_reroute_action_moves_what_it_can_and_says_what_it_could_not(server, town, staff):
    movable = order_for(CustomerFactory(), town, {town.milk: 1})
    stuck = order_for(CustomerFactory(), town, {town.tea: 1})
    ids = [only_shipment(movable).pk, only_shipment(stuck).pk]

    response = action(staff, "reroute_selected", ids)

    assert response.status_code == 200
    assert messages_of(response) == [
        f"Shipment {ids[0]} re-routed: shipment {ids[0]} from SHW.",
        f"Shipment {ids[1]} not re-routed: No other fulfilment location can send this shipment in its slot.",
    ]
    assert list(Shipment.objects.filter(pk__in=ids).order_by("pk").values_list("location_id", flat=True)) == [
        town.warehouse.pk,
        town.near_store.pk,
    ]


def test_the_cancel_action_needs_a_reason(server, town, staff):
    shipment = only_shipment(order_for(CustomerFactory(), town, {town.milk: 3}))

    refused = action(staff, "cancel_selected", [shipment.pk])
    assert messages_of(refused) == ["Nothing cancelled: give a reason."]
    assert Shipment.objects.get(pk=shipment.pk).status == "pending_payment"

    done = action(staff, "cancel_selected", [shipment.pk], reason="address unreachable")
    assert messages_of(done) == [
        f"Shipment {shipment.pk} cancelled; its lines come to ¥38.70 after discounts, recorded on the order for "
        "the refund."
    ]
    assert Shipment.objects.get(pk=shipment.pk).status == "cancelled"
    assert reserved(town.near_store, town.milk) == 0


def test_admin_actions_cost_the_same_queries_whatever_the_lines(server, town, staff):
    extra = ProductFactory.create_batch(6, base_price_fen=500)
    for product in extra:
        StockFactory(location=town.near_store, product=product)
        StockFactory(location=town.warehouse, product=product)
    small = only_shipment(order_for(CustomerFactory(), town, {town.milk: 1}))
    big = only_shipment(order_for(CustomerFactory(), town, {town.milk: 1, **dict.fromkeys(extra, 2)}))
    # Opened beforehand, so the first re-route does not pay for creating the row.
    SlotCapacity.objects.create(location=town.warehouse, date=small.slot_date, slot=small.slot, capacity=40)

    counts = {}
    for name, shipment, reason in (
        ("reroute small", small, ""),
        ("reroute big", big, ""),
        ("cancel small", small, "x"),
        ("cancel big", big, "x"),
    ):
        with CaptureQueriesContext(connection) as captured:
            response = action(staff, name.split()[0] + "_selected", [shipment.pk], reason=reason)
        assert "re-routed:" in messages_of(response)[0] or "cancelled;" in messages_of(response)[0]
        counts[name] = len(captured)

    assert counts["reroute small"] == counts["reroute big"]
    assert counts["cancel small"] == counts["cancel big"]
    # The whole request, the changelist it redirects to included (35 and 28 when written).
    assert counts["reroute big"] <= 40 and counts["cancel big"] <= 32, counts


def test_the_order_page_has_reroute_and_cancel_buttons_that_work(server, town, staff):
    order = order_for(CustomerFactory(), town, {town.milk: 1, town.rice: 1})
    shipment = only_shipment(order)
    page = f"/admin/checkout/order/{order.pk}/change/"

    html = staff.get(page).content.decode()
    assert f'formaction="/admin/checkout/shipment/{shipment.pk}/reroute/?next=' in html
    assert f'name="reason-{shipment.pk}"' in html

    rerouted = staff.post(f"/admin/checkout/shipment/{shipment.pk}/reroute/?next={page}")
    assert (rerouted.status_code, rerouted["Location"]) == (302, page)
    assert Shipment.objects.get(pk=shipment.pk).location_id == town.warehouse.pk

    no_reason = staff.post(f"/admin/checkout/shipment/{shipment.pk}/cancel/?next={page}", {f"reason-{shipment.pk}": ""})
    assert messages_of(no_reason)[-1] == f"Shipment {shipment.pk} not cancelled: give a reason."
    cancelled = staff.post(
        f"/admin/checkout/shipment/{shipment.pk}/cancel/?next=https://evil.example/",
        {f"reason-{shipment.pk}": "shopper asked"},
    )
    assert cancelled["Location"] == f"/admin/checkout/shipment/{shipment.pk}/change/"  # not off-site
    assert Shipment.objects.get(pk=shipment.pk).status == "cancelled"
    assert "reason-" not in staff.get(page).content.decode()  # no buttons once cancelled
    assert staff.get(f"/admin/checkout/shipment/{shipment.pk}/cancel/").status_code == 403


def test_staff_without_the_change_permission_cannot_reroute(server, town):
    clerk = Customer.objects.create_user("clerk", password="a-strong-password", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_shipment"))
    client = Client()
    client.login(username="clerk", password="a-strong-password")
    shipment = only_shipment(order_for(CustomerFactory(), town, {town.milk: 1}))

    assert client.post(f"/admin/checkout/shipment/{shipment.pk}/reroute/").status_code == 403
    assert Shipment.objects.get(pk=shipment.pk).location_id == town.near_store.pk
    assert "reroute_selected" not in client.get("/admin/checkout/shipment/").content.decode()


def test_services_leave_nothing_behind_when_a_checkout_took_the_last_place(server, town, shopper, boss, monkeypatch):
    order = order_for(shopper, town, {town.milk: 1})
    shipment = only_shipment(order)
    monkeypatch.setattr(shipment_changes.delivery_slots, "take_capacity", lambda **kwargs: False)

    with pytest.raises(shipments.SlotFull):
        shipment_changes.reroute_shipment(shipment.pk, staff_user=boss)

    shipment.refresh_from_db()
    assert shipment.location_id == town.near_store.pk
    assert (reserved(town.near_store, town.milk), reserved(town.warehouse, town.milk)) == (1, 0)
    assert taken(town.near_store, order) == 1
