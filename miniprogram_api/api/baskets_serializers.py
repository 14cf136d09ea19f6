"""Input and output serializers for scan & pay baskets.

Inputs are strict about JSON types: a barcode is a string (a number would have lost its
leading zeros on the way) and a quantity or id is an integer, not a string or a float that
happens to look like one. Outputs only read the ``PricedBasketInfo`` the service fetched,
so rendering never queries; money is integer fen.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.baskets import MAX_LINE_QUANTITY, PricedBasketInfo, PricedBasketLine, ScanResult
from checkout.models import Basket, BasketLine
from stores.barcodes import MAX_INPUT_LENGTH
from stores.selectors import MAX_ID

# --- Strict JSON types --------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's CharField would turn 6901234567892 into a string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's IntegerField also takes "3", 3.0 and "3.0"."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def _quantity(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, **kwargs)


# --- Inputs -------------------------------------------------------------------------------


class BasketOpenInput(serializers.Serializer):
    store_id = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="The store the shopper is in.")


class ScanInput(serializers.Serializer):
    barcode = StrictCharField(
        max_length=MAX_INPUT_LENGTH,
        help_text="The digits the camera read, as a string: EAN-13, UPC-A, GTIN-8/14 or an in-store scale label.",
    )
    quantity = _quantity(
        required=False,
        allow_null=True,
        help_text="How many of a product code to add (default 1). A scale label is one item: send nothing or 1.",
    )

    def run_validation(self, data=serializers.empty):
        """The everyday body (a barcode of ASCII digits, a quantity 1-99 or none) is taken as
        it is: every scan passes here, and the declared fields cost more than the rest of
        their checks (each serializer copies them). Anything else goes through the fields,
        which say what is wrong; a test holds both to the same answers."""
        if type(data) is dict and data.keys() <= {"barcode", "quantity"}:
            barcode, quantity = data.get("barcode"), data.get("quantity")
            if (
                type(barcode) is str
                and 0 < len(barcode) <= MAX_INPUT_LENGTH
                and barcode.isascii()
                and barcode.isdigit()
                and (quantity is None or (type(quantity) is int and 1 <= quantity <= MAX_LINE_QUANTITY))
            ):
                return dict(data)
        return super().run_validation(data)


class LineQuantityInput(serializers.Serializer):
    quantity = _quantity(help_text="The line's new quantity, 1-99 (unit lines only).")


# --- Outputs ------------------------------------------------------------------------------


def _string_enum(choices) -> dict:
    """An inline enum schema: no shared component, so no name can clash with another app's."""
    return {"type": "string", "enum": [value for value, _ in choices]}


@extend_schema_field(_string_enum(Basket.Status.choices))
class BasketStatusField(serializers.CharField):
    pass


@extend_schema_field(_string_enum(BasketLine.Kind.choices))
class LineKindField(serializers.CharField):
    pass


class BasketStoreOutput(serializers.Serializer):
    """The store of a ``BasketInfo``."""

    id = serializers.IntegerField(source="store_id")
    code = serializers.CharField(source="store_code")
    name = serializers.CharField(source="store_name")


class BasketProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    image_url = serializers.CharField()


class BasketLineProductOutput(BasketProductOutput):
    """The product of a ``BasketLineInfo``, whose product fields are the line's own."""

    id = serializers.IntegerField(source="product_id")


class BasketLineOutput(serializers.Serializer):
    id = serializers.IntegerField(source="info.id")
    product = BasketLineProductOutput(source="info")
    kind = LineKindField(
        source="info.kind",
        help_text="`unit`: a product code, merged per product; `price_label` / `weight_label`: one scale label each.",
    )
    barcode = serializers.CharField(
        source="info.barcode", help_text="The code as scanned (the first scan, for a unit line)."
    )
    quantity = serializers.IntegerField(source="info.quantity", help_text="Units; always 1 for a scale label.")
    weight_g = serializers.IntegerField(source="info.weight_g", allow_null=True, help_text="Grams, for a weight label.")
    unit_price_fen = serializers.IntegerField(help_text="This store's price now; per kilogram for weighed products.")
    line_total_fen = serializers.IntegerField(
        source="priced.line_total_fen",
        help_text="Before discounts: unit price x quantity, or the label's price (for a weight label, weight x "
        "price per kg at the time of the scan, rounded half up to the fen).",
    )
    discount_fen = serializers.IntegerField(source="priced.discount_fen")
    final_fen = serializers.IntegerField(source="priced.final_fen", help_text="line_total_fen - discount_fen.")
    age_restricted = serializers.BooleanField(
        source="info.age_restricted", help_text="Alcohol or tobacco: staff check age at the exit."
    )


