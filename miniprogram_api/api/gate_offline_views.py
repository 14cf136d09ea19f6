"""The gate's offline mode: the public keys it verifies passes with, and the upload of
the decisions it made while its network was down."""

from __future__ import annotations

from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from checkout import gate_offline

from .gate_offline_serializers import KeysOutput, OfflineUploadInput, OfflineUploadOutput
from .gate_views import GATE_ERROR_RESPONSES, GateAPIView
from .schema import ErrorSerializer

KEYS_MAX_AGE_SECONDS = 300


class GateKeysView(GateAPIView):
    @extend_schema(
        responses={200: KeysOutput, 401: GATE_ERROR_RESPONSES[401]},
        summary="Public keys for verifying exit passes offline",
        description="Every Ed25519 public key a live pass may be signed with (the current key and any still "
        "listed during a rotation), and the clock skew to allow. Gates fetch it at start and every few minutes "
        f"(cacheable for {KEYS_MAX_AGE_SECONDS} s) and keep the last answer for when the network is down.",
        tags=["gate"],
    )
    def get(self, request):
        response = Response(KeysOutput(gate_offline.keys_document()).data)
        patch_cache_control(response, private=True, max_age=KEYS_MAX_AGE_SECONDS)
        return response


class OfflineEventsView(GateAPIView):
    @extend_schema(
        request=OfflineUploadInput,
        responses={
            200: OfflineUploadOutput,
            400: OpenApiResponse(ErrorSerializer, description="Invalid events, or more than 500: nothing recorded"),
            401: GATE_ERROR_RESPONSES[401],
        },
        summary="Upload the decisions a gate made offline",
        description=f"At most {gate_offline.MAX_EVENTS_PER_UPLOAD} events per request, oldest first. Each is "
        "recorded once (a retried upload records nothing twice); each open/audit spends its pass, and a pass "
        "already spent (online, or offline at another gate) is recorded with reason `double_use` and listed in "
        "`flagged` for loss prevention.",
        tags=["gate"],
    )
    def post(self, request):
        data = OfflineUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = gate_offline.record_offline_events(gate_id=request.auth.pk, events=data.validated_data["events"])
        return Response(OfflineUploadOutput(result).data)
