"""A shopper's delivery addresses: create, change, delete, list, and pick the default.

Every write first locks the shopper's own row (``_lock_customer``), so a shopper's
address writes run one at a time: two taps on "add" cannot both pass the 20-address
limit, and two "make this my default" requests cannot both clear the old default and
then meet at the database's one-default constraint. The lock is the customer row rather
than the addresses because the limit must also hold when there are no addresses to lock.

The coordinates come from the mini-program's location picker (there is no geocoding):
an address farther from its city's centre than ``City.service_radius_km`` is refused,
since no fulfilment location of that city would deliver there. Orders copy an address
(``snapshot``), so editing or deleting one never rewrites an order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q

from miniprogram_api.core.errors import InvalidInput, NotFound, Unprocessable
from stores.geo import GeoPoint, haversine_m
from stores.models import City
from stores.selectors import MAX_ID, UnknownCity

from .models import Address

# A shopper ships to home, work, parents, a few friends; twenty is far past that, and
# the address picker lists them all on one screen.
MAX_ADDRESSES = 20
RECIPIENT_MAX_LENGTH = 64
TEXT_MAX_LENGTH = 255
# The columns keep six decimal places (about 0.1 m); phones report more.
COORDINATE_PLACES = Decimal("0.000001")

# Mainland mobile numbers: 11 digits, 13x-19x. Landlines: a 3-digit area code (010, 02x)
# with an 8-digit number, or a 4-digit one with 7 or 8 digits; an extension may follow.
MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"(?:0\d{2}-?\d{8}|0\d{3}-?\d{7,8})(?:-\d{1,6})?")
EDITABLE_FIELDS = frozenset({"recipient", "phone", "text", "city_code", "latitude", "longitude", "is_default"})


class AddressNotFound(NotFound):
    """Also what another shopper's address is: a 404, so ids reveal nothing."""

    code = "address_not_found"
    default_message = "There is no address with this id."


class InvalidPhone(InvalidInput):
    code = "invalid_phone"
    default_message = "Give a mainland mobile number (11 digits) or a landline with its area code, e.g. 021-12345678."


class InvalidCoordinates(InvalidInput):
    code = "invalid_coordinates"
    default_message = "Latitude must be within -90..90 and longitude within -180..180."


class InvalidAddressField(InvalidInput):
    code = "invalid_address"
    default_message = "An address needs a recipient and a street address."


class AddressOutsideServiceArea(Unprocessable):
    code = "address_outside_service_area"
    default_message = "We do not deliver to this address: it is outside the city's service area."


class TooManyAddresses(Unprocessable):
    """422 rather than 409: no retry or wait makes room, only deleting an address does."""

    code = "too_many_addresses"
    default_message = "You can keep at most 20 addresses; delete one to add another."


# --- Reading ------------------------------------------------------------------------------


def address_list(*, customer_id: int) -> list[Address]:
    """The shopper's addresses, the default first, then the newest (at most 20: no pages)."""
    return list(Address.objects.filter(customer_id=customer_id).select_related("city"))


def address_get(*, customer_id: int, address_id: int) -> Address:
    """One of the shopper's addresses with its city; another shopper's is ``AddressNotFound``."""
    address = None
    if 0 < address_id <= MAX_ID:
        address = Address.objects.select_related("city").filter(pk=address_id, customer_id=customer_id).first()
    if address is None:
        raise AddressNotFound(details={"address_id": address_id})
    return address


def active_city(*, code: str) -> City:
    """The active city with this code; an unknown or withdrawn one is ``UnknownCity``."""
    city = City.objects.filter(code=code, active=True).first() if isinstance(code, str) else None
    if city is None:
        raise UnknownCity(details={"city": code})
    return city


def snapshot(address: Address) -> dict[str, Any]:
    """What an order keeps of the address (``Order.delivery_address``): plain JSON."""
    return {
        "address_id": address.pk,
        "recipient": address.recipient,
        "phone": address.phone,
        "text": address.text,
        "city": address.city.code,
        "latitude": str(address.latitude),
        "longitude": str(address.longitude),
    }


# --- Writing ------------------------------------------------------------------------------


def create_address(
    *,
    customer_id: int,
    recipient: str,
    phone: str,
    text: str,
    city_code: str,
    latitude: Decimal,
    longitude: Decimal,
    is_default: bool = False,
) -> Address:
    """Add an address. The shopper's first address becomes the default whatever
    ``is_default`` says, so checkout always has one to offer."""
    address = Address(
        customer_id=customer_id,
        recipient=_clean_text(recipient, field="recipient", max_length=RECIPIENT_MAX_LENGTH),
        phone=normalize_phone(phone),
        text=_clean_text(text, field="text", max_length=TEXT_MAX_LENGTH),
        latitude=_coordinate(latitude, field="latitude", limit=90),
        longitude=_coordinate(longitude, field="longitude", limit=180),
    )
    address.city = active_city(code=city_code)
    require_in_service_area(city=address.city, latitude=address.latitude, longitude=address.longitude)
    with transaction.atomic():
        _lock_customer(customer_id)
        counts = Address.objects.filter(customer_id=customer_id).aggregate(
            total=Count("pk"), defaults=Count("pk", filter=Q(is_default=True))
        )
        if counts["total"] >= MAX_ADDRESSES:
            raise TooManyAddresses(details={"max_addresses": MAX_ADDRESSES})
        address.is_default = bool(is_default) or counts["total"] == 0
        if address.is_default and counts["defaults"]:
            Address.objects.filter(customer_id=customer_id, is_default=True).update(is_default=False)
        address.save()
    return address


