"""Output serializers for the catalogue deals: flash sales and the Brand of the Day.

They render what ``promotions.catalogue_deals`` already fetched, so they never query.
Money is integer fen.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from promotions.catalogue_deals import discounted_price_fen
from promotions.models import FlashSale

from .stores_serializers import BrandRefOutput, ProductSummaryOutput


class FlashItemOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    name = serializers.CharField()
    image_url = serializers.CharField()
    base_price_fen = serializers.IntegerField(help_text="The catalogue price, shown struck through.")
    flash_price_fen = serializers.IntegerField()
    quota = serializers.IntegerField(help_text="Units on sale in all.")
    remaining = serializers.IntegerField(help_text="Units not yet taken by any order (paid or awaiting payment).")
    per_customer_limit = serializers.IntegerField()
    you_may_buy = serializers.IntegerField(
        help_text="Units this shopper may still buy at the flash price: the remaining quota, capped by what their "
        "limit still allows after their paid and unpaid orders."
    )


class FlashSaleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    channels = serializers.ChoiceField(choices=FlashSale.Channels.choices)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    items = FlashItemOutput(many=True)


class FlashSalesOutput(serializers.Serializer):
    live = FlashSaleOutput(many=True, help_text="Running now, the soonest to end first.")
    upcoming = FlashSaleOutput(many=True, help_text="Not started yet, the soonest to start first.")


class BrandOfTheDayProductOutput(ProductSummaryOutput):
    discounted_price_fen = serializers.SerializerMethodField(
        help_text="base_price_fen less the Brand of the Day percentage, rounded half up to the fen as at checkout "
        "(per kilogram when sold_by_weight)."
    )

    def get_discounted_price_fen(self, product) -> int:
        return discounted_price_fen(product.base_price_fen, self.context["percent_off"])


class BrandOfTheDayProductPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BrandOfTheDayProductOutput(many=True)


class BrandOfTheDayOutput(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField(help_text="The Asia/Shanghai calendar day it runs.")
    brand = BrandRefOutput()
    percent_off = serializers.IntegerField()
    label = serializers.CharField()
    products = serializers.SerializerMethodField(help_text="The brand's products, one page (`?page=&page_size=`).")

    @extend_schema_field(BrandOfTheDayProductPage)
    def get_products(self, card) -> dict:
        return self.context["products_page"]
