"""Fulfilment: a paid shipment's way from its location to the shopper's door (or to the
pick-up station), driven by two periodic tasks; what the courier reports afterwards is
``checkout.courier_events``.

* ``build_pick_lists``: once a city's cut-off has passed, nothing more can be booked for
  tomorrow, so tomorrow's paid shipments are batched into one pick list per location
  and slot and move to ``picking``. Express shipments are today's and go at once.
* ``dispatch_due_shipments``: a shipment whose slot starts within
  ``DISPATCH_LEAD_MINUTES`` gets a courier of its city with room left in that slot, the
  courier provider books the delivery, its stock is consumed, and it is ``dispatched``.
  A pick-up order collected where its goods are needs no courier: it is
  ``ready_for_pickup`` at once.

Both pick due rows with ``select_for_update(skip_locked=True)`` in small batches, each
batch its own transaction, and move them by conditional updates: two workers (or a
redelivered task) take disjoint rows, and a row already moved is not due any more, so
every task may run twice and still dispatch once.

Locks, in the order every writer of these rows takes them (the payment, the payment
timeout, the courier webhook and staff's re-route and cancel included): the order row,
then its shipments, then couriers by id, then stock rows by (location, product). The
tasks take an order row and its shipment in one statement and skip both when either is
locked; they lock the order ``FOR NO KEY UPDATE``, which the order events they insert (a
foreign key takes ``KEY SHARE`` on the order) do not wait for.

Each transition of a shipment is one function (here ``_to_picking``, ``_dispatched``,
``ready_for_pickup``; in ``courier_events`` the rest): the place to hang anything that
must happen with it, such as telling the shopper.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone

from miniprogram_api.core import clock
from stores.models import City, Location, Stock

from . import notifications, order_states
from .couriers.base import (
    CourierProvider,
    CourierProviderError,
    CourierProviderUnavailable,
    DeliveryItem,
    DeliveryRequest,
    Stop,
)
from .couriers.providers import get_courier_provider
from .delivery_models import Courier, PickList, Shipment, ShipmentLine
from .delivery_slots import EXPRESS, EXPRESS_WITHIN
from .models import Order, OrderEvent

logger = logging.getLogger(__name__)

S = Shipment.Status
PICK_LIST_BATCH_SIZE = 200
# Small: a batch holds its rows (and its city's couriers) while the provider books each.
DISPATCH_BATCH_SIZE = 20
DEFAULT_WINDOW = dt.timedelta(hours=3)  # a window whose end cannot be read


# --- Pick lists ---------------------------------------------------------------------------


def build_pick_lists(*, now: dt.datetime | None = None, batch_size: int = PICK_LIST_BATCH_SIZE) -> int:
    """Put the due paid shipments on their location's pick list for their slot; returns how
    many moved to ``picking``.

    Due: awaiting their pick, for today or earlier, or for tomorrow in a city whose
    cut-off has passed today (Asia/Shanghai). A shipment paid after the run (a checkout
    just before the cut-off, paid just after it) joins the same pick list next run."""
    now = now or clock.now()
    due = _due_for_picking(now)
    moved, after = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                Shipment.objects.filter(due, pk__gt=after)
                .select_related("order")
                .only("id", "order_id", "location_id", "slot_date", "slot", "status", "order__id")
                .select_for_update(skip_locked=True, of=("self", "order"), no_key=True)
                .order_by("pk")[:batch_size]
            )
            groups: dict[tuple[int, dt.date, str], list[Shipment]] = defaultdict(list)
            for shipment in batch:
                groups[shipment.location_id, shipment.slot_date, shipment.slot].append(shipment)
            for (location_id, slot_date, slot), shipments in sorted(groups.items()):
                pick_list, _ = PickList.objects.get_or_create(location_id=location_id, slot_date=slot_date, slot=slot)
                moved += _to_picking(shipments, pick_list=pick_list)
        if len(batch) < batch_size:
            return moved
        after = batch[-1].pk


def _due_for_picking(now: dt.datetime) -> Q:
    local = timezone.localtime(now)
    today = local.date()
    past_cutoff = [pk for pk, cutoff in City.objects.values_list("pk", "delivery_cutoff") if local.time() >= cutoff]
    return Q(status=S.AWAITING_PICK) & (
        Q(slot_date__lte=today) | Q(slot_date=today + dt.timedelta(days=1), location__city_id__in=past_cutoff)
    )


def _to_picking(shipments: Sequence[Shipment], *, pick_list: PickList) -> int:
    """awaiting_pick -> picking, on ``pick_list``."""
    ids = [shipment.pk for shipment in shipments]
    moved = Shipment.objects.filter(pk__in=ids, status=S.AWAITING_PICK).update(status=S.PICKING, pick_list=pick_list)
    OrderEvent.objects.bulk_create(
        OrderEvent(
            order_id=shipment.order_id,
            type="shipment_picking",
            data={"shipment_id": shipment.pk, "pick_list_id": pick_list.pk, "slot": shipment.slot},
        )
        for shipment in shipments
    )
    return moved


# --- Dispatch -----------------------------------------------------------------------------


def dispatch_due_shipments(*, now: dt.datetime | None = None, batch_size: int = DISPATCH_BATCH_SIZE) -> int:
    """Dispatch (or make ready at the pick-up station) every shipment whose slot starts
    within ``DISPATCH_LEAD_MINUTES``; returns how many moved.

    One with no courier of its city left with room in its slot, or that the provider
    could not book now, stays in ``picking`` for the next run (logged; staff see it in the
    admin). The provider is called inside the batch's transaction, with a reference per
    attempt: a batch that rolls back after booking asks again for the same waybill."""
    now = now or clock.now()
    provider = get_courier_provider()
    due = _due_for_dispatch(now)
    moved, after = 0, 0
    while True:
        with transaction.atomic():
            batch = list(
                Shipment.objects.filter(due, pk__gt=after)
                .select_related("order", "location")
                .select_for_update(skip_locked=True, of=("self", "order"), no_key=True)
                .order_by("pk")[:batch_size]
            )
            moved += _dispatch_batch(batch, provider=provider, now=now)
        if len(batch) < batch_size:
            return moved
        after = batch[-1].pk


def _due_for_dispatch(now: dt.datetime) -> Q:
    """Picking (or express, which skips the pick list) and the slot starts by now + lead.

    Windows are fixed-width ``"HH:MM-HH:MM"`` (the only slot ids checkout books), so "starts
    by HH:MM on that date" is a text comparison with ``"HH:MM-99:99"``; ``"express"`` sorts
    after every window and is due whatever the time."""
    horizon = timezone.localtime(now + dt.timedelta(minutes=settings.DISPATCH_LEAD_MINUTES))
    starts_by = Q(slot_date__lt=horizon.date()) | Q(slot_date=horizon.date(), slot__lte=f"{horizon:%H:%M}-99:99")
    return (
        Q(status=S.PICKING, slot=EXPRESS) | (Q(status=S.PICKING) & starts_by) | Q(status=S.AWAITING_PICK, slot=EXPRESS)
    )


def _dispatch_batch(batch: list[Shipment], *, provider: CourierProvider, now: dt.datetime) -> int:
    at_station = [shipment for shipment in batch if _collected_where_it_is(shipment)]
    by_courier = [shipment for shipment in batch if not _collected_where_it_is(shipment)]
    couriers = _assign_couriers(by_courier)
    lines = _lines_of([shipment.pk for shipment in batch])
    stations = Location.objects.in_bulk(
        {s.order.store_id for s in by_courier if s.order.channel == Order.Channel.PICKUP and s.order.store_id}
    )
    booked: list[tuple[Shipment, Courier, str]] = []
    for shipment in by_courier:
        courier = couriers.get(shipment.pk)
        if courier is None:
            continue
        request = _delivery_request(shipment, courier=courier, lines=lines, stations=stations, now=now)
        try:
            tracking_no = provider.create_delivery(request)
        except (CourierProviderUnavailable, CourierProviderError) as exc:
            logger.warning("shipment %s: courier provider %s, will retry: %s", shipment.pk, exc.code, exc.message)
            continue
        booked.append((shipment, courier, tracking_no))

    _consume_stock([shipment for shipment, _, _ in booked] + at_station, lines=lines, now=now)
    for shipment, courier, tracking_no in booked:
        _dispatched(shipment, courier=courier, tracking_no=tracking_no, now=now)
    for shipment in at_station:
        ready_for_pickup(shipment, at=now, via="station_stock")
    return len(booked) + len(at_station)


def _collected_where_it_is(shipment: Shipment) -> bool:
    """A pick-up order's shipment from the pick-up store itself: no courier, no travel."""
    return shipment.order.channel == Order.Channel.PICKUP and shipment.location_id == shipment.order.store_id


