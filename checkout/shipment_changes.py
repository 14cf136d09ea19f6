"""Staff changing a shipment before it leaves its location: re-routing it to another
fulfilment location, or cancelling it.

Both are for the days a location cannot send what it promised (a fridge broke, the
stock count was wrong, the shopper rang the hotline) and are allowed only while the
shipment's stock is still reserved and nothing has left: ``pending_payment``,
``awaiting_pick`` and ``picking``. From dispatch on the stock is consumed and the goods
are with a courier; changing the shipment then is a return, not a re-route.

Each is one transaction that takes its locks in the order every other writer of these
rows uses (the payment, the payment timeout and the fulfilment tasks lock the order row
and then its shipments; checkout takes stock by (location, product) and then slot
capacity by location): the order row, the shipment, the stock rows of the old and the
new locations together in (location, product) order, then the slot capacity rows in
location order. The order and the shipment are locked ``FOR NO KEY UPDATE`` (as
``checkout.fulfilment`` does), so order events other processes insert meanwhile do not
wait on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Greatest

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, NotFound
from miniprogram_api.core.money import allocate
from stores.geo import GeoPoint
from stores.models import Location, Stock
from stores.routing import RoutingPlan, route

from . import delivery_slots, order_states, shipments
from .delivery_models import Shipment, ShipmentLine, SlotCapacity
from .models import Order, OrderLine

S = Shipment.Status

# While these hold, the shipment's stock is reserved (not consumed) and nothing has left.
CHANGEABLE = frozenset({S.PENDING_PAYMENT, S.AWAITING_PICK, S.PICKING})


class ShipmentNotFound(NotFound):
    code = "shipment_not_found"
    default_message = "There is no shipment with this id."


class ShipmentAlreadyDispatched(Conflict):
    """The shipment has left its location (or been handed over, delivered or failed): its
    stock is consumed, so it can no longer be re-routed or cancelled. ``details.status``."""

    code = "shipment_already_dispatched"
    default_message = "This shipment has already been dispatched; it can no longer be re-routed or cancelled."


class ShipmentAlreadyCancelled(Conflict):
    code = "shipment_already_cancelled"
    default_message = "This shipment is cancelled (by staff, or because the order was not paid in time)."


class NoOtherLocation(Conflict):
    """No location outside the excluded ones can send the shipment's lines in its slot
    (``details.product_ids``: the products short; full slots and excluded locations are
    not candidates). Staff may cancel it instead."""

    code = "no_other_location"
    default_message = "No other fulfilment location can send this shipment in its slot."


class ExpressNotReroutable(Conflict):
    """Express is one nearby open store within the hour: there is no "next nearest" to
    hand it to. Staff cancel it instead."""

    code = "express_not_reroutable"
    default_message = "An express shipment cannot be re-routed; cancel it instead."


@dataclass(frozen=True)
class Rerouted:
    shipment_id: int
    from_location_id: int
    # The shipment itself, then any new shipments a split needed, with where they now come from.
    shipment_locations: tuple[tuple[int, int], ...]  # (shipment id, location id), nearest first


@dataclass(frozen=True)
class Cancelled:
    shipment_id: int
    refund_due_fen: int


def reroute_shipment(shipment_id: int, *, exclude_location_ids: Iterable[int] = (), staff_user: Any) -> Rerouted:
    """Send the shipment from the nearest other location that can serve all its lines in
    its slot, or split it into the fewest shipments when none can alone (routing's rule,
    ``stores.routing``, over the city's active locations minus the shipment's own location,
    ``exclude_location_ids`` and those whose slot is full).

    The reservation moves: the old location's ``reserved`` drops and the new ones' rise,
    and the slot booking moves with it. A shipment on a pick list goes back to awaiting
    its pick at the new location. The new explanation is appended to the order's
    ``routing["reroutes"]``, and a ``shipment_rerouted`` order event names the staff user.
    Raises ``ShipmentAlreadyDispatched`` / ``ShipmentAlreadyCancelled`` (409),
    ``NoOtherLocation`` (409), ``ExpressNotReroutable`` (409); ``OutOfStock`` or
    ``SlotFull`` (409) if a checkout took the stock or the slot at that very moment.
    Nothing is written when it raises."""
    excluded = {int(pk) for pk in exclude_location_ids}
    now = clock.now()
    with transaction.atomic():
        order, shipment = _lock(shipment_id)
        if shipment.slot == delivery_slots.EXPRESS:
            raise ExpressNotReroutable(details={"shipment_id": shipment.pk})
        lines = list(ShipmentLine.objects.filter(shipment=shipment).order_by("product_id"))
        wanted = {line.product_id: line.quantity for line in lines}
        excluded.add(shipment.location_id)
        plan = route(
            city_id=order.city_id,
            destination=_destination(order),
            wanted=wanted,
            location_ids=_candidate_ids(city_id=order.city_id, shipment=shipment, excluded=excluded),
        )
        if plan.unserved or not plan.shipments:
            raise NoOtherLocation(
                details={
                    "shipment_id": shipment.pk,
                    "product_ids": sorted(plan.unserved),
                    "excluded_location_ids": sorted(excluded),
                }
            )

        old = {(shipment.location_id, product_id): units for product_id, units in wanted.items()}
        _lock_stock(set(old) | {(s.location_id, p) for s in plan.shipments for p in s.lines})
        _release_stock(old)
        shipments.reserve_stock(plan)
        _move_capacity(shipment=shipment, plan=plan)
        placed = _apply_plan(shipment=shipment, lines=lines, plan=plan)

        record = {
            "at": clock.local_iso(now),
            "by": _staff(staff_user),
            "shipment_id": shipment.pk,
            "from_location_id": shipment.location_id,
            "excluded_location_ids": sorted(excluded),
            "now_from": [{"shipment_id": sid, "location_id": lid} for sid, lid in placed],
            "explanation": plan.explanation,
        }
        routing = dict(order.routing or {})
        routing["reroutes"] = [*routing.get("reroutes", []), record]
        Order.objects.filter(pk=order.pk).update(routing=routing)
        order_states.record_event(
            order_id=order.pk,
            event="shipment_rerouted",
            data={
                "shipment_id": shipment.pk,
                "from_location_id": shipment.location_id,
                "now_from": record["now_from"],
                "by": record["by"],
            },
        )
    return Rerouted(shipment_id=shipment.pk, from_location_id=shipment.location_id, shipment_locations=tuple(placed))


def cancel_shipment(shipment_id: int, *, reason: str, staff_user: Any) -> Cancelled:
    """Cancel the shipment: its reserved stock and its slot booking are given back, its
    status becomes ``cancelled``, and a ``shipment_cancelled`` order event records the
    staff user, the reason and ``refund_due_fen``: what its lines cost the shopper after
    discounts (each order line's final amount, ``line_total_fen - discount_fen``, shared
    over the shipments carrying it in proportion to their units, so the shares of a split
    line add up to the line). The delivery fee is not in it.

    No money moves here: the refunds work (issue #7) refunds ``refund_due_fen`` from this
    event. An order not yet paid owes it only if it is paid after all; the order's state
    is in the event so the refund can tell. Raises ``ShipmentAlreadyDispatched`` or
    ``ShipmentAlreadyCancelled`` (409)."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a cancellation needs a reason")
    now = clock.now()
    with transaction.atomic():
        order, shipment = _lock(shipment_id)
        lines = list(ShipmentLine.objects.filter(shipment=shipment).order_by("product_id"))
        held = {(shipment.location_id, line.product_id): line.quantity for line in lines}
        _lock_stock(set(held))
        _release_stock(held)
        delivery_slots.give_back_capacity(location_id=shipment.location_id, date=shipment.slot_date, slot=shipment.slot)
        Shipment.objects.filter(pk=shipment.pk).update(status=S.CANCELLED, stock_released_at=now, pick_list=None)
        refund_due_fen = _final_amount_fen(lines)
        order_states.record_event(
            order_id=order.pk,
            event="shipment_cancelled",
            data={
                "shipment_id": shipment.pk,
                "location_id": shipment.location_id,
                "from_status": shipment.status,
                "order_state": order.state,
                "reason": reason,
                "by": _staff(staff_user),
                "lines": {str(line.product_id): line.quantity for line in lines},
                "refund_due_fen": refund_due_fen,
            },
        )
    return Cancelled(shipment_id=shipment.pk, refund_due_fen=refund_due_fen)


