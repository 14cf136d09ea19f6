"""The server's side of offline gates: the public keys they verify with, and the decisions
they upload when their network is back.

An offline gate (``gate_verifier.offline``) knows only what it let through itself, so a
screenshot of a pass can open two gates, or one gate offline after the pass opened another
online. The upload is where that is caught: each ``open``/``audit`` spends the pass exactly
as an online check would (a conditional UPDATE on ``used_at IS NULL``), and a pass already
spent is recorded with reason ``double_use`` and returned as a loss-prevention flag.

Uploads are retried by gates that never saw the answer, so each event carries a
fingerprint of (gate, token, decision, reason, occurred_at) in ``data`` and an event
already recorded is skipped; the gate's row is locked for the upload, so two copies of one
batch arriving together are recorded once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from django.conf import settings
from django.db import transaction

from gate_verifier import token as pass_token
from miniprogram_api.core.errors import InvalidInput

from . import exit_keys
from .models import ExitPass, Gate, GateEvent

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_UPLOAD = 500
REASON_DOUBLE_USE = "double_use"
SPENDING_DECISIONS = frozenset({GateEvent.Decision.OPEN, GateEvent.Decision.AUDIT})


@dataclass(frozen=True)
class OfflineEvent:
    """One decision as the gate journaled it; ``occurred_at`` is the gate's clock."""

    token: str
    decision: str
    reason: str
    occurred_at: dt.datetime


@dataclass(frozen=True)
class DoubleUse:
    """A pass that let someone out again: where and when it was first spent."""

    pass_id: int
    order_id: int
    occurred_at: dt.datetime
    first_used_at: dt.datetime
    first_gate_id: int | None
    first_gate: str

    def as_data(self) -> dict:
        return {
            "pass_id": self.pass_id,
            "order_id": self.order_id,
            "first_used_at": self.first_used_at.isoformat(),
            "first_gate_id": self.first_gate_id,
            "first_gate": self.first_gate,
        }


@dataclass(frozen=True)
class UploadResult:
    recorded: int
    duplicates: int
    flagged: list[DoubleUse]


class TooManyEvents(InvalidInput):
    code = "too_many_events"
    default_message = f"Upload at most {MAX_EVENTS_PER_UPLOAD} events at a time."


def keys_document() -> dict:
    """What ``GET /api/gate/v1/keys`` answers: every public key a pass may be signed with."""
    return {
        "keys": [
            {"key_id": key_id, "algorithm": "Ed25519", "public_key_pem": exit_keys.public_key_pem(key)}
            for key_id, key in exit_keys.public_keys().items()
        ],
        "clock_skew_seconds": int(settings.EXIT_PASS_CLOCK_SKEW.total_seconds()),
    }


def record_offline_events(*, gate_id: int, events: Sequence[OfflineEvent]) -> UploadResult:
    """Record a gate's offline decisions once each, spend the passes they let through, and
    flag every pass that had already been spent."""
    if len(events) > MAX_EVENTS_PER_UPLOAD:
        raise TooManyEvents(details={"max_events": MAX_EVENTS_PER_UPLOAD, "events": len(events)})
    keys = exit_keys.public_keys()
    checked = [_Checked.of(event, gate_id=gate_id, keys=keys) for event in events]
    with transaction.atomic():
        gate = Gate.objects.select_for_update().get(pk=gate_id)
        existing = _existing_by_fingerprint(gate_id, [c.event.occurred_at for c in checked])
        passes = ExitPass.objects.in_bulk([c.claims.pass_id for c in checked if c.claims is not None])
        new_events: list[GateEvent] = []
        flagged: list[DoubleUse] = []
        duplicates = 0
        # Passes are spent in pass id order (the events of one pass by time), so two gates'
        # uploads touching the same passes lock them in the same order.
        for item in sorted(checked, key=_spending_order):
            if item.fingerprint in existing:
                duplicates += 1
                earlier = existing[item.fingerprint]
                if earlier is not None and earlier.reason == REASON_DOUBLE_USE:
                    flagged.append(_flag_from_data(earlier))
                continue
            existing[item.fingerprint] = None  # the same event twice in one batch
            exit_pass = item.exit_pass_in(passes, store_id=gate.store_id)
            double_use = None
            if exit_pass is not None and item.event.decision in SPENDING_DECISIONS:
                double_use = _spend(exit_pass, gate=gate, occurred_at=item.event.occurred_at)
            if double_use is not None:
                flagged.append(double_use)
                _warn(double_use, gate)
            elif item.claims is None and item.event.decision in SPENDING_DECISIONS:
                logger.warning(
                    "Gate %s opened offline (%s) on a token the server rejects (%s) at %s",
                    gate.key_id,
                    item.event.decision,
                    item.rejected,
                    item.event.occurred_at.isoformat(),
                )
            new_events.append(item.to_model(gate, exit_pass, double_use))
        GateEvent.objects.bulk_create(new_events)
    return UploadResult(recorded=len(new_events), duplicates=duplicates, flagged=flagged)


