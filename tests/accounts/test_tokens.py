"""Bearer tokens as a service: issued once in the clear, stored as SHA-256, checked,
revoked and purged."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from miniprogram_api.accounts import tokens
from miniprogram_api.accounts.models import AccessToken
from miniprogram_api.core import clock
from tests.factories import CustomerFactory


def test_issued_token_is_stored_only_as_its_sha256(customer):
    raw, row = tokens.issue_token(customer=customer)

    stored = AccessToken.objects.get(pk=row.pk)
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {stored.key_hash, stored.prefix}
    assert stored.prefix == raw[:8]
    assert not AccessToken.objects.filter(key_hash=raw).exists()


def test_issued_tokens_are_long_random_and_distinct(customer):
    raws = {tokens.issue_token(customer=customer)[0] for _ in range(5)}

    assert len(raws) == 5
    assert all(len(raw) >= 43 for raw in raws)  # 32 random bytes, base64url


def test_token_expires_after_the_configured_ttl(customer, settings, monkeypatch):
    frozen = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: frozen)
    settings.ACCESS_TOKEN_TTL = timedelta(days=3)

    _, row = tokens.issue_token(customer=customer)

    assert row.expires_at == frozen + timedelta(days=3)


def test_valid_token_authenticates_its_customer(customer):
    raw, row = tokens.issue_token(customer=customer)

    token = tokens.authenticate_token(raw)

    assert token.pk == row.pk
    assert token.customer == customer


def test_unknown_token_is_invalid(db):
    with pytest.raises(tokens.InvalidToken) as caught:
        tokens.authenticate_token("not-a-token-we-issued")

    assert caught.value.code == "invalid_token"


def test_token_past_its_expiry_is_expired(customer, monkeypatch):
    raw, row = tokens.issue_token(customer=customer)
    monkeypatch.setattr(clock, "now", lambda: row.expires_at + timedelta(seconds=1))

    with pytest.raises(tokens.ExpiredToken) as caught:
        tokens.authenticate_token(raw)

    assert caught.value.code == "token_expired"


def test_revoked_token_is_refused_as_revoked(customer):
    raw, row = tokens.issue_token(customer=customer)

    tokens.revoke_token(token=row)

    with pytest.raises(tokens.RevokedToken) as caught:
        tokens.authenticate_token(raw)
    assert caught.value.code == "token_revoked"


def test_revoking_twice_keeps_the_first_revocation_time(customer, monkeypatch):
    _, row = tokens.issue_token(customer=customer)
    first = timezone.now()
    monkeypatch.setattr(clock, "now", lambda: first)
    tokens.revoke_token(token=row)
    monkeypatch.setattr(clock, "now", lambda: first + timedelta(hours=1))

    tokens.revoke_token(token=row)

    row.refresh_from_db()
    assert row.revoked_at == first


def test_revoking_one_token_leaves_the_customers_other_tokens_valid(customer):
    _, phone_token = tokens.issue_token(customer=customer)
    tablet_raw, _ = tokens.issue_token(customer=customer)

    tokens.revoke_token(token=phone_token)

    assert tokens.authenticate_token(tablet_raw).customer == customer


def test_disabled_customers_token_is_refused(customer):
    raw, _ = tokens.issue_token(customer=customer)
    customer.is_active = False
    customer.save(update_fields=["is_active"])

    with pytest.raises(tokens.InvalidToken) as caught:
        tokens.authenticate_token(raw)

    assert caught.value.code == "account_disabled"


def test_purge_deletes_only_tokens_dead_for_more_than_a_week(db):
    customer = CustomerFactory()
    now = timezone.now()
    _, live = tokens.issue_token(customer=customer)
    _, recently_expired = tokens.issue_token(customer=customer)
    _, long_expired = tokens.issue_token(customer=customer)
    _, recently_revoked = tokens.issue_token(customer=customer)
    _, long_revoked = tokens.issue_token(customer=customer)
    AccessToken.objects.filter(pk=recently_expired.pk).update(expires_at=now - timedelta(days=1))
    AccessToken.objects.filter(pk=long_expired.pk).update(expires_at=now - timedelta(days=8))
    AccessToken.objects.filter(pk=recently_revoked.pk).update(revoked_at=now - timedelta(days=1))
    AccessToken.objects.filter(pk=long_revoked.pk).update(revoked_at=now - timedelta(days=8))

    deleted = tokens.purge_expired_tokens()

    assert deleted == 2
    assert set(AccessToken.objects.values_list("pk", flat=True)) == {
        live.pk,
        recently_expired.pk,
        recently_revoked.pk,
    }


def test_purge_task_runs_the_purge(db):
    from miniprogram_api.accounts.tasks import purge_expired_tokens

    customer = CustomerFactory()
    _, old = tokens.issue_token(customer=customer)
    AccessToken.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=30))

    assert purge_expired_tokens.delay().get() == 1
    assert not AccessToken.objects.exists()
