"""Festival campaigns: a shopper scans a store's poster and gets the campaign's coupons."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from miniprogram_api.core import clock
from promotions import campaigns

from .campaigns_serializers import CampaignScanInput, CampaignScanOutput
from .schema import ERROR_RESPONSES, ErrorSerializer
from .throttling import LookupThrottle


class CampaignScanView(APIView):
    throttle_classes = [LookupThrottle]

    @extend_schema(
        operation_id="campaigns_scan",
        request=CampaignScanInput,
        responses={
            201: CampaignScanOutput,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`campaign_already_scanned` (once per shopper per campaign), `coupons_sold_out`",
            ),
            422: OpenApiResponse(ErrorSerializer, description="`campaign_not_live`: outside its window, or off"),
            **ERROR_RESPONSES,
        },
        summary="Scan a campaign poster: get the campaign's coupons",
        description=(
            "Grants each of the campaign's poster coupons once per shopper per campaign, whichever store's poster "
            "is scanned. Errors: 400 `invalid_poster` (not a genuine poster: malformed, altered, or naming no "
            "known campaign or store), 422 `campaign_not_live`, 409 `campaign_already_scanned` (nothing more is "
            "granted), 409 `coupons_sold_out` (nothing is granted and the scan is not counted)."
        ),
        tags=["promotions"],
    )
    def post(self, request):
        data = CampaignScanInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = campaigns.scan_poster(
            customer_id=request.user.pk, payload=data.validated_data["payload"], now=clock.now()
        )
        return Response(CampaignScanOutput(result).data, status=status.HTTP_201_CREATED)
