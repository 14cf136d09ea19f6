"""Issuing, checking and revoking opaque bearer tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Unauthenticated

from .models import AccessToken, Customer


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    default_message = "The access token is not valid."


class ExpiredToken(InvalidToken):
    code = "token_expired"
    default_message = "The access token has expired; log in again."


class RevokedToken(InvalidToken):
    code = "token_revoked"
    default_message = "The access token was revoked; log in again."


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(*, customer: Customer) -> tuple[str, AccessToken]:
    """Return the raw token (shown to the client once) and its stored row."""
    raw = secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        customer=customer,
        key_hash=hash_token(raw),
        prefix=raw[:8],
        expires_at=clock.now() + settings.ACCESS_TOKEN_TTL,
    )
    return raw, token


def authenticate_token(raw: str) -> AccessToken:
    """One query: the token with its customer. Raises an ``InvalidToken`` subclass."""
    try:
        token = AccessToken.objects.select_related("customer").get(key_hash=hash_token(raw))
    except AccessToken.DoesNotExist:
        raise InvalidToken() from None
    if token.revoked_at is not None:
        raise RevokedToken()
    if token.expires_at <= clock.now():
        raise ExpiredToken()
    if not token.customer.is_active:
        raise InvalidToken("This account is disabled.", code="account_disabled")
    return token


def revoke_token(*, token: AccessToken) -> None:
    AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())


def purge_expired_tokens(*, older_than_days: int = 7) -> int:
    """Delete tokens expired or revoked more than ``older_than_days`` ago."""
    from datetime import timedelta

    cutoff = clock.now() - timedelta(days=older_than_days)
    expired = AccessToken.objects.filter(expires_at__lt=cutoff)
    revoked = AccessToken.objects.filter(revoked_at__lt=cutoff)
    deleted, _ = (expired | revoked).delete()
    return deleted
