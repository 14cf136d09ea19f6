"""Input (query parameters) and output serializers for stores and the catalogue.

Input serializers turn query strings into the selectors' keyword arguments; output
serializers only read what the selectors already fetched or annotated, so they never
query. Coordinates are JSON numbers (what ``wx.openLocation`` and map components take);
money is integer fen.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from miniprogram_api.core import clock
from stores.barcodes import VariableMeasureCode
from stores.geo import GeoPoint
from stores.selectors import MAX_ID, ProductAtStore

from .schema import LocalTimeField

# --- Query parameters ---------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.NUMBER)
class CoordinateField(serializers.DecimalField):
    """Decimal degrees of any precision: phones report more digits than the columns keep,
    and a decimal field rejects NaN and infinity, which would slip past a float's range
    check (NaN compares false with every bound)."""


def _coordinate(limit: int, help_text: str) -> CoordinateField:
    return CoordinateField(
        max_digits=None,
        decimal_places=None,
        min_value=-limit,
        max_value=limit,
        required=False,
        allow_null=True,
        help_text=help_text,
    )


class StoreListQuery(serializers.Serializer):
    city = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="A city code, e.g. `shanghai`. A code that names no city is a 400 `unknown_city`.",
    )
    lat = _coordinate(90, "Latitude of the shopper in decimal degrees (-90..90); send with `lng`.")
    lng = _coordinate(180, "Longitude of the shopper in decimal degrees (-180..180); send with `lat`.")

    def validate(self, attrs):
        lat, lng = attrs.get("lat"), attrs.get("lng")
        if (lat is None) != (lng is None):
            missing = "lng" if lng is None else "lat"
            raise serializers.ValidationError({missing: ["Send lat and lng together, or neither."]})
        near = GeoPoint(latitude=float(lat), longitude=float(lng)) if lat is not None else None
        return {"city_code": attrs.get("city") or None, "near": near}


def _id_filter(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text=help_text)


class ProductListQuery(serializers.Serializer):
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Part of the product name, or a whole SKU."
    )
    brand = _id_filter("Only this brand (its id).")
    category = _id_filter("Only this category (its id) and its direct sub-categories.")
    is_new = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="`true`: only products launched in the last NEW_PRODUCT_DAYS days (30 by default); "
        "`false`: only the others.",
    )

    def validate(self, attrs):
        return {
            "search": attrs.get("search", ""),
            "brand_id": attrs.get("brand"),
            "category_id": attrs.get("category"),
            "is_new": attrs.get("is_new"),
        }


class ProductLookupQuery(serializers.Serializer):
    barcode = serializers.CharField(
        max_length=64, help_text="The digits the camera read: EAN-13, UPC-A, GTIN-8/14 or an in-store label."
    )


# --- Stores -------------------------------------------------------------------------------


class CityRefOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()


class StoreOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    city = CityRefOutput()
    address = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    opens_at = LocalTimeField(help_text="Local (Asia/Shanghai) opening time.")
    closes_at = LocalTimeField(help_text="Local closing time; earlier than opens_at means open past midnight.")
    is_open_now = serializers.SerializerMethodField(help_text="Open at this moment, Asia/Shanghai time.")
    scan_and_go_enabled = serializers.BooleanField()
    has_pickup_station = serializers.BooleanField()
    distance_m = serializers.SerializerMethodField(
        help_text="Metres from the given lat/lng along the Earth's surface; null without lat/lng."
    )

    def get_is_open_now(self, store) -> bool:
        # One "now" per response, so every store on a page is judged at the same moment.
        if "local_time" not in self.context:
            self.context["local_time"] = clock.local_now().time()
        return store.is_open_at(self.context["local_time"])

    def get_distance_m(self, store) -> int | None:
        distance = getattr(store, "distance_m", None)
        return None if distance is None else round(distance)


# --- Products -----------------------------------------------------------------------------


class BrandRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_zh = serializers.CharField()


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    slug = serializers.CharField()


class ProductSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    brand = BrandRefOutput()
    category = CategoryRefOutput()
    base_price_fen = serializers.IntegerField(help_text="Catalogue price in fen; per kilogram when sold_by_weight.")
    sold_by_weight = serializers.BooleanField()
    age_restricted = serializers.BooleanField(help_text="Alcohol or tobacco: staff check age at the exit.")
    is_new = serializers.BooleanField(help_text="Launched within the last NEW_PRODUCT_DAYS days.")
    image_url = serializers.CharField()
    launch_date = serializers.DateField(allow_null=True)


class ProductDetailOutput(ProductSummaryOutput):
    description = serializers.CharField()
    plu_code = serializers.CharField(allow_null=True, help_text="Item code on in-store scale labels, if any.")
    barcodes = serializers.SerializerMethodField(help_text="The codes printed on the product.")

    def get_barcodes(self, product) -> list[str]:
        return [barcode.code for barcode in product.barcodes.all()]


BARCODE_TYPES = [
    ("product_code", "A GTIN printed by the manufacturer"),
    ("price_label", "An in-store label with the price embedded"),
    ("weight_label", "An in-store label with the weight embedded"),
]


class _ScanOutput(serializers.Serializer):
    """The fields a scan adds to the product summary (rendered from ``ProductAtStore``)."""

    store_id = serializers.IntegerField()
    price_fen = serializers.IntegerField(
        help_text="This store's price in fen (its own price if set, else the catalogue's); per kg when sold by weight."
    )
    in_stock = serializers.BooleanField()
    available = serializers.IntegerField(help_text="On hand minus reserved: units, or grams when sold by weight.")
    barcode = serializers.CharField(source="scanned.printed", help_text="The code as scanned.")
    barcode_type = serializers.SerializerMethodField()
    embedded_price_fen = serializers.IntegerField(allow_null=True, help_text="The price printed on a price label.")
    weight_g = serializers.IntegerField(allow_null=True, help_text="The weight printed on a weight label, in grams.")
    line_price_fen = serializers.IntegerField(
        allow_null=True,
        help_text="What this scan costs: the unit price, the label's price, or weight x price per kg rounded half "
        "up to the fen; null for the manufacturer's code on a weighed product (it needs a scale label).",
    )

    @extend_schema_field(serializers.ChoiceField(choices=BARCODE_TYPES))
    def get_barcode_type(self, result: ProductAtStore) -> str:
        scanned = result.scanned
        if not isinstance(scanned, VariableMeasureCode):
            return "product_code"
        return "price_label" if scanned.price_fen is not None else "weight_label"


class ProductLookupOutput(ProductSummaryOutput, _ScanOutput):
    """The product summary and, beside it, what it is at this store: one flat object."""

    def to_representation(self, instance: ProductAtStore):
        summary = ProductSummaryOutput(instance.product, context=self.context).data
        return {**summary, **_ScanOutput(instance, context=self.context).data}
