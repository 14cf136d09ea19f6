"""Delivery slots: the day and window an order is delivered (or collected) in, the cut-off
that decides the day, and how much room each fulfilment location has left in a window.

Slot ids are what the client sends back as ``slot`` at checkout, and stay stable:

* ``"2026-11-23/09:00-12:00"``: a window (local Asia/Shanghai time) of one of the city's
  ``delivery_slots`` on that local date, for delivery or for collection at a pick-up
  station (which of the two is said by sending ``address_id`` or ``pickup_store_id``);
* ``"express"``: today, within the hour, from a store near the address.

The delivery date is the local date plus one day when the order is placed before the
city's ``delivery_cutoff`` (22:00 by default), else plus two: 21:59:59 delivers tomorrow,
22:00:00 the day after. Only that date's windows are bookable; an earlier one is "in the
past", a later one is not offered.

Capacity is per fulfilment location, date and window (``SlotCapacity``, created when first
booked with the location's ``slot_capacity``). An order split over locations needs room at
each, so the room an order sees in a window is the smallest over its shipments'
locations. ``take_capacity`` is one conditional UPDATE (``taken < capacity``), so
concurrent checkouts never book past it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from miniprogram_api.core import clock
from miniprogram_api.core.errors import NotFound, Unprocessable
from stores.geo import GeoPoint, distance_m_expression, haversine_m
from stores.models import City, Location
from stores.routing import RoutingPlan, route
from stores.selectors import MAX_ID

from . import addresses
from .delivery_models import Address, CartLine, SlotCapacity

EXPRESS = "express"
EXPRESS_WITHIN = dt.timedelta(hours=1)
# With an address, pick-up is offered at this many of the nearest pick-up stations: each is
# routed on its own, and a shopper collects near home, not across the city.
PICKUP_STORES_LISTED = 3

_SLOT_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{2}:\d{2}-\d{2}:\d{2})$")


class SlotUnavailable(Unprocessable):
    """The slot is in the past (the cut-off moved the delivery date on), is not one of the
    city's windows, or is express where express is not offered. ``details.reason`` says
    which (``past``, ``not_offered``, ``express_unavailable``); the client lists the slots
    again."""

    code = "slot_unavailable"
    default_message = "This delivery slot cannot be booked; choose another."


@dataclass(frozen=True)
class Slot:
    date: dt.date
    window: str  # "HH:MM-HH:MM", or "express"

    @property
    def id(self) -> str:
        return EXPRESS if self.is_express else f"{self.date.isoformat()}/{self.window}"

    @property
    def is_express(self) -> bool:
        return self.window == EXPRESS


@dataclass(frozen=True)
class SlotOption:
    """One choice the shopper has: ``remaining`` is None while the cart is empty (there is
    nothing to route, so no location to count room at)."""

    kind: str  # next_day / express / pickup
    slot: Slot
    window: str  # the local window to show ("HH:MM-HH:MM"); for express, now to an hour on
    remaining: int | None
    store: Location | None = None
    distance_m: int | None = None  # the pick-up store's, or the express store's, from the address

    @property
    def id(self) -> str:
        return self.slot.id


@dataclass(frozen=True)
class DeliveryOptions:
    delivery_date: dt.date
    cutoff: dt.time
    options: tuple[SlotOption, ...]
    unavailable_product_ids: tuple[int, ...]  # cart products no location can send to the address now


# --- The cut-off and slot ids -------------------------------------------------------------


def delivery_date(*, city: City, now: dt.datetime) -> dt.date:
    """The local date an order placed at ``now`` is delivered on: see the module docstring."""
    local = timezone.localtime(now)
    return local.date() + dt.timedelta(days=1 if local.time() < city.delivery_cutoff else 2)


def next_day_slots(*, city: City, now: dt.datetime) -> list[Slot]:
    date = delivery_date(city=city, now=now)
    return [Slot(date=date, window=window) for window in city.delivery_slots]


def express_slot(*, now: dt.datetime) -> Slot:
    return Slot(date=clock.local_date(now), window=EXPRESS)


def express_window(*, now: dt.datetime) -> str:
    local = timezone.localtime(now)
    return f"{local:%H:%M}-{local + EXPRESS_WITHIN:%H:%M}"


def bookable_slot(*, city: City, slot_id: str, now: dt.datetime) -> Slot:
    """The slot ``slot_id`` names if it can be booked now, else ``SlotUnavailable``.

    Express is only parsed here: whether a store can send the cart within the hour is
    decided with the cart and the address (``express_plan``)."""
    if slot_id == EXPRESS:
        return express_slot(now=now)
    match = _SLOT_ID.match(slot_id)
    try:
        date = dt.date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        date = None
    details = {"slot": slot_id, "delivery_date": delivery_date(city=city, now=now).isoformat()}
    if date is None or match.group(2) not in city.delivery_slots:
        raise SlotUnavailable(details={**details, "reason": "not_offered"})
    first = delivery_date(city=city, now=now)
    if date < first:
        raise SlotUnavailable(details={**details, "reason": "past"})
    if date > first:
        raise SlotUnavailable(details={**details, "reason": "not_offered"})
    return Slot(date=date, window=match.group(2))


# --- Capacity -----------------------------------------------------------------------------


def take_capacity(*, location_id: int, date: dt.date, slot: str) -> bool:
    """Book one order into ``location_id``'s ``slot`` on ``date``; False when it is full.

    The row is created on first booking with the location's ``slot_capacity`` (a racing
    creator's row is read back: ``get_or_create`` retries the read on a unique conflict),
    then ``taken`` moves by one conditional UPDATE, which on PostgreSQL waits for a
    concurrent booking of the row and re-checks the condition once it commits. Call it in
    the checkout's transaction, which rolls the booking back with the order."""
    row, _ = SlotCapacity.objects.get_or_create(
        location_id=location_id,
        date=date,
        slot=slot,
        defaults={"capacity": lambda: Location.objects.values_list("slot_capacity", flat=True).get(pk=location_id)},
    )
    return bool(SlotCapacity.objects.filter(pk=row.pk, taken__lt=F("capacity")).update(taken=F("taken") + 1))


