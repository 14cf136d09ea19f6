"""Gift cards: buy one, top it up, read my cards, share one with a friend, claim a share.

Each view validates its input, calls one service (``checkout.gift_card_orders`` for what
is paid, ``promotions.gift_cards`` for the rest) and renders the answer. POSTs that create
an order or move a card take an ``Idempotency-Key``.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import gift_card_orders
from promotions import gift_cards
from promotions.models.gift_cards import GIFT_CARD_CAP_FEN

from .gift_cards_serializers import (
    GiftCardClaimInput,
    GiftCardDenominationsOutput,
    GiftCardDetailOutput,
    GiftCardOrderOutput,
    GiftCardOutput,
    GiftCardPaymentInput,
    GiftCardShareInput,
    GiftCardShareOutput,
)
from .idempotent import IDEMPOTENCY_KEY, respond_once
from .schema import ERROR_RESPONSES, ErrorSerializer

CARD_ID = OpenApiParameter("card_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The gift card's id.")
NOT_MINE = "404 `gift_card_not_found` (no such card, or another shopper's)"
AMOUNT_ERRORS = (
    "400 `validation_error` (`amount_fen` not a JSON integer, unknown `payment_method`), 400 "
    "`gift_card_amount_not_positive` (zero or negative), 422 `gift_card_amount_not_offered` (neither an active "
    "denomination nor within the custom range; `details` lists them), 422 `gift_card_cap_exceeded`, 422 "
    "`payment_method_unavailable`, 422 `idempotency_key_reused`"
)


class GiftCardListView(GenericAPIView):
    # What an OPTIONS request describes for POST; without it, OPTIONS was a 500.
    serializer_class = GiftCardPaymentInput

    @extend_schema(
        operation_id="gift_cards_list",
        responses={200: GiftCardOutput(many=True), **ERROR_RESPONSES},
        summary="My gift cards",
        description="Newest first, empty and frozen cards included, each with whether it is offered to a friend.",
        tags=["gift cards"],
    )
    def get(self, request):
        page = self.paginate_queryset(gift_cards.my_cards(customer_id=request.user.pk))
        return self.get_paginated_response(GiftCardOutput(page, many=True).data)

    @extend_schema(
        operation_id="gift_cards_buy",
        request=GiftCardPaymentInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: GiftCardOrderOutput,
            422: OpenApiResponse(ErrorSerializer, description="The amount or payment method is refused"),
            **ERROR_RESPONSES,
        },
        summary="Buy a gift card: create the order and its payment",
        description=(
            "Creates an order of kind `gift_card` (channel `online`, no lines) for `amount_fen` and its payment; "
            "the card is issued to me when the payment is confirmed (it then appears in my cards and as the "
            f"order's card). A card holds at most {GIFT_CARD_CAP_FEN} fen. Errors: {AMOUNT_ERRORS}."
        ),
        tags=["gift cards"],
    )
    def post(self, request):
        data = GiftCardPaymentInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            result = gift_card_orders.buy_gift_card(customer_id=request.user.pk, **data.validated_data)
            return status.HTTP_201_CREATED, GiftCardOrderOutput(result).data

        return respond_once(request, scope="POST /api/v1/gift-cards", payload=data.validated_data, work=work)


class GiftCardDenominationsView(APIView):
    @extend_schema(
        operation_id="gift_cards_denominations",
        responses={200: GiftCardDenominationsOutput, **ERROR_RESPONSES},
        summary="The amounts a gift card can be bought for",
        tags=["gift cards"],
    )
    def get(self, request):
        rules = gift_cards.amount_rules()
        return Response(
            GiftCardDenominationsOutput(
                {
                    "denominations_fen": list(rules.denominations),
                    "custom_min_fen": rules.custom_min_fen,
                    "custom_max_fen": rules.custom_max_fen,
                    "cap_fen": GIFT_CARD_CAP_FEN,
                }
            ).data
        )


class GiftCardDetailView(APIView):
    @extend_schema(
        operation_id="gift_cards_retrieve",
        parameters=[CARD_ID],
        responses={200: GiftCardDetailOutput, **ERROR_RESPONSES},
        summary="One of my gift cards, with its full code and ledger",
        description=f"The ledger shows the rows written while the card has been mine. Errors: {NOT_MINE}.",
        tags=["gift cards"],
    )
    def get(self, request, card_id: int):
        return Response(GiftCardDetailOutput(gift_cards.my_card(customer_id=request.user.pk, card_id=card_id)).data)


class GiftCardTopUpView(APIView):
    @extend_schema(
        operation_id="gift_cards_top_up",
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=GiftCardPaymentInput,
        responses={
            201: GiftCardOrderOutput,
            409: OpenApiResponse(ErrorSerializer, description="The card is frozen or offered to a friend"),
            422: OpenApiResponse(ErrorSerializer, description="The amount would pass the cap, or is refused"),
            **ERROR_RESPONSES,
        },
        summary="Top up one of my gift cards: create the order and its payment",
        description=(
            "Creates an order of kind `gift_card_top_up` for the card; the money reaches the card when the "
            "payment is confirmed. The amount follows the buying rules, or is exactly what fills the card to "
            "its cap. The card's balance, what it holds for pending orders, its other top-ups awaiting payment "
            f"and this one together must stay within {GIFT_CARD_CAP_FEN} fen. Errors: {NOT_MINE}, 409 "
            "`gift_card_frozen`, 409 `gift_card_being_shared`, "
            f"{AMOUNT_ERRORS} (`details` has `room_fen`)."
        ),
        tags=["gift cards"],
    )
    def post(self, request, card_id: int):
        data = GiftCardPaymentInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            result = gift_card_orders.top_up_gift_card(
                customer_id=request.user.pk, card_id=card_id, **data.validated_data
            )
            return status.HTTP_201_CREATED, GiftCardOrderOutput(result).data

        return respond_once(
            request, scope=f"POST /api/v1/gift-cards/{card_id}/top-up", payload=data.validated_data, work=work
        )


class GiftCardShareView(APIView):
    @extend_schema(
        operation_id="gift_cards_share",
        parameters=[CARD_ID, IDEMPOTENCY_KEY],
        request=GiftCardShareInput,
        responses={
            201: GiftCardShareOutput,
            409: OpenApiResponse(ErrorSerializer, description="The card cannot be offered now"),
            **ERROR_RESPONSES,
        },
        summary="Offer one of my gift cards to a friend",
        description=(
            "Returns a single-use token (`GS1.<share id>.<secret>`) valid for `GIFT_CARD_SHARE_TTL_HOURS` "
            "(24 h by default) and what the WeChat share card shows (`wechat_share`: pass `title` and `path` to "
            "onShareAppMessage). While offered, the card cannot be spent or topped up; the friend receives the "
            f"whole card. Errors: {NOT_MINE}, 409 `gift_card_frozen`, 409 `gift_card_payment_pending` (it holds "
            "money for an order awaiting payment), 409 `gift_card_top_up_pending` (a top-up of it awaits payment), "
            "409 `gift_card_empty`, 409 `gift_card_already_shared` (an "
            "unexpired share is open: cancel it first), 400 `validation_error` (message over 200 characters)."
        ),
        tags=["gift cards"],
    )
    def post(self, request, card_id: int):
        data = GiftCardShareInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            offer = gift_card_orders.share_card(customer_id=request.user.pk, card_id=card_id, **data.validated_data)
            return status.HTTP_201_CREATED, GiftCardShareOutput(offer).data

        return respond_once(
            request, scope=f"POST /api/v1/gift-cards/{card_id}/share", payload=data.validated_data, work=work
        )

    @extend_schema(
        operation_id="gift_cards_share_cancel",
        parameters=[CARD_ID],
        request=None,
        responses={
            204: OpenApiResponse(description="Cancelled: the token no longer works"),
            409: OpenApiResponse(ErrorSerializer, description="`gift_card_not_shared`: no open share"),
            **ERROR_RESPONSES,
        },
        summary="Cancel the open share of one of my gift cards",
        description=f"Errors: {NOT_MINE}, 409 `gift_card_not_shared` (never offered, claimed, or expired).",
        tags=["gift cards"],
    )
    def delete(self, request, card_id: int):
        gift_cards.cancel_share(customer_id=request.user.pk, card_id=card_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GiftCardClaimView(APIView):
    @extend_schema(
        operation_id="gift_cards_claim",
        parameters=[IDEMPOTENCY_KEY],
        request=GiftCardClaimInput,
        responses={
            200: OpenApiResponse(GiftCardOutput, description="The card, now mine"),
            409: OpenApiResponse(ErrorSerializer, description="The share can no longer be claimed"),
            422: OpenApiResponse(ErrorSerializer, description="`gift_card_own_share`: my own card"),
            **ERROR_RESPONSES,
        },
        summary="Claim a gift card a friend shared",
        description=(
            "Moves the card, with its whole balance, to me; the sharer no longer has it. Of two friends claiming "
            "the same token at once, one gets it. Errors: 400 `invalid_share_token` (malformed or tampered), "
            "409 `gift_card_share_claimed` (claimed already, by me or another), 409 `gift_card_share_cancelled`, "
            "409 `gift_card_share_expired`, 409 `gift_card_frozen` (staff froze the card), 422 "
            "`gift_card_own_share`."
        ),
        tags=["gift cards"],
    )
    def post(self, request):
        data = GiftCardClaimInput(data=request.data)
        data.is_valid(raise_exception=True)

        def work() -> tuple[int, dict]:
            card = gift_cards.claim_share(customer_id=request.user.pk, **data.validated_data)
            summary = gift_cards.card_summary(customer_id=request.user.pk, card_id=card.pk)
            return status.HTTP_200_OK, GiftCardOutput(summary).data

        return respond_once(request, scope="POST /api/v1/gift-cards/claim", payload=data.validated_data, work=work)
