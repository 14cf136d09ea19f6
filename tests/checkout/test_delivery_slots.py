"""Delivery slots: the cut-off, slot ids, capacity, and the options a cart has."""

from __future__ import annotations

import datetime as dt

import pytest

from checkout import delivery_slots
from checkout.addresses import AddressNotFound
from checkout.delivery_slots import NoPickupStation, PickupStoreNotFound, Slot, SlotUnavailable
from checkout.models import SlotCapacity
from miniprogram_api.core import clock
from tests.checkout.delivery_town import FAR_HOME, address_for, fill_cart, make_town, shanghai
from tests.factories import CityFactory, CustomerFactory, LocationFactory

pytestmark = pytest.mark.django_db

NOV_22 = dt.date(2026, 11, 22)


@pytest.fixture
def town():
    return make_town()


def at(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


# --- The cut-off ----------------------------------------------------------------------------


def test_an_order_at_21_59_59_shanghai_is_delivered_the_next_day(town):
    assert delivery_slots.delivery_date(city=town.city, now=shanghai(2026, 11, 22, 21, 59, 59)) == dt.date(2026, 11, 23)


def test_an_order_at_22_00_00_shanghai_is_delivered_the_day_after(town):
    assert delivery_slots.delivery_date(city=town.city, now=shanghai(2026, 11, 22, 22, 0, 0)) == dt.date(2026, 11, 24)


def test_the_cut_off_is_by_shanghai_time_not_utc(town):
    # 23:30 UTC on the 21st is 07:30 on the 22nd in Shanghai: before the cut-off of the 22nd.
    now = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)
    assert delivery_slots.delivery_date(city=town.city, now=now) == dt.date(2026, 11, 23)


def test_a_city_sets_its_own_cut_off(town):
    town.city.delivery_cutoff = dt.time(20, 0)
    assert delivery_slots.delivery_date(city=town.city, now=shanghai(2026, 11, 22, 19, 59, 59)) == dt.date(2026, 11, 23)
    assert delivery_slots.delivery_date(city=town.city, now=shanghai(2026, 11, 22, 20, 0)) == dt.date(2026, 11, 24)


# --- Slot ids -----------------------------------------------------------------------------


def test_slot_ids_name_the_date_and_window_and_parse_back(town):
    now = shanghai(2026, 11, 22, 10, 0)
    slots = delivery_slots.next_day_slots(city=town.city, now=now)
    assert [slot.id for slot in slots] == [
        "2026-11-23/09:00-12:00",
        "2026-11-23/12:00-15:00",
        "2026-11-23/15:00-18:00",
        "2026-11-23/18:00-21:00",
    ]
    assert delivery_slots.bookable_slot(city=town.city, slot_id=slots[1].id, now=now) == slots[1]
    assert delivery_slots.bookable_slot(city=town.city, slot_id="express", now=now) == Slot(NOV_22, "express")


def test_a_slot_booked_after_the_cut_off_moved_the_date_on_is_in_the_past(town):
    listed = delivery_slots.next_day_slots(city=town.city, now=shanghai(2026, 11, 22, 21, 59, 59))[0]

    with pytest.raises(SlotUnavailable) as caught:
        delivery_slots.bookable_slot(city=town.city, slot_id=listed.id, now=shanghai(2026, 11, 22, 22, 0, 0))

    assert caught.value.details == {"slot": "2026-11-23/09:00-12:00", "delivery_date": "2026-11-24", "reason": "past"}


@pytest.mark.parametrize(
    "slot_id",
    [
        "2026-11-24/09:00-12:00",  # a day later than offered
        "2026-11-23/08:00-12:00",  # not one of the city's windows
        "2026-02-30/09:00-12:00",  # no such date
        "tomorrow",
        "",
        "2026-11-23 09:00-12:00",
    ],
)
def test_slots_the_city_does_not_offer_are_refused(town, slot_id):
    with pytest.raises(SlotUnavailable) as caught:
        delivery_slots.bookable_slot(city=town.city, slot_id=slot_id, now=shanghai(2026, 11, 22, 10, 0))
    assert caught.value.details["reason"] == "not_offered"