def give_back_capacity(*, location_id: int, date: dt.date, slot: str) -> bool:
    """Free one booking (an order that was not paid in time, or was cancelled); never below 0."""
    return bool(
        SlotCapacity.objects.filter(location_id=location_id, date=date, slot=slot, taken__gt=0).update(
            taken=F("taken") - 1
        )
    )


def remaining_capacity(*, location_ids: Iterable[int], date: dt.date, slots: Sequence[str]) -> dict[str, int | None]:
    """For each slot, the room left at the fullest of ``location_ids`` (None without any):
    two queries, however many locations and slots. Locations never booked for the slot
    have their whole ``slot_capacity``."""
    ids = sorted(set(location_ids))
    if not ids:
        return dict.fromkeys(slots)
    default = dict(Location.objects.filter(pk__in=ids).values_list("pk", "slot_capacity"))
    booked = {
        (row.location_id, row.slot): row.capacity - row.taken
        for row in SlotCapacity.objects.filter(location_id__in=ids, date=date, slot__in=slots).only(
            "location_id", "slot", "capacity", "taken"
        )
    }
    return {slot: max(0, min(booked.get((lid, slot), default.get(lid, 0)) for lid in ids)) for slot in slots}


# --- Where it comes from ------------------------------------------------------------------


def address_point(address: Address) -> GeoPoint:
    return GeoPoint(latitude=float(address.latitude), longitude=float(address.longitude))


def location_point(location: Location) -> GeoPoint:
    return GeoPoint(latitude=float(location.latitude), longitude=float(location.longitude))


def express_plan(
    *, city_id: int, destination: GeoPoint, wanted: Mapping[int, int], now: dt.datetime
) -> RoutingPlan | None:
    """The one shipment that brings the whole of ``wanted`` within the hour, else None.

    Candidates are the city's active stores that offer express, are open now and lie
    within ``DELIVERY_EXPRESS_RADIUS_M`` of the address; routing among only those picks
    the nearest that has everything in stock. Express is never split: a plan that needs
    two stores, or leaves anything unserved, is no express."""
    if not wanted:
        return None
    local_time = timezone.localtime(now).time()
    stores = Location.objects.filter(city_id=city_id, kind=Location.Kind.STORE, active=True, offers_express=True).only(
        "id", "latitude", "longitude", "opens_at", "closes_at"
    )
    near = [
        store.pk
        for store in stores
        if store.is_open_at(local_time)
        and haversine_m(location_point(store), destination) <= settings.DELIVERY_EXPRESS_RADIUS_M
    ]
    if not near:
        return None
    plan = route(city_id=city_id, destination=destination, wanted=dict(wanted), location_ids=near)
    if plan.unserved or len(plan.shipments) != 1:
        return None
    return plan


# --- What the shopper can choose ----------------------------------------------------------


def cart_units(*, customer_id: int, city_id: int) -> dict[int, int]:
    """What the shopper's cart in the city asks for: product id -> units."""
    return dict(
        CartLine.objects.filter(cart__customer_id=customer_id, cart__city_id=city_id).values_list(
            "product_id", "quantity"
        )
    )


