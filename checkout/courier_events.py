"""What the courier provider reports about a dispatched shipment (through the signed
webhook, ``POST /api/couriers/v1/events``), applied once per ``event_id``.

``picked_up`` moves a dispatched shipment on; ``delivered`` delivers it (or, for a pick-up
order, makes it ready at the station), and the order is delivered once every shipment
not cancelled is: ``Order.delivered_at`` starts the 14-day return window. ``failed``
sends the shipment back to ``picking`` in the city's next window, with its courier
cleared so the next dispatch books one, until ``FAILED_DELIVERY_MAX_ATTEMPTS``; then it
is ``failed`` for staff. Events arrive out of order: a ``delivered`` before its
``picked_up`` is accepted, and one that no longer fits (a ``picked_up`` after
``delivered``, anything for a cancelled shipment) is recorded and changes nothing.

Locks as in ``checkout.fulfilment``: the order row, then the shipment. The order row is
what makes "every shipment delivered" safe to decide when two arrive at once.

Each transition is one function (``_picked_up``, ``_delivered``, ``_retry``,
``_failed``, and ``fulfilment.ready_for_pickup``), and the order's delivery is
``settle_order_delivery``: the places to hang anything that must happen with them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from miniprogram_api.core import clock
from miniprogram_api.core.errors import NotFound
from stores.models import City

from . import notifications, order_states
from .delivery_models import CourierEvent, PickList, Shipment
from .fulfilment import ready_for_pickup, slot_bounds
from .models import Order

logger = logging.getLogger(__name__)

S = Shipment.Status

EventOutcome = Literal["applied", "duplicate", "ignored"]


class UnknownTrackingNumber(NotFound):
    """No shipment has this waybill (a superseded one, after a retry was dispatched with a
    new waybill, is unknown too)."""

    code = "unknown_tracking_no"
    default_message = "No shipment has this tracking number."


@dataclass(frozen=True)
class CourierEventResult:
    """``applied``: the shipment moved; ``ignored``: recorded, but it changes nothing (late,
    out of order, or the shipment is cancelled); ``duplicate``: this ``event_id`` was
    applied before, nothing was written."""

    outcome: EventOutcome
    shipment_id: int
    status: str


def apply_courier_event(
    *,
    event_id: str,
    tracking_no: str,
    kind: str,
    occurred_at: dt.datetime,
    payload: Mapping[str, Any] | None = None,
) -> CourierEventResult:
    """Apply what the courier reports about waybill ``tracking_no``, once per ``event_id``
    (see the module docstring for what each kind does). Raises ``UnknownTrackingNumber``."""
    if kind not in CourierEvent.Kind.values:
        raise ValueError(f"unknown courier event kind {kind!r}")
    payload = dict(payload or {})
    seen = CourierEvent.objects.filter(event_id=event_id).select_related("shipment").first()
    if seen is not None:
        return CourierEventResult(outcome="duplicate", shipment_id=seen.shipment_id, status=seen.shipment.status)
    found = (
        Shipment.objects.filter(tracking_no=tracking_no)
        .exclude(tracking_no="")
        .order_by("-pk")
        .values_list("pk", "order_id")
        .first()
    )
    if found is None:
        raise UnknownTrackingNumber(details={"tracking_no": tracking_no})
    shipment_id, order_id = found
    with transaction.atomic():
        list(Order.objects.select_for_update(no_key=True).filter(pk=order_id).values_list("pk"))
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .select_related("order", "location__city")
            .get(pk=shipment_id)
        )
        try:
            with transaction.atomic():
                CourierEvent.objects.create(
                    event_id=event_id, shipment=shipment, kind=kind, occurred_at=occurred_at, payload=payload
                )
        except IntegrityError:  # the same event, delivered twice at once
            return CourierEventResult(outcome="duplicate", shipment_id=shipment.pk, status=shipment.status)
        # Re-dispatched with a new waybill since it was looked up: the old one's news is history.
        current = shipment.tracking_no == tracking_no
        status = _apply_event(shipment, kind=kind, occurred_at=occurred_at, payload=payload) if current else None
    if status is None:
        return CourierEventResult(outcome="ignored", shipment_id=shipment.pk, status=shipment.status)
    return CourierEventResult(outcome="applied", shipment_id=shipment.pk, status=status)


def _apply_event(shipment: Shipment, *, kind: str, occurred_at: dt.datetime, payload: Mapping[str, Any]) -> str | None:
    """The status the event moved the shipment to, or None if it moved nothing."""
    status = shipment.status
    if status == S.CANCELLED:
        return None
    if kind == CourierEvent.Kind.PICKED_UP:
        if status != S.DISPATCHED:
            return None
        _picked_up(shipment, at=occurred_at)
        return S.PICKED_UP
    if kind == CourierEvent.Kind.DELIVERED:
        # After a failure the goods may still reach the shopper (a "failed" sent in error,
        # a rider who came back): the proof of delivery wins while the retry waits.
        delivered_late = status in (S.PICKING, S.FAILED) and shipment.attempts > 0
        if status not in (S.DISPATCHED, S.PICKED_UP) and not delivered_late:
            return None
        if shipment.order.channel == Order.Channel.PICKUP:
            ready_for_pickup(shipment, at=occurred_at, via="courier")
            return S.READY_FOR_PICKUP
        _delivered(shipment, at=occurred_at)
        settle_order_delivery(order_id=shipment.order_id)
        return S.DELIVERED
    if kind == CourierEvent.Kind.FAILED:
        if status not in (S.DISPATCHED, S.PICKED_UP):
            return None
        reason = str(payload.get("reason") or "")[:200] or "The courier reported a failed delivery."
        if shipment.attempts < settings.FAILED_DELIVERY_MAX_ATTEMPTS:
            _retry(shipment, reason=reason, at=occurred_at)
            return S.PICKING
        _failed(shipment, reason=reason, at=occurred_at)
        return S.FAILED
    return None


def _picked_up(shipment: Shipment, *, at: dt.datetime) -> None:
    """dispatched -> picked_up: the rider has the goods."""
    Shipment.objects.filter(pk=shipment.pk).update(status=S.PICKED_UP)
    order_states.record_event(
        order_id=shipment.order_id,
        event="shipment_picked_up",
        data={"shipment_id": shipment.pk, "tracking_no": shipment.tracking_no, "at": clock.local_iso(at)},
    )


def _delivered(shipment: Shipment, *, at: dt.datetime) -> None:
    """-> delivered, at the time the courier reports."""
    Shipment.objects.filter(pk=shipment.pk).update(status=S.DELIVERED, delivered_at=at)
    order_states.record_event(
        order_id=shipment.order_id,
        event="shipment_delivered",
        data={"shipment_id": shipment.pk, "tracking_no": shipment.tracking_no, "at": clock.local_iso(at)},
    )


def _retry(shipment: Shipment, *, reason: str, at: dt.datetime) -> None:
    """dispatched/picked_up -> picking, in the city's next window after ``at``, on that
    window's pick list and without a courier: the next dispatch books one (and a new
    waybill). The stock stays consumed: the goods come back with the rider."""
    slot_date, slot = next_window(city=shipment.location.city, after=max(at, clock.now()))
    pick_list, _ = PickList.objects.get_or_create(location_id=shipment.location_id, slot_date=slot_date, slot=slot)
    Shipment.objects.filter(pk=shipment.pk).update(
        status=S.PICKING, courier=None, slot_date=slot_date, slot=slot, pick_list=pick_list, failure_reason=reason
    )
    order_states.record_event(
        order_id=shipment.order_id,
        event="shipment_delivery_retry",
        data={
            "shipment_id": shipment.pk,
            "tracking_no": shipment.tracking_no,
            "attempts": shipment.attempts,
            "reason": reason,
            "failed_at": clock.local_iso(at),
            "retry_slot": f"{slot_date.isoformat()}/{slot}",
        },
    )


def _failed(shipment: Shipment, *, reason: str, at: dt.datetime) -> None:
    """dispatched/picked_up -> failed, for staff: no attempts left."""
    Shipment.objects.filter(pk=shipment.pk).update(status=S.FAILED, failure_reason=reason)
    logger.warning("shipment %s failed %s time(s), staff must act: %s", shipment.pk, shipment.attempts, reason)
    order_states.record_event(
        order_id=shipment.order_id,
        event="shipment_delivery_failed",
        data={
            "shipment_id": shipment.pk,
            "tracking_no": shipment.tracking_no,
            "attempts": shipment.attempts,
            "reason": reason,
            "failed_at": clock.local_iso(at),
        },
    )
    notifications.notify(shipment.order_id, "delivery_failed")


def next_window(*, city: City, after: dt.datetime) -> tuple[dt.date, str]:
    """The first of the city's delivery windows that starts after ``after``: later today,
    else tomorrow's first."""
    day = timezone.localtime(after).date()
    windows = sorted(city.delivery_slots) or ["09:00-12:00"]
    for date in (day, day + dt.timedelta(days=1)):
        for window in windows:
            if slot_bounds(date, window)[0] > after:
                return date, window
    return day + dt.timedelta(days=2), windows[0]


def settle_order_delivery(*, order_id: int) -> dt.datetime | None:
    """Once every shipment of the order not cancelled is delivered, the order is: its
    ``delivered_at`` is the latest shipment's, and the 14-day return window starts there.
    Returns it when this call set it. Call with the order row locked (as the callers
    here do), or two shipments delivered at once could each miss the other."""
    shipments = list(
        Shipment.objects.filter(order_id=order_id).exclude(status=S.CANCELLED).values_list("status", "delivered_at")
    )
    if not shipments or any(status != S.DELIVERED or at is None for status, at in shipments):
        return None
    latest = max(at for _, at in shipments)
    if not Order.objects.filter(pk=order_id, delivered_at__isnull=True).update(delivered_at=latest):
        return None
    order_states.record_event(order_id=order_id, event="delivered", data={"delivered_at": clock.local_iso(latest)})
    notifications.notify(order_id, "delivered")
    return latest