# --- Capacity -----------------------------------------------------------------------------


def test_capacity_is_created_at_the_locations_size_and_never_overbooked(town):
    town.near_store.slot_capacity = 2
    town.near_store.save()
    booking = {"location_id": town.near_store.pk, "date": NOV_22, "slot": "09:00-12:00"}

    assert [delivery_slots.take_capacity(**booking) for _ in range(3)] == [True, True, False]
    row = SlotCapacity.objects.get()
    assert (row.capacity, row.taken) == (2, 2)

    assert delivery_slots.give_back_capacity(**booking)
    assert delivery_slots.take_capacity(**booking)
    assert [delivery_slots.give_back_capacity(**booking) for _ in range(3)] == [True, True, False]
    row.refresh_from_db()
    assert row.taken == 0


def test_remaining_capacity_is_the_fullest_locations(town):
    town.warehouse.slot_capacity = 5
    town.warehouse.save()
    for _ in range(2):
        delivery_slots.take_capacity(location_id=town.near_store.pk, date=NOV_22, slot="09:00-12:00")
    delivery_slots.take_capacity(location_id=town.warehouse.pk, date=NOV_22, slot="09:00-12:00")

    left = delivery_slots.remaining_capacity(
        location_ids=[town.near_store.pk, town.warehouse.pk], date=NOV_22, slots=["09:00-12:00", "12:00-15:00"]
    )

    # The near store (40 a slot) has 38 left at 9-12; the warehouse 4 of 5, and 5 at 12-15.
    assert left == {"09:00-12:00": 4, "12:00-15:00": 5}
    assert delivery_slots.remaining_capacity(location_ids=[], date=NOV_22, slots=["09:00-12:00"]) == {
        "09:00-12:00": None
    }


# --- Options for a cart -------------------------------------------------------------------


def kinds(options) -> list[tuple]:
    return [(o.kind, o.id, o.remaining, o.store.code if o.store else None) for o in options.options]


def test_options_for_an_address_list_next_day_express_and_the_pick_up_station(monkeypatch, town):
    at(monkeypatch, shanghai(2026, 11, 22, 10, 0))
    shopper = CustomerFactory()
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 2, town.tea: 1})  # both at the near store, 1 km away
    delivery_slots.take_capacity(location_id=town.near_store.pk, date=dt.date(2026, 11, 23), slot="12:00-15:00")

    options = delivery_slots.options_for_address(customer_id=shopper.pk, address_id=home.pk)

    assert options.delivery_date == dt.date(2026, 11, 23) and options.cutoff == dt.time(22, 0)
    windows = ["09:00-12:00", "12:00-15:00", "15:00-18:00", "18:00-21:00"]
    remaining = [40, 39, 40, 40]
    assert kinds(options) == [
        *[("next_day", f"2026-11-23/{w}", r, None) for w, r in zip(windows, remaining, strict=True)],
        ("express", "express", 40, "SHN"),
        *[("pickup", f"2026-11-23/{w}", r, "SHN") for w, r in zip(windows, remaining, strict=True)],
    ]
    express = options.options[4]
    assert (express.slot.date, express.window, express.distance_m) == (NOV_22, "10:00-11:00", 1001)
    assert options.unavailable_product_ids == ()


def test_express_is_offered_only_within_5_km_of_an_express_store(monkeypatch, town):
    at(monkeypatch, shanghai(2026, 11, 22, 10, 0))
    shopper = CustomerFactory()
    far = address_for(shopper, town.city, FAR_HOME)  # 7 km from the near store
    fill_cart(shopper, town.city, {town.milk: 1})

    options = delivery_slots.options_for_address(customer_id=shopper.pk, address_id=far.pk)

    assert "express" not in [o.kind for o in options.options]
    assert (
        delivery_slots.express_plan(
            city_id=town.city.pk,
            destination=delivery_slots.address_point(far),
            wanted={town.milk.pk: 1},
            now=clock.now(),
        )
        is None
    )


