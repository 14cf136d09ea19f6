"""14-day returns of an order, and their refunds."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import returns

from .idempotent import IDEMPOTENCY_KEY, respond_once
from .returns_serializers import ReturnInput, ReturnSerializer
from .schema import ERROR_RESPONSES, ErrorSerializer


class OrderReturnsView(APIView):
    @extend_schema(
        responses={200: ReturnSerializer(many=True), **ERROR_RESPONSES},
        summary="The returns of one of my orders, newest first, with their refunds",
        tags=["returns"],
    )
    def get(self, request, order_id: int):
        found = returns.returns_of_order(customer_id=request.user.pk, order_id=order_id)
        return Response(ReturnSerializer(found, many=True).data)

    @extend_schema(
        request=ReturnInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: ReturnSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="The order is not paid (`order_not_paid`), was returned whole (`order_already_refunded`) "
                "or is not delivered yet (`order_not_delivered`)",
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description="`return_window_closed`, `return_quantity_exceeded`, `order_not_returnable`, "
                "`refund_needs_staff` or `idempotency_key_reused`",
            ),
            **ERROR_RESPONSES,
        },
        summary="Return some or all of an order (no questions, within 14 days) and get refunded",
        description=(
            "Within `RETURN_WINDOW_DAYS` (14) of delivery or collection (delivery and pick-up orders) or of "
            "payment (scan & pay). Each line's refund is its share after every discount; the delivery fee comes "
            "back with the return that brings back everything left. The refund is split over the order's tenders "
            "in proportion to what each paid: gift cards are credited at once (`succeeded`), WeChat Pay or Alipay "
            "refunds are sent at once and followed until they succeed (read the return again). Errors: 400 "
            "`validation_error` (no lines, a line twice, a quantity below 1), 400 `unknown_order_line`, 404 "
            "`order_not_found`, 409 `order_not_paid` / `order_already_refunded` / `order_not_delivered`, 422 "
            "`return_window_closed` (`details.deadline`), 422 `return_quantity_exceeded` (`details.returnable`: "
            "units still returnable), 422 `order_not_returnable` (gift-card orders), 422 `idempotency_key_reused`."
        ),
        tags=["returns"],
    )
    def post(self, request, order_id: int):
        data = ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            created = returns.create_return(customer_id=request.user.pk, order_id=order_id, **data.validated_data)
            return status.HTTP_201_CREATED, ReturnSerializer(created).data

        return respond_once(
            request, scope=f"POST /api/v1/orders/{order_id}/returns", payload=data.validated_data, work=work
        )
