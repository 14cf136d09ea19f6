"""Delivery addresses: the rules an address must meet, one default, the limit, owner scoping."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from checkout import addresses
from checkout.addresses import (
    AddressNotFound,
    AddressOutsideServiceArea,
    InvalidAddressField,
    InvalidCoordinates,
    InvalidPhone,
    TooManyAddresses,
)
from checkout.models import Address
from miniprogram_api.core.errors import DomainError
from stores.selectors import UnknownCity
from tests.factories import CityFactory, CustomerFactory
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db

# People's Square, 1 km or so from the city centre the factory gives Shanghai.
HOME = {"latitude": Decimal("31.232000"), "longitude": Decimal("121.475000")}
# Suzhou: about 84 km from Shanghai's centre, past the 60 km service radius.
SUZHOU = {"latitude": Decimal("31.298900"), "longitude": Decimal("120.585300")}
# One degree of latitude on the haversine sphere, in metres.
METRES_PER_DEGREE = 111_195.08


@pytest.fixture
def shanghai():
    return CityFactory()


@pytest.fixture
def beijing():
    return CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")


@pytest.fixture
def shopper():
    return CustomerFactory()


def add(customer, **fields):
    values = {"recipient": "Li Lei", "phone": "13800138000", "text": "1 Renmin Road, 2-301", "city_code": "shanghai",
              **HOME, **fields}  # fmt: skip
    return addresses.create_address(customer_id=customer.pk, **values)


def defaults_of(customer) -> list[int]:
    return list(Address.objects.filter(customer=customer, is_default=True).values_list("pk", flat=True))


# --- Creating -----------------------------------------------------------------------------


def test_an_address_keeps_what_the_shopper_gave_with_the_phone_tidied(shanghai, shopper):
    address = add(shopper, phone="+86 138 0013 8000", recipient="  Han Meimei ", latitude=Decimal("31.23200049"))

    stored = Address.objects.get(pk=address.pk)
    assert (stored.recipient, stored.phone, stored.text, stored.city_id) == (
        "Han Meimei",
        "13800138000",
        "1 Renmin Road, 2-301",
        shanghai.pk,
    )
    assert stored.latitude == Decimal("31.232000")  # rounded to the column's 6 places
    assert stored.longitude == HOME["longitude"]


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("13800138000", "13800138000"),
        ("19912345678", "19912345678"),
        ("+8613800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("021-12345678", "021-12345678"),
        ("02112345678", "02112345678"),
        ("0755-1234567", "0755-1234567"),
        ("0755-12345678-123", "0755-12345678-123"),
    ],
)
def test_mobiles_and_landlines_with_area_code_are_accepted(shanghai, shopper, phone, stored):
    assert add(shopper, phone=phone).phone == stored


@pytest.mark.parametrize(
    "phone",
    ["12345678901", "1380013800", "138001380001", "23800138000", "12345678", "021-1234567", "21-12345678",
     "0755-123456", "+1 2025550123", "1380013800a", "", "   ", "0755-12345678-1234567"],
)  # fmt: skip
def test_a_bad_phone_number_is_refused_and_nothing_is_written(shanghai, shopper, phone):
    with pytest.raises(InvalidPhone) as raised:
        add(shopper, phone=phone)

    assert raised.value.code == "invalid_phone"
    assert not Address.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"latitude": Decimal("90.000001")},
        {"latitude": Decimal("-91")},
        {"longitude": Decimal("180.5")},
        {"longitude": Decimal("-181")},
        {"latitude": Decimal("NaN")},
        {"longitude": Decimal("Infinity")},
        {"latitude": "north"},
        {"latitude": None},
        {"longitude": True},
    ],
)
def test_bad_coordinates_are_refused_and_nothing_is_written(shanghai, shopper, fields):
    with pytest.raises(InvalidCoordinates):
        add(shopper, **fields)

    assert not Address.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [{"recipient": ""}, {"recipient": "   "}, {"text": ""}, {"recipient": "x" * 65}, {"text": "x" * 256},
     {"text": "Road 1\x00"}, {"recipient": "Li\nLei"}, {"text": 42}],
)  # fmt: skip
def test_a_blank_or_broken_recipient_or_text_is_refused(shanghai, shopper, fields):
    with pytest.raises(InvalidAddressField):
        add(shopper, **fields)

    assert not Address.objects.exists()


def test_an_unknown_or_inactive_city_is_refused(shanghai, shopper):
    CityFactory(code="hangzhou", name="Hangzhou", active=False, latitude="30.274100", longitude="120.155100")

    for code in ("atlantis", "hangzhou", ""):
        with pytest.raises(UnknownCity):
            add(shopper, city_code=code, latitude=Decimal("30.2741"), longitude=Decimal("120.1551"))

    assert not Address.objects.exists()


def test_an_address_outside_the_service_area_is_refused_with_the_distance_and_the_radius(shanghai, shopper):
    with pytest.raises(AddressOutsideServiceArea) as raised:
        add(shopper, **SUZHOU)

    assert raised.value.code == "address_outside_service_area"
    details = raised.value.details
    assert details["service_radius_km"] == 60 and details["service_radius_m"] == 60_000
    assert 83_000 < details["distance_m"] < 86_000
    assert not Address.objects.exists()


def test_the_service_area_ends_at_the_radius(shanghai, shopper):
    shanghai.service_radius_km = 1
    shanghai.save()
    centre = Decimal("31.230400")
    inside = centre + Decimal("0.008900")  # 989.6 m north of the centre
    outside = centre + Decimal("0.009000")  # 1000.8 m north
    assert float(inside - centre) * METRES_PER_DEGREE < 1000 < float(outside - centre) * METRES_PER_DEGREE

    assert add(shopper, latitude=inside, longitude=Decimal("121.473700")).pk
    with pytest.raises(AddressOutsideServiceArea) as raised:
        add(shopper, latitude=outside, longitude=Decimal("121.473700"))
    assert raised.value.details["distance_m"] == 1001


# --- The default --------------------------------------------------------------------------


def test_the_first_address_is_the_default_and_later_ones_are_not_unless_asked(shanghai, shopper):
    first = add(shopper, is_default=False)
    second = add(shopper)

    assert defaults_of(shopper) == [first.pk]

    third = add(shopper, is_default=True)
    assert defaults_of(shopper) == [third.pk]
    assert [a.pk for a in addresses.address_list(customer_id=shopper.pk)] == [third.pk, second.pk, first.pk]


def test_making_an_address_the_default_unsets_the_previous_one(shanghai, shopper):
    first, second = add(shopper), add(shopper)

    addresses.update_address(customer_id=shopper.pk, address_id=second.pk, changes={"is_default": True})
    assert defaults_of(shopper) == [second.pk]

    addresses.update_address(customer_id=shopper.pk, address_id=first.pk, changes={"is_default": True})
    assert defaults_of(shopper) == [first.pk]


def test_unsetting_or_deleting_the_default_leaves_none(shanghai, shopper):
    first, second = add(shopper), add(shopper)

    addresses.update_address(customer_id=shopper.pk, address_id=first.pk, changes={"is_default": False})
    assert defaults_of(shopper) == []

    addresses.update_address(customer_id=shopper.pk, address_id=second.pk, changes={"is_default": True})
    addresses.delete_address(customer_id=shopper.pk, address_id=second.pk)
    assert defaults_of(shopper) == []
    assert list(Address.objects.filter(customer=shopper).values_list("pk", flat=True)) == [first.pk]


def test_each_shopper_has_their_own_default(shanghai, shopper):
    other = CustomerFactory()
    mine, theirs = add(shopper), add(other)

    assert defaults_of(shopper) == [mine.pk] and defaults_of(other) == [theirs.pk]


# --- Changing -----------------------------------------------------------------------------


def test_changing_fields_rechecks_them(shanghai, shopper):
    address = add(shopper)

    changed = addresses.update_address(
        customer_id=shopper.pk,
        address_id=address.pk,
        changes={"recipient": "Wang Fang", "phone": "021 6543 2100", "latitude": Decimal("31.24")},
    )

    stored = Address.objects.get(pk=address.pk)
    assert (stored.recipient, stored.phone, stored.latitude) == ("Wang Fang", "02165432100", Decimal("31.240000"))
    assert changed.phone == stored.phone


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"latitude": SUZHOU["latitude"], "longitude": SUZHOU["longitude"]}, AddressOutsideServiceArea),
        ({"city_code": "beijing"}, AddressOutsideServiceArea),  # Shanghai's coordinates, 1000 km away
        ({"city_code": "atlantis"}, UnknownCity),
        ({"phone": "12345"}, InvalidPhone),
        ({"latitude": Decimal("95")}, InvalidCoordinates),
        ({"recipient": " "}, InvalidAddressField),
        ({"customer_id": 1}, DomainError),
    ],
)
def test_a_bad_change_is_refused_and_changes_nothing(shanghai, beijing, shopper, changes, error):
    address = add(shopper)
    before = Address.objects.filter(pk=address.pk).values().get()

    with pytest.raises(error):
        addresses.update_address(customer_id=shopper.pk, address_id=address.pk, changes=changes)

    assert Address.objects.filter(pk=address.pk).values().get() == before


def test_moving_an_address_to_another_city_with_its_coordinates(shanghai, beijing, shopper):
    address = add(shopper)

    addresses.update_address(
        customer_id=shopper.pk,
        address_id=address.pk,
        changes={"city_code": "beijing", "latitude": Decimal("39.91"), "longitude": Decimal("116.40")},
    )

    assert Address.objects.get(pk=address.pk).city_id == beijing.pk


# --- Owner scoping and the limit ----------------------------------------------------------


def test_another_shoppers_address_is_not_found_and_untouched(shanghai, shopper):
    theirs = add(CustomerFactory())
    before = Address.objects.filter(pk=theirs.pk).values().get()

    with pytest.raises(AddressNotFound):
        addresses.address_get(customer_id=shopper.pk, address_id=theirs.pk)
    with pytest.raises(AddressNotFound):
        addresses.update_address(customer_id=shopper.pk, address_id=theirs.pk, changes={"recipient": "Me"})
    with pytest.raises(AddressNotFound):
        addresses.delete_address(customer_id=shopper.pk, address_id=theirs.pk)
    for missing in (0, -1, 2**63, theirs.pk + 1000):
        with pytest.raises(AddressNotFound):
            addresses.address_get(customer_id=shopper.pk, address_id=missing)

    assert Address.objects.filter(pk=theirs.pk).values().get() == before
    assert addresses.address_list(customer_id=shopper.pk) == []


def test_a_shopper_keeps_at_most_twenty_addresses(shanghai, shopper):
    for _ in range(addresses.MAX_ADDRESSES):
        add(shopper)

    with pytest.raises(TooManyAddresses) as raised:
        add(shopper, is_default=True)

    assert raised.value.details == {"max_addresses": 20}
    assert Address.objects.filter(customer=shopper).count() == 20
    assert len(defaults_of(shopper)) == 1
    add(CustomerFactory())  # the limit is per shopper


def test_an_order_copy_of_an_address(shanghai, shopper):
    address = add(shopper)

    assert addresses.snapshot(address) == {
        "address_id": address.pk,
        "recipient": "Li Lei",
        "phone": "13800138000",
        "text": "1 Renmin Road, 2-301",
        "city": "shanghai",
        "latitude": "31.232000",
        "longitude": "121.475000",
    }


# --- Concurrent writes --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_never_pass_the_limit_nor_make_two_defaults(shanghai, shopper):
    for _ in range(15):
        add(shopper)

    def add_default(_: int) -> str:
        try:
            add(shopper, is_default=True)
        except TooManyAddresses:
            return "full"
        return "added"

    outcomes = Counter(run_in_parallel(add_default, 10))

    assert outcomes == {"added": 5, "full": 5}
    assert Address.objects.filter(customer=shopper).count() == 20
    assert len(defaults_of(shopper)) == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_default_switches_leave_exactly_one_default(shanghai, shopper):
    ids = [add(shopper).pk for _ in range(8)]

    def make_default(index: int) -> None:
        addresses.update_address(customer_id=shopper.pk, address_id=ids[index], changes={"is_default": True})

    run_in_parallel(make_default, 8)

    assert len(defaults_of(shopper)) == 1
