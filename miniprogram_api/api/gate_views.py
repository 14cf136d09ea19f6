"""The exit gate's online endpoints: verify a scanned pass, resolve an audit.

Authenticated by the gate's own credential (``GateAuthentication``), never a shopper's
token. A rejected pass is a 200 with ``decision: deny``: the gate asked a question and
got an answer; only a request the gate could not have meant (no JSON, no token) is a 4xx.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from checkout import gate_decisions

from .gate_authentication import GateAuthentication, IsGate
from .gate_serializers import ResolveInput, ResolveOutput, VerifyInput, VerifyOutput
from .schema import ErrorSerializer

GATE_ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input (validation_error, malformed_request)"),
    401: OpenApiResponse(
        ErrorSerializer,
        description="Missing (gate_not_authenticated), unknown or wrong (invalid_gate_credential) or disabled "
        "(gate_disabled) gate credential",
    ),
}


class GateAPIView(APIView):
    authentication_classes = [GateAuthentication]
    permission_classes = [IsGate]


class VerifyView(GateAPIView):
    @extend_schema(
        request=VerifyInput,
        responses={200: VerifyOutput, **GATE_ERROR_RESPONSES},
        summary="Decide whether the gate opens for a scanned exit pass",
        description=(
            "Checks the token's signature and key, its validity window (with the configured clock skew), that it is "
            "for this gate's store, that the pass is the order's live one, that the order is paid, and that the pass "
            "is unused; then uses it, once. `open`: let the shopper through. `audit`: the pass is used and staff "
            "check the basket (`staff`), then resolve `audit_id`. `deny`: do not open; `reason` says why "
            "(`already_used` comes with `used_at` and `used_gate`). A bad token is a `deny`, not an error."
        ),
        tags=["gate"],
    )
    def post(self, request):
        data = VerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        decision = gate_decisions.verify(gate=request.auth, token=data.validated_data["token"])
        return Response(VerifyOutput(decision).data)


class ResolveAuditView(GateAPIView):
    @extend_schema(
        request=ResolveInput,
        responses={
            200: ResolveOutput,
            404: OpenApiResponse(ErrorSerializer, description="No such audit at this gate's store (audit_not_found)"),
            409: OpenApiResponse(ErrorSerializer, description="Already resolved (audit_already_resolved)"),
            **GATE_ERROR_RESPONSES,
        },
        summary="Record staff's verdict on an audit: passed opens, failed denies",
        tags=["gate"],
    )
    def post(self, request, audit_id: int):
        data = ResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = gate_decisions.resolve_audit(gate=request.auth, audit_id=audit_id, **data.validated_data)
        return Response(ResolveOutput(event).data)
