"""The courier provider's webhook signature (``checkout.couriers.signing``) as a DRF
authentication: the provider is no shopper and holds no token, so a request without a
valid, fresh signature is refused with 401 before its body is even parsed.

``request.auth`` is the ``SignedByCourier`` marker; ``request.user`` stays anonymous.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from checkout.couriers import signing
from miniprogram_api.core import clock


@dataclass(frozen=True)
class SignedByCourier:
    timestamp: int


class CourierSignatureAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        try:
            signed_at = signing.verify(
                secret=settings.COURIER_WEBHOOK_SECRET,
                timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
                signature=request.headers.get(signing.SIGNATURE_HEADER),
                body=request.body,
                now=clock.now(),
                tolerance=settings.COURIER_WEBHOOK_TOLERANCE,
            )
        except (
            signing.CourierNotAuthenticated,
            signing.InvalidCourierSignature,
            signing.StaleCourierSignature,
        ) as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        return AnonymousUser(), SignedByCourier(timestamp=signed_at)

    def authenticate_header(self, request) -> str:
        return 'CourierSignature realm="couriers"'


class IsCourier(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, SignedByCourier)


class CourierSignatureScheme(OpenApiAuthenticationExtension):
    target_class = "miniprogram_api.api.courier_authentication.CourierSignatureAuthentication"
    name = "courierSignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": signing.SIGNATURE_HEADER,
            "description": (
                f"The courier provider signs each request: `{signing.SIGNATURE_HEADER}` is the hex HMAC-SHA256, "
                f"keyed with the shared `COURIER_WEBHOOK_SECRET`, of `<timestamp>.<raw body>`, where `<timestamp>` "
                f"is the Unix time in seconds sent in `{signing.TIMESTAMP_HEADER}`. Missing headers: 401 "
                "`courier_not_authenticated`; a signature that does not match: 401 `invalid_courier_signature`; "
                "a timestamp more than 5 minutes away from ours: 401 `stale_courier_signature`."
            ),
        }
