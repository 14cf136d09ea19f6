"""The raffle: the raffles a shopper can enter now, and entering one with an unpaid order."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import raffle_entry
from miniprogram_api.core import clock
from promotions import raffles

from .idempotent import IDEMPOTENCY_KEY, respond_once
from .raffles_serializers import LiveRaffleSerializer, RaffleEnterInput, RaffleEnterOutput
from .schema import ERROR_RESPONSES, ErrorSerializer

RAFFLE_ID = OpenApiParameter("raffle_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The raffle's id.")


class RaffleListView(APIView):
    @extend_schema(
        operation_id="raffles_list",
        responses={200: LiveRaffleSerializer(many=True), **ERROR_RESPONSES},
        summary="Raffles open for entries now, with my entries left today",
        tags=["promotions"],
    )
    def get(self, request):
        live = raffles.live_raffles(customer_id=request.user.pk, now=clock.now())
        return Response(LiveRaffleSerializer(live, many=True).data)


class RaffleEnterView(APIView):
    @extend_schema(
        operation_id="raffles_enter",
        parameters=[RAFFLE_ID, IDEMPOTENCY_KEY],
        request=RaffleEnterInput,
        responses={
            200: RaffleEnterOutput,
            409: OpenApiResponse(ErrorSerializer, description="Already entered, daily limit, or order not payable"),
            422: OpenApiResponse(ErrorSerializer, description="The raffle is not live, or nothing to take off"),
            **ERROR_RESPONSES,
        },
        summary="Enter a raffle with an unpaid order and draw at once",
        description=(
            "Draws at once with a secure random source. A win takes `prize_fen` off what is left of the order "
            "(never below zero), split over its lines, and replaces its payment: pay with the returned "
            "`payment_params`. If nothing is left to pay, the order is paid at once. Every entry is kept. "
            "Errors: 400 `validation_error`, 404 `raffle_not_found` (unknown or switched off), 404 "
            "`order_not_found` (unknown or another shopper's), 409 `order_not_payable` (paid, closed, or past "
            "its payment deadline), 409 `raffle_already_entered` (one entry per order), 409 "
            "`raffle_entry_limit_reached` (the daily entries per shopper, Asia/Shanghai day), 422 "
            "`raffle_not_live` (outside its window), 422 `order_nothing_to_discount`."
        ),
        tags=["promotions"],
    )
    def post(self, request, raffle_id: int):
        data = RaffleEnterInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            result = raffle_entry.enter_raffle(
                customer_id=request.user.pk, raffle_id=raffle_id, order_id=data.validated_data["order_id"]
            )
            return 200, RaffleEnterOutput(result).data

        return respond_once(
            request, scope=f"POST /api/v1/raffles/{raffle_id}/enter", payload=data.validated_data, work=work
        )