# --- The steps ----------------------------------------------------------------------------


def _lock(shipment_id: int) -> tuple[Order, Shipment]:
    """The order row, then the shipment (the payment's and the timeout's order); refuses a
    shipment that is no longer changeable."""
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise ShipmentNotFound(details={"shipment_id": shipment_id})
    order = (
        Order.objects.select_for_update(no_key=True)
        .only("id", "state", "channel", "city_id", "store_id", "delivery_address", "routing")
        .get(pk=order_id)
    )
    shipment = Shipment.objects.select_for_update(no_key=True).get(pk=shipment_id)
    if shipment.status == S.CANCELLED or shipment.stock_released_at is not None:
        raise ShipmentAlreadyCancelled(details={"shipment_id": shipment.pk, "status": shipment.status})
    if shipment.status not in CHANGEABLE or shipment.stock_consumed_at is not None:
        raise ShipmentAlreadyDispatched(details={"shipment_id": shipment.pk, "status": shipment.status})
    return order, shipment


def _destination(order: Order) -> GeoPoint:
    """Where the goods go: the address copied at checkout, or the pick-up store."""
    if order.channel == Order.Channel.PICKUP:
        store = Location.objects.only("latitude", "longitude").get(pk=order.store_id)
        return delivery_slots.location_point(store)
    address = order.delivery_address or {}
    return GeoPoint(latitude=float(address["latitude"]), longitude=float(address["longitude"]))


