"""Input and output serializers for delivery slots and cart checkout.

Outputs only read what the services returned (``DeliveryOptions``, the checked-out
order), so rendering never queries; money is integer fen, dates local (Asia/Shanghai).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.delivery_slots import EXPRESS
from stores.selectors import MAX_ID

from .baskets_serializers import StrictCharField, StrictIntegerField
from .orders_serializers import CheckoutInput
from .schema import LocalTimeField


def _id(help_text: str, **kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text=help_text, **kwargs)


def _one_destination(attrs: dict) -> None:
    if ("address_id" in attrs) == ("pickup_store_id" in attrs):
        raise serializers.ValidationError({"non_field_errors": ["Send address_id or pickup_store_id, not both."]})


# --- Inputs -------------------------------------------------------------------------------


class DeliverySlotsQuery(serializers.Serializer):
    address_id = _id("List delivery to this address of the shopper's (and pick-up near it).")
    pickup_store_id = _id("List collection at this store's pick-up station instead; send `city` with it.")
    city = serializers.CharField(
        required=False, max_length=32, help_text="The city's code, e.g. `shanghai`: with `pickup_store_id`."
    )

    def validate(self, attrs):
        _one_destination(attrs)
        if "pickup_store_id" in attrs and not attrs.get("city"):
            raise serializers.ValidationError({"city": ["Send the city with pickup_store_id."]})
        return attrs


class CartCheckoutInput(CheckoutInput):
    city = StrictCharField(max_length=32, help_text="The cart's city code, e.g. `shanghai`.")
    address_id = StrictIntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Deliver to this address of the shopper's."
    )
    pickup_store_id = StrictIntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Or collect at this store's pick-up station."
    )
    slot = StrictCharField(
        max_length=32,
        help_text=f'An option\'s `id` from the slot list, e.g. "2026-11-23/09:00-12:00", or "{EXPRESS}".',
    )

    def validate(self, attrs):
        _one_destination(attrs)
        return attrs


# --- Outputs ------------------------------------------------------------------------------


class SlotStoreOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    distance_m = serializers.IntegerField(
        allow_null=True, help_text="From the address (null when listing for a pick-up store)."
    )


class SlotOptionOutput(serializers.Serializer):
    id = serializers.CharField(help_text="Send as `slot` at checkout (with `pickup_store_id` = `store.id` for pickup).")
    kind = serializers.ChoiceField(choices=["next_day", "express", "pickup"])
    date = serializers.DateField(source="slot.date", help_text="Local (Asia/Shanghai) date.")
    window = serializers.CharField(help_text='Local "HH:MM-HH:MM"; for express, from now to an hour on.')
    remaining = serializers.IntegerField(
        allow_null=True,
        help_text="Orders this slot still takes for this cart (the fullest of the locations it would ship from); "
        "null while the cart is empty or nothing in it is in stock.",
    )
    store = serializers.SerializerMethodField()

    @extend_schema_field(SlotStoreOutput(allow_null=True))
    def get_store(self, option):
        """The pick-up store, or the express store; null for next-day delivery."""
        if option.store is None:
            return None
        return SlotStoreOutput(
            {
                "id": option.store.pk,
                "code": option.store.code,
                "name": option.store.name,
                "address": option.store.address,
                "distance_m": option.distance_m,
            }
        ).data


class DeliveryOptionsOutput(serializers.Serializer):
    delivery_date = serializers.DateField(
        help_text="The local date next-day slots deliver on: tomorrow before the cut-off, else the day after."
    )
    cutoff = LocalTimeField(format="%H:%M", help_text="The city's cut-off, local time.")
    options = SlotOptionOutput(many=True)
    unavailable_product_ids = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Cart products no location of the city can send now: checkout would refuse them (out_of_stock).",
    )