@dataclass
class _Checked:
    event: OfflineEvent
    fingerprint: str
    token_sha256: str
    claims: pass_token.PassClaims | None
    rejected: str

    @classmethod
    def of(cls, event: OfflineEvent, *, gate_id: int, keys) -> _Checked:
        token_sha256 = hashlib.sha256(event.token.encode()).hexdigest()
        when = event.occurred_at.astimezone(dt.UTC).isoformat()
        fingerprint = hashlib.sha256(
            f"{gate_id}\n{token_sha256}\n{event.decision}\n{event.reason}\n{when}".encode()
        ).hexdigest()
        claims, rejected = _signed_claims(event.token, keys)
        return cls(event, fingerprint, token_sha256, claims, rejected)

    def exit_pass_in(self, passes: dict[int, ExitPass], *, store_id: int) -> ExitPass | None:
        """The pass row this token is, as the online check finds it: by id, same token,
        and for this gate's store (another store's gate must not spend a shopper's pass)."""
        if self.claims is None or self.claims.store_id != store_id:
            return None
        exit_pass = passes.get(self.claims.pass_id)
        if exit_pass is None or not hmac.compare_digest(exit_pass.token, self.event.token):
            return None
        return exit_pass

    def to_model(self, gate: Gate, exit_pass: ExitPass | None, double_use: DoubleUse | None) -> GateEvent:
        data: dict = {
            "fingerprint": self.fingerprint,
            "token_sha256": self.token_sha256,
            "gate_reason": self.event.reason,
        }
        if self.claims is None:
            data["token_rejected"] = self.rejected
        elif exit_pass is None:
            data["unknown_pass_id"] = self.claims.pass_id
        if double_use is not None:
            data["double_use"] = double_use.as_data()
        return GateEvent(
            gate=gate,
            exit_pass=exit_pass,
            decision=self.event.decision,
            reason=REASON_DOUBLE_USE if double_use is not None else self.event.reason,
            data=data,
            occurred_at=self.event.occurred_at,
            offline=True,
        )


def _signed_claims(token: str, keys) -> tuple[pass_token.PassClaims | None, str]:
    """The claims when the signature is ours, whatever the time or store now: the gate
    judged those at its own moment; we only need to know which pass it was."""
    try:
        claims, body, signature = pass_token.read_claims(token)
    except pass_token.TokenRejected as rejected:
        return None, rejected.reason
    key = keys.get(claims.key_id)
    if key is None:
        return None, "unknown_key"
    try:
        key.verify(signature, body)
    except InvalidSignature:
        return None, "bad_signature"
    return claims, ""


def _spending_order(item: _Checked) -> tuple:
    pass_id = item.claims.pass_id if item.claims is not None else 0
    return (item.claims is None, pass_id, item.event.occurred_at)


def _existing_by_fingerprint(gate_id: int, times: list[dt.datetime]) -> dict[str, GateEvent | None]:
    rows = GateEvent.objects.filter(gate_id=gate_id, offline=True, occurred_at__in=set(times)).only(
        "reason", "data", "occurred_at"
    )
    return {row.data.get("fingerprint"): row for row in rows if isinstance(row.data, dict)}


def _spend(exit_pass: ExitPass, *, gate: Gate, occurred_at: dt.datetime) -> DoubleUse | None:
    """Spend the pass as the online check does; a pass already spent (or another pass of
    the same order) is a double use."""
    spent = ExitPass.objects.filter(pk=exit_pass.pk, used_at__isnull=True).update(used_at=occurred_at, used_gate=gate)
    if spent:
        first = (
            ExitPass.objects.filter(order_id=exit_pass.order_id, used_at__isnull=False)
            .exclude(pk=exit_pass.pk)
            .select_related("used_gate")
            .order_by("used_at")
            .first()
        )
    else:
        first = ExitPass.objects.select_related("used_gate").get(pk=exit_pass.pk)
    if first is None:
        return None
    return DoubleUse(
        pass_id=exit_pass.pk,
        order_id=exit_pass.order_id,
        occurred_at=occurred_at,
        first_used_at=first.used_at,
        first_gate_id=first.used_gate_id,
        first_gate=first.used_gate.name if first.used_gate is not None else "",
    )


def _flag_from_data(event: GateEvent) -> DoubleUse:
    data = event.data["double_use"]
    return DoubleUse(
        pass_id=data["pass_id"],
        order_id=data["order_id"],
        occurred_at=event.occurred_at,
        first_used_at=dt.datetime.fromisoformat(data["first_used_at"]),
        first_gate_id=data["first_gate_id"],
        first_gate=data["first_gate"],
    )


def _warn(flag: DoubleUse, gate: Gate) -> None:
    logger.warning(
        "Exit pass %s (order %s) used again offline at gate %s (%s) at %s; first used at %s by gate %s",
        flag.pass_id,
        flag.order_id,
        gate.name,
        gate.key_id,
        flag.occurred_at.isoformat(),
        flag.first_used_at.isoformat(),
        flag.first_gate or "?",
    )