def _candidate_ids(*, city_id: int, shipment: Shipment, excluded: set[int]) -> list[int]:
    """The city's active locations routing may choose: not excluded, and with room in the
    shipment's slot (its booking row's, or the location's ``slot_capacity`` when the slot
    was never booked there). One query."""
    room = SlotCapacity.objects.filter(location=OuterRef("pk"), date=shipment.slot_date, slot=shipment.slot).values(
        left=F("capacity") - F("taken")
    )[:1]
    return list(
        Location.objects.filter(city_id=city_id, active=True)
        .exclude(pk__in=excluded)
        .annotate(room=Subquery(room, output_field=IntegerField()))
        .filter(Q(room__gt=0) | Q(room__isnull=True, slot_capacity__gt=0))
        .values_list("pk", flat=True)
    )


def _lock_stock(keys: set[tuple[int, int]]) -> None:
    """Lock the stock rows of both the old and the new locations at once, in (location,
    product) order, as a checkout does: releasing the old ones first and reserving the
    new ones after would take them in two orders."""
    if not keys:
        return
    where = Q()
    for location_id, product_id in keys:
        where |= Q(location_id=location_id, product_id=product_id)
    list(Stock.objects.select_for_update().filter(where).order_by("location_id", "product_id").values_list("pk"))


def _release_stock(held: dict[tuple[int, int], int]) -> None:
    """Give back what the shipment reserved, in one UPDATE; never below zero."""
    if not held:
        return
    where = Q()
    whens = []
    for (location_id, product_id), units in held.items():
        key = Q(location_id=location_id, product_id=product_id)
        where |= key
        whens.append(When(key, then=Value(units)))
    amount = Case(*whens, default=Value(0), output_field=IntegerField())
    Stock.objects.filter(where).update(reserved=Greatest(F("reserved") - amount, Value(0)))


