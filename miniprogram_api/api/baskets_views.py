"""Scan & pay baskets: open one at a store, scan, change or remove lines, read it priced.

Every view: validate the body with an input serializer, call one service or selector in
``checkout.baskets``, render the priced basket. Every write answers with the whole priced
basket, so the client redraws from one response and never prices anything itself.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import baskets

from .baskets_serializers import BasketOpenInput, BasketOutput, LineQuantityInput, ScanInput, ScanOutput
from .schema import ERROR_RESPONSES, ErrorSerializer
from .throttling import LookupThrottle

UNPROCESSABLE = {
    422: OpenApiResponse(ErrorSerializer, description="A business rule refuses it; see the operation's description")
}
BASKET_ERROR_RESPONSES = {
    **ERROR_RESPONSES,
    409: OpenApiResponse(ErrorSerializer, description="The basket is not open (`basket_frozen`, `basket_not_open`)"),
    **UNPROCESSABLE,
}
BASKET_ID = OpenApiParameter("basket_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The basket's id.")
LINE_ID = OpenApiParameter("line_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The line's id.")
NOT_OPEN = (
    "409 `basket_frozen` while its order awaits payment (resume or cancel the payment), 409 `basket_not_open` "
    "once checked out, expired or released (`details.status` says which; open a new basket)"
)
NOT_FOUND = "404 `basket_not_found` for an unknown basket or another shopper's (never 403, so ids reveal nothing)"


class BasketOpenView(APIView):
    @extend_schema(
        operation_id="baskets_create",
        request=BasketOpenInput,
        responses={
            201: OpenApiResponse(BasketOutput, description="A new, empty basket"),
            200: OpenApiResponse(BasketOutput, description="The shopper's basket at this store, open or frozen"),
            **ERROR_RESPONSES,
            **UNPROCESSABLE,
        },
        summary="Open a basket at a store (or get the one already open there)",
        description=(
            "A shopper has at most one open or frozen basket per store. If they have one it is returned "
            "with 200, as it is: a `frozen` basket awaits payment of its order, so the client resumes the "
            "payment; an existing basket is returned even if the store has since closed or switched scan & "
            "pay off, so a shopper in the aisles can finish. Otherwise a new basket is created (201). "
            "Errors: 404 `not_found` (no such store, closed down, or a warehouse), 422 "
            "`scan_and_go_unavailable` (the store does not offer scan & pay), 422 `store_closed` (outside "
            "its opening hours, Asia/Shanghai time; `details` has the hours), 400 `validation_error`."
        ),
        tags=["baskets"],
    )
    def post(self, request):
        data = BasketOpenInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = baskets.open_basket(customer_id=request.user.pk, **data.validated_data)
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(BasketOutput(result.basket).data, status=code)


class BasketDetailView(APIView):
    @extend_schema(
        operation_id="baskets_retrieve",
        parameters=[BASKET_ID],
        responses={200: BasketOutput, **ERROR_RESPONSES},
        summary="A basket, priced now",
        description=(
            "Unit lines are priced at the store's price now; scale labels at their printed (or weighed) "
            f"price. Errors: {NOT_FOUND}."
        ),
        tags=["baskets"],
    )
    def get(self, request, basket_id: int):
        return Response(BasketOutput(baskets.basket_get(customer_id=request.user.pk, basket_id=basket_id)).data)


class BasketScanView(APIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="baskets_scan",
        parameters=[BASKET_ID],
        request=ScanInput,
        responses={200: ScanOutput, **BASKET_ERROR_RESPONSES},
        summary="Add what was scanned; returns the priced basket",
        description=(
            "A product code adds `quantity` (default 1) to that product's one unit line; each in-store "
            "scale label is a line of its own (`price_label` at its printed price, `weight_label` at its "
            "weight x the store's price per kg, rounded half up to the fen). `scanned_line_id` names the "
            "line touched. Errors: 400 `invalid_barcode` (a misread: scan again), 400 `validation_error` "
            "(barcode not a string, quantity not an integer 1-99), 400 `label_quantity_not_allowed` (a "
            "quantity other than 1 with a label), 404 `unknown_barcode`, 404 `not_sold_here`, "
            f"{NOT_FOUND}, {NOT_OPEN}, 422 `quantity_limit` (a line holds at most 99), 422 "
            "`too_many_lines` (at most 200 lines), 422 `weight_label_required` (the maker's code on a "
            "product sold by weight: weigh it and scan the scale's label), 422 `implausible_label_price` "
            "(a price label on a weighed product implying under 10 g or over 30 kg, or on another product "
            "outside 50%-150% of the store's price), 422 `implausible_label_weight` (outside 1 g-30 kg)."
        ),
        tags=["baskets"],
    )
    def post(self, request, basket_id: int):
        data = ScanInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = baskets.scan(customer_id=request.user.pk, basket_id=basket_id, **data.validated_data)
        return Response(ScanOutput(result).data)


class BasketLineView(APIView):
    @extend_schema(
        operation_id="baskets_lines_partial_update",
        parameters=[BASKET_ID, LINE_ID],
        request=LineQuantityInput,
        responses={200: BasketOutput, **BASKET_ERROR_RESPONSES},
        summary="Set a line's quantity; returns the priced basket",
        description=(
            "Unit lines only. Errors: 400 `validation_error` (quantity not an integer 1-99), 404 "
            f"`basket_line_not_found` (no such line in this basket), {NOT_FOUND}, {NOT_OPEN}, 422 "
            "`label_quantity_fixed` (a scale label is one item: remove it instead)."
        ),
        tags=["baskets"],
    )
    def patch(self, request, basket_id: int, line_id: int):
        data = LineQuantityInput(data=request.data)
        data.is_valid(raise_exception=True)
        basket = baskets.change_line_quantity(
            customer_id=request.user.pk, basket_id=basket_id, line_id=line_id, **data.validated_data
        )
        return Response(BasketOutput(basket).data)

    @extend_schema(
        operation_id="baskets_lines_destroy",
        parameters=[BASKET_ID, LINE_ID],
        request=None,
        responses={200: BasketOutput, **BASKET_ERROR_RESPONSES},
        summary="Remove a line; returns the priced basket",
        description=(
            "Answers 200 with the priced basket (not 204), so the client redraws the totals from this "
            f"response. Errors: 404 `basket_line_not_found`, {NOT_FOUND}, {NOT_OPEN}."
        ),
        tags=["baskets"],
    )
    def delete(self, request, basket_id: int, line_id: int):
        basket = baskets.remove_line(customer_id=request.user.pk, basket_id=basket_id, line_id=line_id)
        return Response(BasketOutput(basket).data)
