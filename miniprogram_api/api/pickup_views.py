"""The pick-up code of a shopper's pick-up order, as text and as a QR code."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import pickup_codes

from .pickup_serializers import PickupCodeSerializer
from .renderers import JSONRenderer
from .schema import ERROR_RESPONSES, ErrorSerializer

NOT_A_PAID_PICKUP_ORDER = OpenApiResponse(
    ErrorSerializer, description="`pickup_code_unavailable`: the order is not a paid pick-up order"
)


class PickupCodeView(APIView):
    @extend_schema(
        responses={200: PickupCodeSerializer, 409: NOT_A_PAID_PICKUP_ORDER, **ERROR_RESPONSES},
        summary="The pick-up code of a paid pick-up order",
        description="Another shopper's order is 404 `order_not_found`.",
        tags=["orders"],
    )
    def get(self, request, order_id: int):
        code = pickup_codes.pickup_code_for_shopper(customer_id=request.user.pk, order_id=order_id)
        return Response(PickupCodeSerializer(code).data)


class PickupCodeImageView(APIView):
    """A PNG on success, the JSON error shape otherwise, whatever the client's Accept says."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), "application/json"

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(description="The pick-up code as a QR code (PNG, error correction M)"),
            409: NOT_A_PAID_PICKUP_ORDER,
            **ERROR_RESPONSES,
        },
        summary="The pick-up code as a QR code image",
        tags=["orders"],
    )
    def get(self, request, order_id: int):
        code = pickup_codes.pickup_code_for_shopper(customer_id=request.user.pk, order_id=order_id)
        response = HttpResponse(pickup_codes.qr_png(code.code), content_type="image/png")
        response["Cache-Control"] = "private, no-store"
        return response
