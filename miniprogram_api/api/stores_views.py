"""Stores, the catalogue, and what a scanned barcode is at a store.

Every view: validate the query with an input serializer, call one selector, render with
an output serializer. List views are ``GenericAPIView`` only for the project's paginator.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from stores import selectors

from .schema import ERROR_RESPONSES
from .stores_serializers import (
    ProductDetailOutput,
    ProductListQuery,
    ProductLookupOutput,
    ProductLookupQuery,
    ProductSummaryOutput,
    StoreListQuery,
    StoreOutput,
)
from .throttling import LookupThrottle


def _path_id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH, description=f"The {what}'s id.")


class StoreListView(GenericAPIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="stores_list",
        parameters=[StoreListQuery],
        responses={200: StoreOutput(many=True), **ERROR_RESPONSES},
        summary="Stores, nearest first",
        description=(
            "Active stores (never warehouses). With `lat` and `lng` (both or neither) they are "
            "ordered nearest first and carry `distance_m`; without, they are ordered by code and "
            "`distance_m` is null. `city` narrows to one city: a code that names no city is a 400 "
            "with code `unknown_city` (not an empty list), while a known city with no open store "
            "is an empty page. Coordinates out of range are a 400 `validation_error`."
        ),
        tags=["stores"],
    )
    def get(self, request):
        query = StoreListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.store_list(**query.validated_data))
        return self.get_paginated_response(StoreOutput(page, many=True).data)


class StoreDetailView(APIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="stores_retrieve",
        parameters=[_path_id("store_id", "store")],
        responses={200: StoreOutput, **ERROR_RESPONSES},
        summary="One store",
        description="A closed-down store or a warehouse is a 404 `not_found`. `distance_m` is null here.",
        tags=["stores"],
    )
    def get(self, request, store_id: int):
        return Response(StoreOutput(selectors.store_get(store_id=store_id)).data)


class ProductListView(GenericAPIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="products_list",
        parameters=[ProductListQuery],
        responses={200: ProductSummaryOutput(many=True), **ERROR_RESPONSES},
        summary="The catalogue",
        description=(
            "Active products ordered by id; filters combine. An id filter that is not a positive "
            "integer, or an `is_new` that is not a boolean, is a 400 `validation_error`; an id "
            "that matches nothing gives an empty page."
        ),
        tags=["products"],
    )
    def get(self, request):
        query = ProductListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.product_list(**query.validated_data))
        return self.get_paginated_response(ProductSummaryOutput(page, many=True).data)


class ProductDetailView(APIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="products_retrieve",
        parameters=[_path_id("product_id", "product")],
        responses={200: ProductDetailOutput, **ERROR_RESPONSES},
        summary="One product, with its barcodes",
        tags=["products"],
    )
    def get(self, request, product_id: int):
        return Response(ProductDetailOutput(selectors.product_get(product_id=product_id)).data)


class ProductLookupView(APIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="stores_products_lookup",
        parameters=[_path_id("store_id", "store"), ProductLookupQuery],
        responses={200: ProductLookupOutput, **ERROR_RESPONSES},
        summary="What a scanned barcode is at this store",
        description=(
            "The product, this store's price and stock for a scanned code. Errors: 400 "
            "`invalid_barcode` (a misread: wrong length or check digit; scan again), 404 "
            "`not_found` (no such open store), 404 `unknown_barcode` (a valid code that is not in "
            "the catalogue), 404 `not_sold_here` (in the catalogue, not carried by this store)."
        ),
        tags=["stores"],
    )
    def get(self, request, store_id: int):
        query = ProductLookupQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = selectors.product_at_store(store_id=store_id, barcode=query.validated_data["barcode"])
        return Response(ProductLookupOutput(result).data)
