"""Checkout of a scan & pay basket, and the shopper's orders."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import exitpass, orders, scan_and_pay

from .idempotent import IDEMPOTENCY_KEY, respond_once
from .orders_serializers import CheckoutInput, CheckoutOutput, ExitPassSerializer, OrderSerializer
from .renderers import JSONRenderer
from .schema import ERROR_RESPONSES, ErrorSerializer


class BasketCheckoutView(APIView):
    @extend_schema(
        request=CheckoutInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: CheckoutOutput,
            409: OpenApiResponse(
                ErrorSerializer,
                description="The basket is not open for checkout, is awaiting payment with another method or "
                "other coupons, or a coupon or flash-sale unit it priced was just taken by another checkout",
            ),
            422: OpenApiResponse(
                ErrorSerializer, description="Empty basket, a chosen coupon does not apply, or Idempotency-Key reused"
            ),
            **ERROR_RESPONSES,
        },
        summary="Check out a basket: create the order and its payment",
        description=(
            "Prices the basket now with the chosen `coupon_ids` (at most one order coupon and one delivery "
            "coupon), writes the order, locks the coupons on it and takes its flash-sale units from their "
            "quotas, all or nothing; paying uses them, a payment timeout gives them back. A retry of a frozen "
            "basket returns its pending order as it is. Errors: 400 `validation_error` (unknown payment "
            "method, more than 2 coupon ids, an id twice), 404 `basket_not_found`, 409 `basket_not_open`, "
            "409 `basket_awaiting_other_payment` / `basket_awaiting_other_coupons` (a retry must repeat the "
            "pending order's method and coupons), 409 `coupon_unavailable` (used on "
            "another order a moment ago), 409 `flash_sale_sold_out` / `flash_sale_limit_reached` (read the "
            "basket again for its new price), 422 `basket_empty`, 422 `payment_method_unavailable`, 422 "
            "`coupon_not_applicable` (`details` maps each refused coupon id to the reason: `expired`, "
            "`not_yet_valid`, `not_available`, `wrong_channel`, `below_threshold`, `nothing_eligible`, "
            "`not_a_delivery_order`, `one_order_coupon_only`, ...), 422 `idempotency_key_reused`."
        ),
        tags=["orders"],
    )
    def post(self, request, basket_id: int):
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            result = scan_and_pay.checkout_basket(
                customer_id=request.user.pk, basket_id=basket_id, **data.validated_data
            )
            return status.HTTP_201_CREATED, CheckoutOutput(result).data

        return respond_once(
            request, scope=f"POST /api/v1/baskets/{basket_id}/checkout", payload=data.validated_data, work=work
        )


class OrderListView(GenericAPIView):
    serializer_class = OrderSerializer

    @extend_schema(responses={200: OrderSerializer(many=True), **ERROR_RESPONSES}, summary="My orders", tags=["orders"])
    def get(self, request):
        page = self.paginate_queryset(orders.order_list(customer_id=request.user.pk))
        return self.get_paginated_response(OrderSerializer(page, many=True).data)


class OrderDetailView(APIView):
    @extend_schema(responses={200: OrderSerializer, **ERROR_RESPONSES}, summary="One of my orders", tags=["orders"])
    def get(self, request, order_id: int):
        return Response(OrderSerializer(orders.order_get(customer_id=request.user.pk, order_id=order_id)).data)


class ExitPassView(APIView):
    @extend_schema(
        responses={
            200: ExitPassSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The order is not a paid scan & pay order"),
            **ERROR_RESPONSES,
        },
        summary="The exit pass of a paid scan & pay order (a fresh one if it expired unused)",
        tags=["orders"],
    )
    def get(self, request, order_id: int):
        exit_pass = exitpass.exit_pass_for_shopper(customer_id=request.user.pk, order_id=order_id)
        return Response(ExitPassSerializer(exit_pass).data)


class ExitPassImageView(APIView):
    """A PNG on success, the JSON error shape otherwise, whatever the client's Accept says
    (an image download may send ``Accept: image/png``; that must not turn errors into 406)."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), "application/json"

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(description="The exit pass as a QR code (PNG, error correction M)"),
            409: OpenApiResponse(ErrorSerializer, description="The order is not a paid scan & pay order"),
            **ERROR_RESPONSES,
        },
        summary="The exit pass as a QR code image",
        tags=["orders"],
    )
    def get(self, request, order_id: int):
        exit_pass = exitpass.exit_pass_for_shopper(customer_id=request.user.pk, order_id=order_id)
        response = HttpResponse(exitpass.qr_png(exit_pass.token), content_type="image/png")
        response["Cache-Control"] = "private, no-store"
        return response