def test_express_needs_the_whole_cart_at_one_store(monkeypatch, town):
    at(monkeypatch, shanghai(2026, 11, 22, 10, 0))
    shopper = CustomerFactory()
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 1, town.oil: 1})  # oil only at the warehouse

    options = delivery_slots.options_for_address(customer_id=shopper.pk, address_id=home.pk)

    assert "express" not in [o.kind for o in options.options]
    # Next-day comes from the warehouse, the one location with both.
    assert [o.remaining for o in options.options if o.kind == "next_day"] == [40] * 4


def test_express_is_not_offered_while_the_store_is_closed(monkeypatch, town):
    town.near_store.opens_at, town.near_store.closes_at = dt.time(8, 0), dt.time(21, 0)
    town.near_store.save()
    at(monkeypatch, shanghai(2026, 11, 22, 21, 30))
    shopper = CustomerFactory()
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 1})

    options = delivery_slots.options_for_address(customer_id=shopper.pk, address_id=home.pk)

    assert "express" not in [o.kind for o in options.options]


def test_an_empty_cart_lists_the_windows_without_remaining_capacity(monkeypatch, town):
    at(monkeypatch, shanghai(2026, 11, 22, 22, 0))
    shopper = CustomerFactory()
    home = address_for(shopper, town.city)

    options = delivery_slots.options_for_address(customer_id=shopper.pk, address_id=home.pk)

    assert options.delivery_date == dt.date(2026, 11, 24)
    assert {(o.kind, o.remaining) for o in options.options} == {("next_day", None), ("pickup", None)}


def test_products_no_location_has_are_listed_as_unavailable(monkeypatch, town):
    at(monkeypatch, shanghai(2026, 11, 22, 10, 0))
    shopper = CustomerFactory()
    home = address_for(shopper, town.city)
    fill_cart(shopper, town.city, {town.milk: 1, town.tea: 60})  # 50 teas in the whole city

    options = delivery_slots.options_for_address(customer_id=shopper.pk, address_id=home.pk)

    assert options.unavailable_product_ids == (town.tea.pk,)


def test_another_shoppers_address_is_not_found(town):
    theirs = address_for(CustomerFactory(), town.city)
    with pytest.raises(AddressNotFound):
        delivery_slots.options_for_address(customer_id=CustomerFactory().pk, address_id=theirs.pk)


def test_options_for_a_pick_up_store_list_its_windows(monkeypatch, town):
    at(monkeypatch, shanghai(2026, 11, 22, 10, 0))
    shopper = CustomerFactory()
    fill_cart(shopper, town.city, {town.oil: 1})  # from the warehouse, to the store

    options = delivery_slots.options_for_pickup(customer_id=shopper.pk, store_id=town.near_store.pk, city=town.city)

    assert [(o.kind, o.store.code, o.remaining) for o in options.options] == [("pickup", "SHN", 40)] * 4


def test_pick_up_at_a_store_without_a_station_is_refused(town):
    with pytest.raises(NoPickupStation):
        delivery_slots.pickup_store_get(store_id=town.plain_store.pk, city=town.city)


@pytest.mark.parametrize("which", ["warehouse", "other_city", "closed"])
def test_pick_up_only_at_an_open_store_of_the_city(town, which):
    if which == "warehouse":
        store = town.warehouse
    elif which == "other_city":
        beijing = CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")
        store = LocationFactory(code="BJP", city=beijing, has_pickup_station=True)
    else:
        store = LocationFactory(code="SHC", city=town.city, has_pickup_station=True, active=False)
    with pytest.raises(PickupStoreNotFound):
        delivery_slots.pickup_store_get(store_id=store.pk, city=town.city)
