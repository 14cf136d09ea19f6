"""A delivery or pick-up order's shipments: the stock and slot room they hold, from
checkout until payment (or until the payment times out).

Lock order, the same in every writer so two transactions never wait on each other in a
circle: the shopper's cart, then stock rows by (location, product), then slot capacity
rows by location, then the promotions' holds (coupons, flash-sale items). Checkout takes
them in that order (``checkout.delivery_checkout``), and so does giving them back
(``release_for_order``, called before the promotions are released).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.functions import Greatest

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict
from stores.models import Stock
from stores.routing import RoutingPlan

from . import carts, delivery_slots, order_states
from .delivery_models import Shipment, ShipmentLine
from .models import Order, OrderLine

logger = logging.getLogger(__name__)


class OutOfStock(Conflict):
    """What the cart asks for is not (or no longer) available: ``details.product_ids`` are
    the products short. Nothing was written; the client reads the cart again."""

    code = "out_of_stock"
    default_message = "Some products in the cart are no longer available in this quantity."


class SlotFull(Conflict):
    code = "slot_full"
    default_message = "This delivery slot has just filled up; choose another."


def reserve_stock(plan: RoutingPlan) -> None:
    """Reserve every shipment line at its location, or raise ``OutOfStock`` (the caller's
    transaction then rolls back whatever this reserved).

    Two queries whatever the number of lines: the stock rows are locked in (location,
    product) order, so concurrent checkouts queue in one order and never deadlock; then one
    conditional UPDATE (``on_hand - reserved >= q`` per row, ``reserved + q``) writes them
    all, and must touch every row. Routing read availability without locks a moment ago;
    the locked rows are the word that counts."""
    _require_transaction()
    wanted = {
        (shipment.location_id, product_id): units
        for shipment in plan.shipments
        for product_id, units in shipment.lines.items()
        if units > 0
    }
    if not wanted:
        return
    where = Q()
    for location_id, product_id in wanted:
        where |= Q(location_id=location_id, product_id=product_id)
    rows = list(
        Stock.objects.select_for_update()
        .filter(where)
        .order_by("location_id", "product_id")
        .only("id", "location_id", "product_id", "on_hand", "reserved")
    )
    by_key = {(row.location_id, row.product_id): row for row in rows}
    short = sorted(
        {key[1] for key, units in wanted.items() if (row := by_key.get(key)) is None or row.available < units}
    )
    if short:
        raise OutOfStock(details={"product_ids": short})
    units_of = {by_key[key].pk: units for key, units in wanted.items()}
    amount = Case(*(When(pk=pk, then=Value(units)) for pk, units in units_of.items()), output_field=IntegerField())
    updated = (
        Stock.objects.filter(pk__in=units_of)
        .filter(on_hand__gte=F("reserved") + amount)
        .update(reserved=F("reserved") + amount)
    )
    if updated != len(units_of):  # only if something changed the rows despite the locks
        raise OutOfStock(details={"product_ids": sorted({product_id for _, product_id in wanted})})


def take_capacity(*, plan: RoutingPlan, slot: delivery_slots.Slot) -> None:
    """Book the slot at every shipment's location, in location order, or raise ``SlotFull``."""
    for location_id in sorted({shipment.location_id for shipment in plan.shipments}):
        if not delivery_slots.take_capacity(location_id=location_id, date=slot.date, slot=slot.window):
            raise SlotFull(details={"slot": slot.id, "location_id": location_id})


def create_for_order(*, order: Order, plan: RoutingPlan, slot: delivery_slots.Slot) -> list[Shipment]:
    """Write the order's shipments and their lines (three queries, whatever the lines): each
    line points at the order line of its product (a cart has one line per product)."""
    shipments = Shipment.objects.bulk_create(
        Shipment(
            order=order,
            location_id=planned.location_id,
            slot_date=slot.date,
            slot=slot.window,
            distance_m=round(planned.distance_m),
        )
        for planned in plan.shipments
    )
    order_lines = dict(OrderLine.objects.filter(order=order).values_list("product_id", "pk"))
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=shipment, order_line_id=order_lines[product_id], product_id=product_id, quantity=units)
        for shipment, planned in zip(shipments, plan.shipments, strict=True)
        for product_id, units in sorted(planned.lines.items())
        if units > 0
    )
    return shipments


def mark_paid(*, order_id: int) -> int:
    """The order is paid: its shipments wait to be picked. Returns how many moved.

    A payment that arrives after the order was closed finds its shipments cancelled and
    their stock given back (another order may have it now): staff get a
    ``shipments_released_before_payment`` event to re-route or refund it."""
    moved = Shipment.objects.filter(order_id=order_id, status=Shipment.Status.PENDING_PAYMENT).update(
        status=Shipment.Status.AWAITING_PICK
    )
    if not moved:
        released = list(
            Shipment.objects.filter(order_id=order_id, stock_released_at__isnull=False).values_list("pk", flat=True)
        )
        if released:
            logger.warning("order %s paid after its shipments were released", order_id)
            order_states.record_event(
                order_id=order_id, event="shipments_released_before_payment", data={"shipment_ids": released}
            )
    return moved


def release_for_order(*, order_id: int, now: dt.datetime | None = None) -> int:
    """Give back what an unpaid order's shipments hold: the lines go back into the shopper's
    cart, the reserved stock and the slot bookings are freed, and the shipments are
    cancelled. Each shipment is claimed once (``stock_released_at``), so running this twice
    gives nothing back twice. Returns the number of shipments released."""
    _require_transaction()
    now = now or clock.now()
    shipments = list(
        Shipment.objects.select_for_update()
        .filter(order_id=order_id, stock_released_at__isnull=True, stock_consumed_at__isnull=True)
        .order_by("pk")
        .only("id", "location_id", "slot_date", "slot")
    )
    if not shipments:
        return 0
    ids = [shipment.pk for shipment in shipments]
    Shipment.objects.filter(pk__in=ids).update(stock_released_at=now, status=Shipment.Status.CANCELLED)

    order = Order.objects.only("customer_id", "city_id").get(pk=order_id)
    lines = ShipmentLine.objects.filter(shipment_id__in=ids).values_list(
        "shipment__location_id", "product_id", "quantity"
    )
    held: dict[tuple[int, int], int] = defaultdict(int)
    for location_id, product_id, units in lines:
        held[location_id, product_id] += units
    back: dict[int, int] = defaultdict(int)
    for (_, product_id), units in held.items():
        back[product_id] += units
    dropped = []
    if order.city_id is not None:
        cart = carts.lock_cart(customer_id=order.customer_id, city_id=order.city_id)
        dropped = carts.restore_lines(cart_id=cart.pk, lines=sorted(back.items()))
    for (location_id, product_id), units in sorted(held.items()):
        Stock.objects.filter(location_id=location_id, product_id=product_id).update(
            reserved=Greatest(F("reserved") - units, Value(0))
        )
    for shipment in sorted(shipments, key=lambda s: s.location_id):
        delivery_slots.give_back_capacity(location_id=shipment.location_id, date=shipment.slot_date, slot=shipment.slot)
    order_states.record_event(
        order_id=order_id,
        event="shipments_released",
        data={
            "shipment_ids": ids,
            "lines": {str(pid): units for pid, units in sorted(back.items())},
            "not_back_in_cart": {str(pid): units for pid, units in dropped},
        },
    )
    return len(ids)


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("call inside transaction.atomic(): what this writes must commit or roll back together")
