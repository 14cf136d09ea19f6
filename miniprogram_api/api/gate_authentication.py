"""``Authorization: Gate <key_id>:<secret>`` for exit gate devices.

Gate endpoints take only this scheme (a shopper's bearer token opens no gate), so a
request without it is refused here with ``gate_not_authenticated`` rather than falling
through to DRF's generic ``not_authenticated``. ``request.auth`` is the ``Gate``;
``request.user`` stays anonymous, since a gate is no customer.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from checkout import gates
from checkout.models import Gate

KEYWORD = "Gate"


class GateAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, credential = header.strip().partition(" ")
        if scheme.lower() != KEYWORD.lower():
            raise exceptions.AuthenticationFailed(
                f"Send the gate's credential as 'Authorization: {KEYWORD} <key_id>:<secret>'.",
                code="gate_not_authenticated",
            )
        key_id, _, secret = credential.strip().partition(":")
        try:
            gate = gates.authenticate_gate(key_id=key_id, secret=secret)
        except gates.InvalidGateCredential as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        return AnonymousUser(), gate

    def authenticate_header(self, request) -> str:
        return f'{KEYWORD} realm="gate"'


class IsGate(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Gate)


class GateAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "miniprogram_api.api.gate_authentication.GateAuthentication"
    name = "gateAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Exit gate devices: `Gate <key_id>:<secret>`, the line printed once by "
            "`manage.py create_gate` or shown once when staff register the gate in the admin. "
            "Missing: 401 `gate_not_authenticated`; unknown key id or wrong secret: 401 "
            "`invalid_gate_credential`; a gate staff disabled: 401 `gate_disabled`.",
        }
