"""Input and output serializers for delivery carts.

Outputs only read the ``PricedCart`` the service fetched, so rendering never queries;
money is integer fen.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout import carts
from checkout.carts import MAX_LINE_QUANTITY, CartChange, PricedCart
from stores.selectors import MAX_ID

from .baskets_serializers import AdjustmentOutput, BasketProductOutput, StrictCharField, StrictIntegerField


def _quantity(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, **kwargs)


def _city(**kwargs) -> StrictCharField:
    return StrictCharField(max_length=32, help_text="The city's code, e.g. `shanghai`.", **kwargs)


# --- Inputs -------------------------------------------------------------------------------


class CartQuery(serializers.Serializer):
    city = _city()

    def validate(self, attrs):
        return {"city_code": attrs["city"]}


class CartLineAddInput(serializers.Serializer):
    city = _city()
    product_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = _quantity(required=False, default=1, help_text="How many to add (default 1); a line holds 1-99.")

    def validate(self, attrs):
        return {"city_code": attrs["city"], "product_id": attrs["product_id"], "quantity": attrs["quantity"]}


class CartLineQuantityInput(serializers.Serializer):
    quantity = _quantity(help_text="The line's new quantity, 1-99.")


# --- Outputs ------------------------------------------------------------------------------

UNAVAILABLE_REASONS = [
    carts.PRODUCT_INACTIVE,
    carts.NOT_DELIVERABLE,
    carts.NOT_SOLD_IN_CITY,
    carts.OUT_OF_STOCK,
    carts.NOT_ENOUGH_STOCK,
]


@extend_schema_field({"type": "string", "enum": UNAVAILABLE_REASONS, "nullable": True})
class UnavailableReasonField(serializers.CharField):
    pass


class CartCityOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class CartLineOutput(serializers.Serializer):
    id = serializers.IntegerField(source="line.pk")
    product = BasketProductOutput()
    quantity = serializers.IntegerField(source="line.quantity")
    unit_price_fen = serializers.IntegerField(
        source="info.unit_price_fen", help_text="The product's base price: delivery sells at it, not at a store's."
    )
    line_total_fen = serializers.IntegerField(source="priced.line_total_fen", help_text="Before discounts.")
    discount_fen = serializers.IntegerField(source="priced.discount_fen")
    final_fen = serializers.IntegerField(source="priced.final_fen", help_text="line_total_fen - discount_fen.")
    available_units = serializers.IntegerField(
        source="info.available_units",
        help_text=f"Units available now over the city's active locations (on hand minus reserved), shown up to "
        f"{carts.AVAILABILITY_CAP}.",
    )
    available = serializers.BooleanField(
        source="info.available", help_text="The line can be ordered now at its quantity."
    )
    unavailable_reason = UnavailableReasonField(
        source="info.unavailable_reason",
        allow_null=True,
        help_text="Why not, when `available` is false: `product_inactive`, `not_deliverable` (sold by weight), "
        "`not_sold_in_city`, `out_of_stock`, `not_enough_stock` (fewer than the quantity).",
    )
    age_restricted = serializers.BooleanField(source="product.age_restricted")


class CartOutput(serializers.Serializer):
    id = serializers.IntegerField(source="cart.pk")
    city = CartCityOutput(source="cart.city")
    lines = CartLineOutput(many=True, help_text="In the order they were first added.")
    item_count = serializers.IntegerField(help_text="Units: the sum of the quantities.")
    all_available = serializers.BooleanField(help_text="Every line can be ordered now (checkout needs it).")
    goods_subtotal_fen = serializers.IntegerField(source="pricing.goods_subtotal_fen")
    discount_fen = serializers.IntegerField(source="pricing.discount_fen")
    delivery_fee_fen = serializers.IntegerField(
        source="pricing.delivery_fee_fen",
        help_text="The city's fee while goods after discounts are below `free_delivery_from_fen`, else 0.",
    )
    total_fen = serializers.IntegerField(
        source="pricing.total_fen", help_text="goods - discount + delivery fee, before coupons (chosen at checkout)."
    )
    free_delivery_from_fen = serializers.IntegerField(
        allow_null=True, help_text="Goods after discounts from which delivery is free; null when it always is."
    )
    amount_to_free_delivery_fen = serializers.IntegerField(help_text="How much more to add for free delivery.")
    adjustments = AdjustmentOutput(many=True, help_text="Every discount and the delivery fee, with its line.")
    updated_at = serializers.DateTimeField(source="cart.updated_at")


class CartLineAddOutput(CartOutput):
    line_id = serializers.IntegerField(help_text="The line this request created or added to.")

    def to_representation(self, instance: CartChange):
        return {**CartOutput(instance.cart).data, "line_id": instance.line_id}


def cart_data(cart: PricedCart) -> dict:
    return CartOutput(cart).data
