"""Flash sales and the Brand of the Day: read-only views over ``promotions.catalogue_deals``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from miniprogram_api.core import clock
from promotions import catalogue_deals

from .deals_serializers import BrandOfTheDayOutput, BrandOfTheDayProductOutput, FlashSalesOutput
from .schema import ERROR_RESPONSES
from .throttling import LookupThrottle


class FlashSalesView(APIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="flash_sales_list",
        responses={200: FlashSalesOutput, **ERROR_RESPONSES},
        summary="Live and upcoming flash sales, with the quota left",
        description=(
            "Switched-on sales that have not ended, split into `live` and `upcoming`, each with its items. "
            "`remaining` counts units not yet taken by any order; `you_may_buy` is what this shopper may still "
            "buy at the flash price."
        ),
        tags=["promotions"],
    )
    def get(self, request):
        sales = catalogue_deals.flash_sales(now=clock.now(), customer_id=request.user.pk)
        return Response(FlashSalesOutput(sales).data)


class BrandOfTheDayView(GenericAPIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="brand_of_the_day_retrieve",
        parameters=[
            OpenApiParameter("page", OpenApiTypes.INT, description="Page of `products`, from 1."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Products per page (at most 100)."),
        ],
        responses={200: BrandOfTheDayOutput, **ERROR_RESPONSES},
        summary="Today's Brand of the Day and its products",
        description=(
            "Today by the Asia/Shanghai calendar. Each product carries its catalogue price and its price after "
            "the discount. 404 `no_brand_of_the_day` when there is none today."
        ),
        tags=["promotions"],
    )
    def get(self, request):
        card = catalogue_deals.brand_of_the_day(now=clock.now())
        page = self.paginate_queryset(card.products)
        context = {"percent_off": card.percent_off}
        products = self.get_paginated_response(BrandOfTheDayProductOutput(page, many=True, context=context).data)
        return Response(BrandOfTheDayOutput(card, context={"products_page": products.data}).data)
