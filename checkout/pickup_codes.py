"""Pick-up codes: what a shopper shows at the store's pick-up station, and the hand-over.

A pick-up order gets an 8-digit random code when it is created (or paid, if it had none).
Codes need only be unique among the open pick-up orders of one store (not yet collected,
not closed or cancelled), since staff look a code up at their own store: a new code is
drawn until no such order holds it. Two checkouts drawing the same code at the same
instant could both keep it (about one chance in 10^8 per pair of open orders); the
hand-over then refuses the code as ambiguous and staff use the order number.

The code is a bearer credential at the station, like a parcel locker's: it is shown only
to the order's shopper, and collecting needs the code at the right store with every
shipment of the order ready.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import transaction

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, NotFound
from stores.models import Location

from . import exitpass, notifications, order_states
from .delivery_models import Shipment
from .models import Order
from .orders import order_get

CODE_DIGITS = 8
DRAWS = 20
OPEN_STATES = (Order.State.PENDING_PAYMENT, Order.State.PAID, Order.State.PARTIALLY_REFUNDED)
COLLECTABLE_STATES = (Order.State.PAID, Order.State.PARTIALLY_REFUNDED)
AT_STATION = (Shipment.Status.READY_FOR_PICKUP, Shipment.Status.DELIVERED)


class PickupCodeUnavailable(Conflict):
    code = "pickup_code_unavailable"
    default_message = "Only a paid pick-up order has a pick-up code."


class PickupCodeNotFound(NotFound):
    code = "pickup_code_not_found"
    default_message = "No open pick-up order at this store has this code."


class PickupCodeAmbiguous(Conflict):
    code = "pickup_code_ambiguous"
    default_message = "More than one open order at this store has this code; hand over by order number."


class PickupNotReady(Conflict):
    code = "pickup_not_ready"
    default_message = "Not every shipment of this order has reached the pick-up station yet."


class AlreadyCollected(Conflict):
    code = "pickup_already_collected"
    default_message = "This order was already collected."


@dataclass(frozen=True)
class PickupCode:
    code: str
    store: Location
    ready: bool
    collected_at: dt.datetime | None


def assign_code(*, order_id: int) -> str:
    """The order's pick-up code, drawn now if it has none; "" for other channels."""
    order = Order.objects.only("channel", "store_id", "pickup_code").get(pk=order_id)
    if order.channel != Order.Channel.PICKUP:
        return ""
    if order.pickup_code:
        return order.pickup_code
    for _ in range(DRAWS):
        code = _draw()
        if _open_orders(store_id=order.store_id, code=code).exists():
            continue
        if Order.objects.filter(pk=order_id, pickup_code="").update(pickup_code=code):
            return code
        return Order.objects.values_list("pickup_code", flat=True).get(pk=order_id)  # assigned meanwhile
    raise RuntimeError(f"no free pick-up code at store {order.store_id} after {DRAWS} draws")


def _draw() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _open_orders(*, store_id: int | None, code: str):
    return Order.objects.filter(
        store_id=store_id,
        channel=Order.Channel.PICKUP,
        pickup_code=code,
        state__in=OPEN_STATES,
        delivered_at__isnull=True,
    )


def pickup_code_for_shopper(*, customer_id: int, order_id: int) -> PickupCode:
    """The code of the shopper's own paid pick-up order; another shopper's is not found."""
    order = order_get(customer_id=customer_id, order_id=order_id)
    if order.channel != Order.Channel.PICKUP or order.state not in COLLECTABLE_STATES or order.store is None:
        raise PickupCodeUnavailable(details={"state": order.state, "channel": order.channel})
    code = order.pickup_code or assign_code(order_id=order.pk)
    statuses = [shipment.status for shipment in order.shipments.all()]
    return PickupCode(code=code, store=order.store, ready=_ready(statuses), collected_at=order.delivered_at)


def qr_png(code: str) -> bytes:
    return exitpass.qr_png(code)


def _ready(statuses: list[str]) -> bool:
    """Every shipment not cancelled is at the station (or already handed over)."""
    live = [status for status in statuses if status != Shipment.Status.CANCELLED]
    return bool(live) and all(status in AT_STATION for status in live)


def hand_over(*, store_id: int, code: str, staff_id: int | None = None) -> Order:
    """Staff at ``store_id``'s station give the shopper showing ``code`` their order: its
    shipments waiting at the station become delivered, and the order's ``delivered_at``
    (the start of the return window) is set. Once only: the order row is locked and the
    shipments move by a conditional UPDATE."""
    code = code.strip()
    if len(code) != CODE_DIGITS or not code.isdigit():
        raise PickupCodeNotFound(details={"code": code[:16]})
    with transaction.atomic():
        matches = list(
            Order.objects.select_for_update()
            .filter(store_id=store_id, channel=Order.Channel.PICKUP, pickup_code=code, state__in=COLLECTABLE_STATES)
            .order_by("-pk")[:5]
        )
        open_orders = [order for order in matches if order.delivered_at is None]
        if not open_orders:
            if matches:
                collected = matches[0]
                raise AlreadyCollected(
                    details={"order": collected.number, "collected_at": clock.local_iso(collected.delivered_at)}
                )
            raise PickupCodeNotFound(details={"code": code})
        if len(open_orders) > 1:
            raise PickupCodeAmbiguous(details={"orders": [order.number for order in open_orders]})
        order = open_orders[0]
        statuses = dict(Shipment.objects.filter(order_id=order.pk).values_list("pk", "status"))
        if not _ready(list(statuses.values())):
            raise PickupNotReady(details={"shipments": {str(pk): status for pk, status in statuses.items()}})
        now = clock.now()
        Shipment.objects.filter(order_id=order.pk, status=Shipment.Status.READY_FOR_PICKUP).update(
            status=Shipment.Status.DELIVERED, delivered_at=now
        )
        Order.objects.filter(pk=order.pk, delivered_at__isnull=True).update(delivered_at=now)
        order.delivered_at = now
        order_states.record_event(
            order_id=order.pk,
            event="collected_at_station",
            data={"store_id": store_id, "shipment_ids": sorted(statuses), "staff_id": staff_id},
        )
        notifications.notify(order.pk, "delivered")
    return order