def _assign_couriers(shipments: Sequence[Shipment]) -> dict[int, Courier]:
    """shipment id -> a courier of its city with room in its slot, the least loaded first.

    The city's couriers are locked in id order, so concurrent dispatchers count the same
    load one after the other and never book a courier past ``slot_capacity`` shipments
    in a slot (on a date). Express counts as one slot a day."""
    if not shipments:
        return {}
    cities = sorted({shipment.location.city_id for shipment in shipments})
    couriers = list(Courier.objects.select_for_update().filter(city_id__in=cities, active=True).order_by("pk"))
    slots = Q()
    for shipment in shipments:
        slots |= Q(slot_date=shipment.slot_date, slot=shipment.slot)
    load: Counter[tuple[int, dt.date, str]] = Counter()
    if couriers:
        for courier_id, slot_date, slot, count in (
            Shipment.objects.filter(slots, courier_id__in=[courier.pk for courier in couriers])
            .exclude(status=S.CANCELLED)
            .order_by()
            .values("courier_id", "slot_date", "slot")
            .annotate(count=Count("pk"))
            .values_list("courier_id", "slot_date", "slot", "count")
        ):
            load[courier_id, slot_date, slot] = count

    assigned: dict[int, Courier] = {}
    unassigned: Counter[tuple[int, dt.date, str]] = Counter()
    for shipment in shipments:
        city_id = shipment.location.city_id
        room = [
            courier
            for courier in couriers
            if courier.city_id == city_id
            and load[courier.pk, shipment.slot_date, shipment.slot] < courier.slot_capacity
        ]
        if not room:
            unassigned[city_id, shipment.slot_date, shipment.slot] += 1
            continue
        courier = min(room, key=lambda c: (load[c.pk, shipment.slot_date, shipment.slot], c.pk))
        load[courier.pk, shipment.slot_date, shipment.slot] += 1
        assigned[shipment.pk] = courier
    for (city_id, slot_date, slot), count in sorted(unassigned.items()):
        logger.warning(
            "no courier with room in city %s for %s %s: %s shipment(s) wait", city_id, slot_date, slot, count
        )
    return assigned