def update_address(*, customer_id: int, address_id: int, changes: Mapping[str, Any]) -> Address:
    """Change some of an address's fields (``EDITABLE_FIELDS``; ``city_code`` moves it to
    another city). The result is checked as a whole: new coordinates, or a new city, must
    still fall inside the city's service area. ``is_default=True`` makes it the only
    default; ``False`` on the default leaves the shopper without one."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput("These fields cannot be changed.", details={"fields": sorted(unknown)})
    values: dict[str, Any] = {}
    if "recipient" in changes:
        values["recipient"] = _clean_text(changes["recipient"], field="recipient", max_length=RECIPIENT_MAX_LENGTH)
    if "text" in changes:
        values["text"] = _clean_text(changes["text"], field="text", max_length=TEXT_MAX_LENGTH)
    if "phone" in changes:
        values["phone"] = normalize_phone(changes["phone"])
    if "latitude" in changes:
        values["latitude"] = _coordinate(changes["latitude"], field="latitude", limit=90)
    if "longitude" in changes:
        values["longitude"] = _coordinate(changes["longitude"], field="longitude", limit=180)
    if "city_code" in changes:
        values["city"] = active_city(code=changes["city_code"])

    with transaction.atomic():
        _lock_customer(customer_id)
        address = address_get(customer_id=customer_id, address_id=address_id)
        for name, value in values.items():
            setattr(address, name, value)
        if values.keys() & {"city", "latitude", "longitude"}:
            require_in_service_area(city=address.city, latitude=address.latitude, longitude=address.longitude)
        if "is_default" in changes:
            make_default = bool(changes["is_default"])
            if make_default and not address.is_default:
                Address.objects.filter(customer_id=customer_id, is_default=True).update(is_default=False)
            address.is_default = make_default
        address.save()
    return address


def delete_address(*, customer_id: int, address_id: int) -> None:
    """Delete an address. Deleting the default leaves none: which other address should be
    the default is the shopper's choice, not ours. Orders keep their own copy."""
    with transaction.atomic():
        _lock_customer(customer_id)
        deleted = 0
        if 0 < address_id <= MAX_ID:
            deleted, _ = Address.objects.filter(pk=address_id, customer_id=customer_id).delete()
        if not deleted:
            raise AddressNotFound(details={"address_id": address_id})


# --- Rules --------------------------------------------------------------------------------


def normalize_phone(phone: object) -> str:
    """The phone number as stored: spaces dropped; a mobile without its +86 or its dashes."""
    if not isinstance(phone, str):
        raise InvalidPhone(details={"field": "phone"})
    compact = re.sub(r"\s+", "", phone)
    mobile = re.sub(r"^(?:\+?86)(?=1\d{10}$)", "", compact).replace("-", "")
    if MOBILE.fullmatch(mobile):
        return mobile
    if LANDLINE.fullmatch(compact):
        return compact
    raise InvalidPhone(details={"field": "phone"})


def require_in_service_area(*, city: City, latitude: Decimal, longitude: Decimal) -> None:
    """Refuse a point farther than the city's service radius from its centre."""
    try:
        point = GeoPoint(latitude=float(latitude), longitude=float(longitude))
    except (TypeError, ValueError):
        raise InvalidCoordinates() from None
    centre = GeoPoint(latitude=float(city.latitude), longitude=float(city.longitude))
    distance_m = haversine_m(centre, point)
    radius_m = city.service_radius_km * 1000
    if distance_m > radius_m:
        raise AddressOutsideServiceArea(
            details={
                "city": city.code,
                "distance_m": math.ceil(distance_m),
                "service_radius_m": radius_m,
                "service_radius_km": city.service_radius_km,
            }
        )


def _coordinate(value: object, *, field: str, limit: int) -> Decimal:
    """Decimal degrees within ``-limit..limit``, rounded to the column's six places. A float
    is read through its shortest repr, so 31.2304 stays 31.2304."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise TypeError
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if not number.is_finite() or not -limit <= number <= limit:
            raise ValueError
        return number.quantize(COORDINATE_PLACES, rounding=ROUND_HALF_EVEN)
    except (TypeError, ValueError, InvalidOperation):
        raise InvalidCoordinates(details={"field": field}) from None


def _clean_text(value: object, *, field: str, max_length: int) -> str:
    """Trimmed, not blank, not too long, and free of control characters (a NUL cannot be
    stored in PostgreSQL; a line break would break a courier's label)."""
    if not isinstance(value, str):
        raise InvalidAddressField(details={"field": field})
    text = value.strip()
    if not text or len(text) > max_length or any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise InvalidAddressField(details={"field": field, "max_length": max_length})
    return text


def _lock_customer(customer_id: int) -> None:
    """Serialise one shopper's address writes (see the module docstring)."""
    if not get_user_model().objects.select_for_update().filter(pk=customer_id).values_list("pk", flat=True):
        raise AddressNotFound()
