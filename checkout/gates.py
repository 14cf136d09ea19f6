"""Exit gate devices and their credentials.

A gate authenticates with ``Authorization: Gate <key_id>:<secret>``. The key id is public
(it names the gate in logs); the secret is shown once, when the gate is registered, and
only its SHA-256 is stored, so a leaked database does not let anyone pose as a gate. The
secret carries 256 random bits, so a plain hash (rather than a slow password hash) is
enough and keeps authentication to one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, Unauthenticated
from stores.models import Location
from stores.selectors import StoreNotFound

from .models import Gate

KEY_ID_PREFIX = "gk_"
# How stale ``last_seen_at`` may get before a request refreshes it: a gate scanning every
# few seconds then costs one extra UPDATE a minute, not one per scan.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# Compared against when the key id is unknown, so that case takes as long as a wrong secret.
_NO_SUCH_GATE_HASH = hashlib.sha256(b"no such gate").hexdigest()


class InvalidGateCredential(Unauthenticated):
    code = "invalid_gate_credential"
    default_message = "The gate credential is not valid."


class GateDisabled(InvalidGateCredential):
    code = "gate_disabled"
    default_message = "This gate has been disabled; ask staff to register it again."


class GateStoreNotFound(StoreNotFound):
    default_message = "There is no store with this id."


class GateNameTaken(Conflict):
    code = "gate_name_taken"
    default_message = "This store already has a gate with this name."


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_credential() -> tuple[str, str]:
    """A fresh (key id, secret); neither contains ``:``, which separates them in the header."""
    return KEY_ID_PREFIX + secrets.token_hex(8), secrets.token_urlsafe(32)


def authorization_header(key_id: str, secret: str) -> str:
    return f"Gate {key_id}:{secret}"


def create_gate(*, store_id: int, name: str) -> tuple[Gate, str]:
    """Register a gate; return it and its secret, which is never available again."""
    store = Location.objects.filter(pk=store_id, kind=Location.Kind.STORE).first()
    if store is None:
        raise GateStoreNotFound(details={"store_id": store_id})
    key_id, secret = new_credential()
    try:
        with transaction.atomic():
            gate = Gate.objects.create(store=store, name=name, key_id=key_id, secret_hash=hash_secret(secret))
    except IntegrityError:
        raise GateNameTaken(details={"store": store.code, "name": name}) from None
    return gate, secret


def authenticate_gate(*, key_id: str, secret: str) -> Gate:
    """One query for the gate (plus, at most once a minute, one to refresh ``last_seen_at``).

    Raises ``InvalidGateCredential`` for an unknown key id or a wrong secret (the same
    answer for both), ``GateDisabled`` for a gate staff switched off.
    """
    gate = next(iter(Gate.objects.filter(key_id=key_id)[:1]), None) if key_id else None
    expected = gate.secret_hash if gate is not None else _NO_SUCH_GATE_HASH
    if not hmac.compare_digest(hash_secret(secret), expected) or gate is None:
        raise InvalidGateCredential()
    if not gate.active:
        raise GateDisabled()
    _touch(gate)
    return gate


def _touch(gate: Gate) -> None:
    now = clock.now()
    threshold = now - LAST_SEEN_RESOLUTION
    if gate.last_seen_at is not None and gate.last_seen_at > threshold:
        return
    Gate.objects.filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lte=threshold), pk=gate.pk).update(
        last_seen_at=now
    )
    gate.last_seen_at = now


def disable_gates(*, gate_ids: Iterable[int]) -> int:
    """Switch gates off (their credential stops working at once); return how many were on."""
    return Gate.objects.filter(pk__in=list(gate_ids), active=True).update(active=False)
