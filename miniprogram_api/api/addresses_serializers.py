"""Input and output serializers for delivery addresses.

Inputs check JSON types (a phone number is a string, ``is_default`` a boolean) and
lengths; the rules of an address (phone formats, an active city, the service area) are
the service's, so they hold for every caller. Coordinates are JSON numbers, as the
mini-program's location picker gives them; strings of digits are taken too.
"""

from __future__ import annotations

from rest_framework import serializers

from checkout.addresses import RECIPIENT_MAX_LENGTH, TEXT_MAX_LENGTH
from checkout.models import Address

from .baskets_serializers import StrictCharField
from .stores_serializers import CoordinateField


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true``/``false`` only: DRF's BooleanField also takes "yes", 1 and "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


def _coordinate(limit: int, help_text: str) -> CoordinateField:
    return CoordinateField(max_digits=None, decimal_places=None, min_value=-limit, max_value=limit, help_text=help_text)


class AddressInput(serializers.Serializer):
    """The whole address (POST); PATCH sends any subset of the same fields."""

    recipient = StrictCharField(max_length=RECIPIENT_MAX_LENGTH, help_text="Who receives the delivery.")
    phone = StrictCharField(
        max_length=32,
        help_text="A mainland mobile number (11 digits, 13x-19x; a +86 prefix, spaces and dashes are dropped) or "
        "a landline with its area code, e.g. `021-12345678` (an extension may follow: `-123`).",
    )
    text = StrictCharField(
        max_length=TEXT_MAX_LENGTH, help_text="Street, building, floor and door, as the shopper wrote it."
    )
    city = StrictCharField(max_length=32, help_text="The city's code, e.g. `shanghai`; it must be an active city.")
    latitude = _coordinate(90, "From the location picker, decimal degrees (-90..90); kept to 6 decimal places.")
    longitude = _coordinate(180, "From the location picker, decimal degrees (-180..180); kept to 6 decimal places.")
    is_default = StrictBooleanField(
        required=False,
        help_text="Make this the default address (the previous default stops being one). A shopper's first "
        "address is always made the default.",
    )

    def validate(self, attrs):
        if "city" in attrs:
            attrs["city_code"] = attrs.pop("city")
        return attrs


class AddressCityOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()


class AddressOutput(serializers.ModelSerializer):
    city = AddressCityOutput()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()

    class Meta:
        model = Address
        fields = ("id", "recipient", "phone", "text", "city", "latitude", "longitude", "is_default", "created_at")
        read_only_fields = fields
