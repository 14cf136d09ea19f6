"""``POST /api/couriers/v1/events``: the courier provider reports picked up / delivered /
failed. Signed by the provider (``CourierSignatureAuthentication``), never a shopper's
token; every outcome the provider need not resend is a 200, including an event it sent
before, so its retries stop."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import courier_events

from .courier_authentication import CourierSignatureAuthentication, IsCourier
from .courier_serializers import CourierEventInput, CourierEventOutput
from .schema import ErrorSerializer


class CourierEventsView(APIView):
    authentication_classes = [CourierSignatureAuthentication]
    permission_classes = [IsCourier]

    @extend_schema(
        request=CourierEventInput,
        responses={
            200: CourierEventOutput,
            400: OpenApiResponse(ErrorSerializer, description="Invalid body (validation_error, malformed_request)"),
            401: OpenApiResponse(
                ErrorSerializer,
                description="Unsigned (courier_not_authenticated), wrongly signed (invalid_courier_signature) or "
                "signed more than 5 minutes ago (stale_courier_signature)",
            ),
            404: OpenApiResponse(ErrorSerializer, description="No shipment has this tracking_no (unknown_tracking_no)"),
        },
        summary="Report a courier event: picked_up, delivered or failed",
        description=(
            "For the courier provider. `delivered` sets the shipment's `delivered_at` to `occurred_at` (a pick-up "
            "order's shipment delivered to the station becomes ready for pick-up), and the order's once every "
            "shipment is delivered: the 14-day return window starts there. `failed` (with `data.reason`) sends the "
            "shipment out again in the next slot, or to staff once the attempts are used up. Each `event_id` is "
            "applied once; events may arrive out of order."
        ),
        tags=["couriers"],
    )
    def post(self, request):
        data = CourierEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = data.validated_data
        result = courier_events.apply_courier_event(
            event_id=event["event_id"],
            tracking_no=event["tracking_no"],
            kind=event["kind"],
            occurred_at=event["occurred_at"],
            payload=event["data"],
        )
        return Response(
            CourierEventOutput(
                {"event_id": event["event_id"], "outcome": result.outcome, "shipment_status": result.status}
            ).data
        )