def _move_capacity(*, shipment: Shipment, plan: RoutingPlan) -> None:
    """Give back the old location's booking and book each new shipment's, in location
    order; ``SlotFull`` if a checkout took the last place meanwhile."""
    taking: dict[int, int] = defaultdict(int)
    for planned in plan.shipments:
        taking[planned.location_id] += 1
    for location_id in sorted({shipment.location_id, *taking}):
        if location_id == shipment.location_id:
            delivery_slots.give_back_capacity(location_id=location_id, date=shipment.slot_date, slot=shipment.slot)
        for _ in range(taking.get(location_id, 0)):
            if not delivery_slots.take_capacity(location_id=location_id, date=shipment.slot_date, slot=shipment.slot):
                raise shipments.SlotFull(
                    details={"slot": f"{shipment.slot_date.isoformat()}/{shipment.slot}", "location_id": location_id}
                )


def _apply_plan(*, shipment: Shipment, lines: list[ShipmentLine], plan: RoutingPlan) -> list[tuple[int, int]]:
    """The shipment now comes from the plan's nearest location and keeps the lines that
    one sends; the other planned locations get new shipments in the same slot and stage
    (a shipment that was on a pick list waits for one at its new location). Returns
    (shipment id, location id) pairs, nearest first."""
    status = S.PENDING_PAYMENT if shipment.status == S.PENDING_PAYMENT else S.AWAITING_PICK
    first, *others = plan.shipments
    Shipment.objects.filter(pk=shipment.pk).update(
        location_id=first.location_id, distance_m=round(first.distance_m), status=status, pick_list=None
    )
    by_product = {line.product_id: line for line in lines}
    if others:
        ShipmentLine.objects.filter(shipment=shipment).exclude(product_id__in=list(first.lines)).delete()
        changed = {by_product[p].pk: units for p, units in first.lines.items() if by_product[p].quantity != units}
        if changed:
            amount = Case(*(When(pk=pk, then=Value(u)) for pk, u in changed.items()), output_field=IntegerField())
            ShipmentLine.objects.filter(pk__in=changed).update(quantity=amount)
    created = Shipment.objects.bulk_create(
        Shipment(
            order_id=shipment.order_id,
            location_id=planned.location_id,
            slot_date=shipment.slot_date,
            slot=shipment.slot,
            status=status,
            distance_m=round(planned.distance_m),
        )
        for planned in others
    )
    ShipmentLine.objects.bulk_create(
        ShipmentLine(shipment=new, order_line_id=by_product[p].order_line_id, product_id=p, quantity=units)
        for new, planned in zip(created, others, strict=True)
        for p, units in sorted(planned.lines.items())
    )
    return [
        (shipment.pk, first.location_id),
        *((new.pk, planned.location_id) for new, planned in zip(created, others, strict=True)),
    ]


def _final_amount_fen(lines: list[ShipmentLine]) -> int:
    """What ``lines`` cost after discounts: each order line's final amount shared by units
    over every shipment line carrying it (``money.allocate``, so split shares add up)."""
    order_line_ids = {line.order_line_id for line in lines}
    if not order_line_ids:
        return 0
    finals = {
        pk: total - discount
        for pk, total, discount in OrderLine.objects.filter(pk__in=order_line_ids).values_list(
            "pk", "line_total_fen", "discount_fen"
        )
    }
    carriers: dict[int, dict[int, int]] = defaultdict(dict)
    for pk, order_line_id, units in ShipmentLine.objects.filter(order_line_id__in=order_line_ids).values_list(
        "pk", "order_line_id", "quantity"
    ):
        carriers[order_line_id][pk] = units
    return sum(_shares(finals[line.order_line_id], carriers[line.order_line_id])[line.pk] for line in lines)


def _shares(amount_fen: int, units: dict[int, int]) -> dict[int, int]:
    """``amount_fen`` over shipment lines by units. ``allocate`` caps each share at its
    weight, so the weights are units times the amount: the same proportions, no cap hit."""
    return allocate(amount_fen, {pk: count * amount_fen for pk, count in units.items()})


def _staff(user: Any) -> dict[str, Any]:
    return {"user_id": getattr(user, "pk", None), "username": user.get_username() if user is not None else ""}
