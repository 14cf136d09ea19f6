"""Coupons: the offers a shopper may claim, claiming one, and the shopper's own coupons.

Every view: validate the query or path, call one service in ``promotions.coupons`` (and,
for "does it fit my basket?", ``checkout.coupon_fit``), render with an output serializer.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout.coupon_fit import coupons_for_basket
from promotions import coupons

from .coupons_serializers import CouponListQuery, CouponOfferOutput, CouponOutput
from .schema import ERROR_RESPONSES, ErrorSerializer

OFFER_ID = OpenApiParameter("offer_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The offer's id.")


class CouponOfferListView(GenericAPIView):
    @extend_schema(
        operation_id="coupon_offers_list",
        responses={200: CouponOfferOutput(many=True), **ERROR_RESPONSES},
        summary="Coupon offers I can claim now",
        description=(
            "Live offers (switched on, inside their claim window, not past their last day of use), closing "
            "soonest first, each with how many are left (`remaining`, null without a cap), how many I hold and "
            "how many more I may claim. A sold-out offer stays listed with `remaining` 0."
        ),
        tags=["coupons"],
    )
    def get(self, request):
        page = self.paginate_queryset(coupons.claimable_offers(customer_id=request.user.pk))
        return self.get_paginated_response(CouponOfferOutput(page, many=True).data)


class CouponOfferClaimView(APIView):
    @extend_schema(
        operation_id="coupon_offers_claim",
        parameters=[OFFER_ID],
        request=None,
        responses={
            201: OpenApiResponse(CouponOutput, description="The coupon now in my wallet"),
            409: OpenApiResponse(
                ErrorSerializer,
                description="`coupons_sold_out` (none left) or `coupon_limit_reached` (I hold as many as one "
                "shopper may)",
            ),
            422: OpenApiResponse(ErrorSerializer, description="`coupon_offer_not_live`: outside its claim window"),
            **ERROR_RESPONSES,
        },
        summary="Claim a coupon offer",
        description=(
            "Issues one coupon of the offer to me. Its validity is the offer's fixed window, or N days from now. "
            "Errors: 404 `coupon_offer_not_found` (no such offer, or not one shoppers can claim), 422 "
            "`coupon_offer_not_live` (not started, ended, switched off, or past its last day of use; `details` "
            "has the claim window), 409 `coupons_sold_out`, 409 `coupon_limit_reached`. A refused claim "
            "issues nothing."
        ),
        tags=["coupons"],
    )
    def post(self, request, offer_id: int):
        coupon = coupons.claim_offer(customer_id=request.user.pk, template_id=offer_id)
        return Response(CouponOutput(coupon).data, status=status.HTTP_201_CREATED)


class CouponListView(GenericAPIView):
    @extend_schema(
        operation_id="coupons_list",
        parameters=[CouponListQuery],
        responses={200: CouponOutput(many=True), **ERROR_RESPONSES},
        summary="My coupons (and whether each fits a basket)",
        description=(
            "Available first, then locked, used and expired; within each, the soonest to end first. An available "
            "coupon past `valid_until` shows as `expired` straight away. With `basket_id` (one of my baskets), "
            "each coupon says whether it applies to that basket now on its own (`applies`), what it would take "
            "off (`discount_fen`), or why not (`reason`), as checkout would price it. Errors: 400 "
            "`validation_error` (unknown `status`, `basket_id` not a positive integer), 404 `basket_not_found` "
            "(no such basket, or another shopper's)."
        ),
        tags=["coupons"],
    )
    def get(self, request):
        query = CouponListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        basket_id = query.validated_data.get("basket_id")
        fits = None
        if basket_id is not None:
            fits = coupons_for_basket(customer_id=request.user.pk, basket_id=basket_id)
        wallet = coupons.my_coupons(customer_id=request.user.pk, status=query.validated_data.get("status"))
        page = self.paginate_queryset(wallet)
        return self.get_paginated_response(CouponOutput(page, many=True, context={"fits": fits}).data)