class AdjustmentOutput(serializers.Serializer):
    source = serializers.CharField(help_text="flash_sale, brand_of_the_day, coupon, raffle, ...")
    promotion_id = serializers.IntegerField(allow_null=True)
    line_id = serializers.IntegerField(
        source="line_key", allow_null=True, help_text="The basket line it applies to; null for the whole basket."
    )
    amount_fen = serializers.IntegerField(help_text="Fen off.")
    label = serializers.CharField()


class BasketOutput(serializers.Serializer):
    """Renders a ``PricedBasketInfo``.

    The fields describe the response (for the schema and as the reference rendering);
    ``to_representation`` builds the same dict with ``render_basket``, which does in plain
    Python what the nested serializers do field by field, several times faster for a
    basket of many lines. A test holds the two to the same output.
    """

    id = serializers.IntegerField(source="basket.id")
    status = BasketStatusField(
        source="basket.status",
        help_text="`open` takes scans; `frozen` awaits payment; `checked_out`, `expired` and `released` are over.",
    )
    store = BasketStoreOutput(source="basket")
    lines = BasketLineOutput(many=True, help_text="In the order they were first scanned.")
    item_count = serializers.IntegerField(help_text="Units: the sum of unit-line quantities, plus one per label.")
    goods_subtotal_fen = serializers.IntegerField(source="pricing.goods_subtotal_fen")
    discount_fen = serializers.IntegerField(source="pricing.discount_fen")
    total_fen = serializers.IntegerField(source="pricing.total_fen", help_text="What the shopper pays.")
    adjustments = AdjustmentOutput(many=True, help_text="Every discount: which promotion, which line, how much.")
    has_age_restricted = serializers.BooleanField(help_text="Some line needs an age check at the exit.")
    updated_at = serializers.DateTimeField(source="basket.updated_at", help_text="The last scan or change.")
    expires_at = serializers.DateTimeField(
        help_text="When an open basket left untouched expires (updated_at + the idle timeout, 2 hours by "
        "default); the expiry sweep runs every few minutes, so it may stay open a little past this."
    )

    def to_representation(self, instance: PricedBasketInfo) -> dict:
        return render_basket(instance)


class ScanOutput(BasketOutput):
    """The priced basket, plus the line this scan added to or created."""

    scanned_line_id = serializers.IntegerField(help_text="The line this scan created or added to.")

    def to_representation(self, instance: ScanResult):
        return {**render_basket(instance.basket), "scanned_line_id": instance.line_id}


# --- Rendering ----------------------------------------------------------------------------

_DATETIME = serializers.DateTimeField()  # the declared fields' formatting: ISO 8601, current time zone


def _int(value) -> int | None:
    return None if value is None else int(value)


def _str(value) -> str | None:
    return None if value is None else str(value)


def render_basket(info: PricedBasketInfo) -> dict:
    """``BasketOutput``'s fields, in their order and with their types, in plain Python."""
    basket, pricing = info.basket, info.pricing
    return {
        "id": _int(basket.id),
        "status": _str(basket.status),
        "store": {"id": _int(basket.store_id), "code": _str(basket.store_code), "name": _str(basket.store_name)},
        "lines": [_render_line(line) for line in info.lines],
        "item_count": _int(info.item_count),
        "goods_subtotal_fen": _int(pricing.goods_subtotal_fen),
        "discount_fen": _int(pricing.discount_fen),
        "total_fen": _int(pricing.total_fen),
        "adjustments": [
            {
                "source": _str(adjustment.source),
                "promotion_id": _int(adjustment.promotion_id),
                "line_id": _int(adjustment.line_key),
                "amount_fen": _int(adjustment.amount_fen),
                "label": _str(adjustment.label),
            }
            for adjustment in info.adjustments
        ],
        "has_age_restricted": bool(info.has_age_restricted),
        "updated_at": _DATETIME.to_representation(basket.updated_at),
        "expires_at": _DATETIME.to_representation(info.expires_at),
    }


def _render_line(priced: PricedBasketLine) -> dict:
    # The line's values come typed from the database (ints, strings, a bool): no conversion.
    line, money = priced
    return {
        "id": line.id,
        "product": {"id": line.product_id, "sku": line.sku, "name": line.name, "image_url": line.image_url},
        "kind": line.kind,
        "barcode": line.barcode,
        "quantity": line.quantity,
        "weight_g": line.weight_g,
        "unit_price_fen": line.store_price_fen,
        "line_total_fen": money.line_total_fen,
        "discount_fen": money.discount_fen,
        "final_fen": money.line_total_fen - money.discount_fen,
        "age_restricted": line.age_restricted,
    }
