"""Shared OpenAPI pieces: the error shape, declared once for every endpoint."""

from drf_spectacular.utils import OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(help_text="Stable snake_case code, e.g. unknown_barcode."),
                "message": serializers.CharField(help_text="Human-readable text."),
                "details": serializers.DictField(help_text="Field errors or context; may be empty."),
            },
        )
    },
)

ERROR_RESPONSES = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input"),
    401: OpenApiResponse(ErrorSerializer, description="Missing, invalid, expired or revoked token"),
    404: OpenApiResponse(ErrorSerializer, description="Not found"),
    429: OpenApiResponse(ErrorSerializer, description="Throttled"),
    503: OpenApiResponse(ErrorSerializer, description="An upstream provider is unavailable"),
}


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in Asia/Shanghai without an offset (``07:00:00``). Declared as a
    pattern: OpenAPI's ``format: time`` is RFC 3339's full-time, which requires an offset."""