def options_for_address(*, customer_id: int, address_id: int, now: dt.datetime | None = None) -> DeliveryOptions:
    """Next-day windows to the address, express if a store nearby can send the whole cart
    within the hour, and pick-up at the nearest pick-up stations, each with the room left
    for this cart (routed as checkout would route it now)."""
    now = now or clock.now()
    address = addresses.address_get(customer_id=customer_id, address_id=address_id)
    city = address.city
    destination = address_point(address)
    wanted = cart_units(customer_id=customer_id, city_id=city.pk)
    plan = route(city_id=city.pk, destination=destination, wanted=wanted) if wanted else None
    options = _windows(kind="next_day", city=city, plan=plan, now=now)

    express = express_plan(city_id=city.pk, destination=destination, wanted=wanted, now=now)
    if express is not None:
        (shipment,) = express.shipments
        slot = express_slot(now=now)
        left = remaining_capacity(location_ids=[shipment.location_id], date=slot.date, slots=[EXPRESS])[EXPRESS]
        store = Location.objects.get(pk=shipment.location_id)
        options.append(
            SlotOption(
                kind="express",
                slot=slot,
                window=express_window(now=now),
                remaining=left,
                store=store,
                distance_m=round(shipment.distance_m),
            )
        )

    stations = (
        _pickup_stations(city_id=city.pk)
        .annotate(distance_m=distance_m_expression(destination))
        .order_by("distance_m", "code")[:PICKUP_STORES_LISTED]
    )
    for store in stations:
        options.extend(_pickup_windows(store=store, city=city, wanted=wanted, now=now, distance_m=store.distance_m))
    return DeliveryOptions(
        delivery_date=delivery_date(city=city, now=now),
        cutoff=city.delivery_cutoff,
        options=tuple(options),
        unavailable_product_ids=tuple(sorted(plan.unserved)) if plan else (),
    )


def options_for_pickup(
    *, customer_id: int, store_id: int, city: City, now: dt.datetime | None = None
) -> DeliveryOptions:
    """The windows for collecting the cart at one pick-up station, with the room left."""
    now = now or clock.now()
    store = pickup_store_get(store_id=store_id, city=city)
    wanted = cart_units(customer_id=customer_id, city_id=city.pk)
    plan = route(city_id=city.pk, destination=location_point(store), wanted=wanted) if wanted else None
    return DeliveryOptions(
        delivery_date=delivery_date(city=city, now=now),
        cutoff=city.delivery_cutoff,
        options=tuple(_windows(kind="pickup", city=city, plan=plan, now=now, store=store)),
        unavailable_product_ids=tuple(sorted(plan.unserved)) if plan else (),
    )


class PickupStoreNotFound(NotFound):
    """Unknown, closed down, a warehouse, or a store of another city."""

    code = "store_not_found"
    default_message = "There is no open store with this id in this city."


class NoPickupStation(Unprocessable):
    code = "no_pickup_station"
    default_message = "This store has no pick-up station; choose another store or delivery."


def pickup_store_get(*, store_id: int, city: City) -> Location:
    """An active store of ``city``; ``NoPickupStation`` when it has no station to collect at."""
    store = (
        Location.objects.filter(pk=store_id, city_id=city.pk, kind=Location.Kind.STORE, active=True).first()
        if 0 < store_id <= MAX_ID
        else None
    )
    if store is None:
        raise PickupStoreNotFound(details={"store_id": store_id})
    if not store.has_pickup_station:
        raise NoPickupStation(details={"store_id": store_id})
    return store


def _pickup_stations(*, city_id: int):
    return Location.objects.filter(city_id=city_id, kind=Location.Kind.STORE, active=True, has_pickup_station=True)


def _pickup_windows(
    *, store: Location, city: City, wanted: Mapping[int, int], now: dt.datetime, distance_m: float | None
) -> list[SlotOption]:
    plan = route(city_id=city.pk, destination=location_point(store), wanted=dict(wanted)) if wanted else None
    return _windows(kind="pickup", city=city, plan=plan, now=now, store=store, distance_m=distance_m)


def _windows(
    *,
    kind: str,
    city: City,
    plan: RoutingPlan | None,
    now: dt.datetime,
    store: Location | None = None,
    distance_m: float | None = None,
) -> list[SlotOption]:
    slots = next_day_slots(city=city, now=now)
    location_ids = [shipment.location_id for shipment in plan.shipments] if plan else []
    left = (
        remaining_capacity(location_ids=location_ids, date=slots[0].date, slots=[s.window for s in slots])
        if slots
        else {}
    )
    return [
        SlotOption(
            kind=kind,
            slot=slot,
            window=slot.window,
            remaining=left.get(slot.window),
            store=store,
            distance_m=None if distance_m is None else round(distance_m),
        )
        for slot in slots
    ]