@dataclass(frozen=True)
class _Line:
    location_id: int
    product_id: int
    quantity: int
    sku: str
    name: str


def _lines_of(shipment_ids: Sequence[int]) -> dict[int, list[_Line]]:
    lines: dict[int, list[_Line]] = defaultdict(list)
    for shipment_id, location_id, product_id, quantity, sku, name in (
        ShipmentLine.objects.filter(shipment_id__in=shipment_ids)
        .order_by("shipment_id", "product_id")
        .values_list(
            "shipment_id", "shipment__location_id", "product_id", "quantity", "order_line__sku", "order_line__name"
        )
    ):
        lines[shipment_id].append(_Line(location_id, product_id, quantity, sku, name))
    return lines


def _consume_stock(shipments: Sequence[Shipment], *, lines: Mapping[int, list[_Line]], now: dt.datetime) -> None:
    """The goods leave: ``on_hand`` and ``reserved`` both drop by what each shipment
    carries, once per shipment however often it is dispatched (``stock_consumed_at``).

    The stock rows are locked in (location, product) order, as every stock writer takes
    them, then written by one UPDATE. Neither count goes below zero, so stock that staff
    corrected by hand meanwhile never blocks a shipment that has physically left."""
    ids = [shipment.pk for shipment in shipments]
    claimed = list(
        Shipment.objects.filter(pk__in=ids, stock_consumed_at__isnull=True, stock_released_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if not claimed:
        return
    Shipment.objects.filter(pk__in=claimed).update(stock_consumed_at=now)
    taken: dict[tuple[int, int], int] = defaultdict(int)
    for shipment_id in claimed:
        for line in lines.get(shipment_id, ()):
            taken[line.location_id, line.product_id] += line.quantity
    if not taken:
        return
    where = Q()
    for location_id, product_id in taken:
        where |= Q(location_id=location_id, product_id=product_id)
    rows = list(
        Stock.objects.select_for_update()
        .filter(where)
        .order_by("location_id", "product_id")
        .values_list("pk", "location_id", "product_id")
    )
    amount = Case(
        *(When(pk=pk, then=Value(taken[location_id, product_id])) for pk, location_id, product_id in rows),
        default=Value(0),
        output_field=IntegerField(),
    )
    Stock.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
        on_hand=Greatest(F("on_hand") - amount, Value(0)), reserved=Greatest(F("reserved") - amount, Value(0))
    )


def _delivery_request(
    shipment: Shipment,
    *,
    courier: Courier,
    lines: Mapping[int, list[_Line]],
    stations: Mapping[int, Location],
    now: dt.datetime,
) -> DeliveryRequest:
    order = shipment.order
    if order.channel == Order.Channel.PICKUP:
        destination = _stop_at(stations[order.store_id])
    else:
        address = order.delivery_address or {}
        destination = Stop(
            name=address.get("recipient", ""),
            phone=address.get("phone", ""),
            address=address.get("text", ""),
            latitude=str(address.get("latitude", "")),
            longitude=str(address.get("longitude", "")),
        )
    start, end = (
        (now, now + EXPRESS_WITHIN) if shipment.slot == EXPRESS else slot_bounds(shipment.slot_date, shipment.slot)
    )
    return DeliveryRequest(
        reference=f"{shipment.pk}-{shipment.attempts + 1}",
        order_number=order.number,
        courier_ref=courier.provider_ref,
        origin=_stop_at(shipment.location),
        destination=destination,
        window_start=start,
        window_end=end,
        items=tuple(DeliveryItem(sku=line.sku, name=line.name, quantity=line.quantity) for line in lines[shipment.pk]),
    )


def _stop_at(location: Location) -> Stop:
    return Stop(
        name=location.name,
        phone="",
        address=location.address,
        latitude=str(location.latitude),
        longitude=str(location.longitude),
    )


def slot_bounds(slot_date: dt.date, window: str) -> tuple[dt.datetime, dt.datetime]:
    """A window ``"HH:MM-HH:MM"`` on a local date as aware datetimes (an end at or before
    the start is the next day's)."""
    zone = timezone.get_default_timezone()
    first, _, last = window.partition("-")
    start = timezone.make_aware(dt.datetime.combine(slot_date, dt.time.fromisoformat(first)), zone)
    try:
        end = timezone.make_aware(dt.datetime.combine(slot_date, dt.time.fromisoformat(last)), zone)
    except ValueError:
        end = start + DEFAULT_WINDOW
    if end <= start:
        end += dt.timedelta(days=1)
    return start, end


def _dispatched(shipment: Shipment, *, courier: Courier, tracking_no: str, now: dt.datetime) -> None:
    """picking (awaiting_pick for express) -> dispatched, with its courier and waybill."""
    Shipment.objects.filter(pk=shipment.pk, status__in=(S.PICKING, S.AWAITING_PICK)).update(
        status=S.DISPATCHED,
        courier=courier,
        tracking_no=tracking_no,
        attempts=F("attempts") + 1,
        dispatched_at=now,
    )
    order_states.record_event(
        order_id=shipment.order_id,
        event="shipment_dispatched",
        data={
            "shipment_id": shipment.pk,
            "courier_id": courier.pk,
            "courier": courier.name,
            "tracking_no": tracking_no,
            "attempt": shipment.attempts + 1,
        },
    )
    notifications.notify(shipment.order_id, "dispatched")


def ready_for_pickup(shipment: Shipment, *, at: dt.datetime, via: str) -> None:
    """-> ready_for_pickup: staged at the station from its own stock (``via``
    ``station_stock``), or brought there by a courier (``courier``)."""
    Shipment.objects.filter(pk=shipment.pk).update(status=S.READY_FOR_PICKUP, ready_at=at)
    order_states.record_event(
        order_id=shipment.order_id,
        event="shipment_ready_for_pickup",
        data={"shipment_id": shipment.pk, "via": via, "at": clock.local_iso(at)},
    )
    notifications.notify(shipment.order_id, "ready_for_pickup")
