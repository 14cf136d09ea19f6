"""What a gate does with a scanned exit pass: open, deny, or call staff for an audit.

``verify`` checks, in this order: the token (signature and key id, validity window with
``EXIT_PASS_CLOCK_SKEW``, the gate's store), then the pass row (it exists and is the live
one), the order (paid; partially refunded is an audit, see ``_decide``), and finally uses
the pass with one conditional UPDATE, so two
gates scanning one pass at the same moment open exactly once. Every decision writes one
append-only ``GateEvent``; an ``audit`` event is itself the pending audit that staff then
resolve with ``resolve_audit``.

A rejected token is a decision (``deny`` with a reason), not an error: the gate shows the
reason and the attempt is on record.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gate_verifier import token as pass_token
from miniprogram_api.core import clock, metrics
from miniprogram_api.core.errors import Conflict, NotFound

from . import exit_keys
from .models import ExitPass, Gate, GateEvent, Order

OPEN = GateEvent.Decision.OPEN
DENY = GateEvent.Decision.DENY
AUDIT = GateEvent.Decision.AUDIT

MESSAGES = {
    "ok": "Paid in full. Thank you for shopping with us.",
    "audit_required": "Please wait: a member of staff will check your basket.",
    "audit_partially_refunded": "Part of this order was returned: a member of staff will check your basket.",
    "unknown_pass": "This exit pass is not on record; ask staff for help.",
    "superseded": "This exit pass was replaced by a newer one; show the latest pass in the mini-program.",
    "already_used": "This exit pass was already used.",
    "order_not_paid": "This order is not paid yet; finish the payment in the mini-program.",
    "order_closed": "This order was closed without payment.",
    "order_cancelled": "This order was cancelled.",
    "order_refunded": "This order was returned and refunded.",
    "audit_passed": "Checked by staff. Thank you for shopping with us.",
    "audit_failed": "The basket did not match the order; staff will help you.",
}
ORDER_STATE_REASONS = {
    Order.State.PENDING_PAYMENT: "order_not_paid",
    Order.State.CLOSED: "order_closed",
    Order.State.CANCELLED: "order_cancelled",
    Order.State.REFUNDED: "order_refunded",
}
# Still paid for what the shopper kept; the pass, though, counts what they bought.
LEAVING_STATES = (Order.State.PAID, Order.State.PARTIALLY_REFUNDED)


class AuditNotFound(NotFound):
    """Also what another store's audit is, so audit ids reveal nothing across stores."""

    code = "audit_not_found"
    default_message = "There is no pending audit with this id at this store."


class AuditAlreadyResolved(Conflict):
    code = "audit_already_resolved"
    default_message = "This audit was already resolved."


@dataclass(frozen=True)
class GateDecision:
    decision: str
    reason: str
    message: str
    event: GateEvent
    exit_pass: ExitPass | None = None
    used_at: dt.datetime | None = None
    used_gate: Gate | None = None

    @property
    def audit_id(self) -> int | None:
        return self.event.pk if self.decision == AUDIT else None


def verify(*, gate: Gate, token: str) -> GateDecision:
    """Decide for ``gate`` on a scanned ``token``.

    Three queries on the way to open or audit (the pass with its order, the conditional
    UPDATE, the event INSERT), two for a pass refused on its row, one (the INSERT) for a
    bad token; one more read only when another gate wins the race for the same pass.
    """
    now = clock.now()
    try:
        claims = pass_token.verify(
            token,
            exit_keys.public_keys(),
            now=now.timestamp(),
            clock_skew_seconds=settings.EXIT_PASS_CLOCK_SKEW.total_seconds(),
            store_id=gate.store_id,
        )
    except pass_token.TokenRejected as rejected:
        event = _record(gate, None, DENY, rejected.reason, _token_data(token, rejected.reason), now)
        return GateDecision(DENY, rejected.reason, rejected.message, event)

    exit_pass = next(iter(_passes().filter(pk=claims.pass_id)[:1]), None)
    if exit_pass is None or not hmac.compare_digest(exit_pass.token, token):
        # Signed with our key but not this database's pass (a restored backup, a key
        # shared with another environment): never good enough to open.
        event = _record(gate, None, DENY, "unknown_pass", {"claims": _claims_data(claims)}, now)
        return _decision(DENY, "unknown_pass", event)
    refusal = _refusal(exit_pass)
    if refusal is not None:
        return _deny(gate, exit_pass, refusal, now)

    decision, reason, audit_reasons = _decide(exit_pass)
    # The use and its event commit together: an audit whose event was lost would leave the
    # shopper with a used pass and nothing for staff to resolve. No savepoint: nothing in
    # here is caught and retried, so a caller's transaction gains nothing from one.
    with transaction.atomic(savepoint=False):
        used = ExitPass.objects.filter(pk=exit_pass.pk, used_at__isnull=True, superseded_at__isnull=True).update(
            used_at=now, used_gate=gate
        )
        if used:
            data = {"audit_reasons": audit_reasons} if decision == AUDIT else {}
            event = _record(gate, exit_pass, decision, reason, data, now)
    if not used:
        # Another gate (or a replaced pass) won the race since the fetch above; read what
        # happened so the gate can say when and where.
        exit_pass = _passes().get(pk=exit_pass.pk)
        return _deny(gate, exit_pass, _refusal(exit_pass) or "already_used", now)
    exit_pass.used_at, exit_pass.used_gate = now, gate
    return _decision(decision, reason, event, exit_pass)


def _passes():
    """Only what a decision reads: the gate's hot path builds and loads no more."""
    return ExitPass.objects.select_related("order", "used_gate").only(
        "token", "store_id", "item_count", "total_fen", "audit", "audit_reasons", "age_restricted_items",
        "issued_at", "expires_at", "superseded_at", "used_at", "used_gate__name",
        "order__state", "order__number",
    )  # fmt: skip


def _decide(exit_pass: ExitPass) -> tuple[str, str, list[str]]:
    """Open, or audit: the pass's own audit, or a partially refunded order. A shopper may
    return some items at the service desk and walk out with the rest, so such a pass still
    gets them out, but its item count and total are what they bought, not what they
    carry: staff check the basket against what is left (a refunded order is denied)."""
    if exit_pass.order.state == Order.State.PARTIALLY_REFUNDED:
        return AUDIT, "audit_partially_refunded", [*exit_pass.audit_reasons, "partially_refunded"]
    if exit_pass.audit:
        return AUDIT, "audit_required", list(exit_pass.audit_reasons)
    return OPEN, "ok", []


def _refusal(exit_pass: ExitPass) -> str | None:
    if exit_pass.superseded_at is not None:
        return "superseded"
    if exit_pass.order.state not in LEAVING_STATES:
        return ORDER_STATE_REASONS.get(exit_pass.order.state, "order_not_paid")
    if exit_pass.used_at is not None:
        return "already_used"
    return None


def _deny(gate: Gate, exit_pass: ExitPass, reason: str, now: dt.datetime) -> GateDecision:
    data: dict[str, Any] = {}
    if reason == "already_used":
        data = {"used_at": timezone.localtime(exit_pass.used_at).isoformat(), "used_gate_id": exit_pass.used_gate_id}
    elif reason.startswith("order_"):
        data = {"order_state": exit_pass.order.state}
    event = _record(gate, exit_pass, DENY, reason, data, now)
    if reason == "already_used":
        return _decision(DENY, reason, event, exit_pass, used_at=exit_pass.used_at, used_gate=exit_pass.used_gate)
    return _decision(DENY, reason, event, exit_pass)


def _decision(decision: str, reason: str, event: GateEvent, exit_pass: ExitPass | None = None, **used) -> GateDecision:
    return GateDecision(decision, reason, MESSAGES[reason], event, exit_pass, **used)


def _record(
    gate: Gate, exit_pass: ExitPass | None, decision: str, reason: str, data: dict[str, Any], now: dt.datetime
) -> GateEvent:
    event = GateEvent.objects.create(
        gate=gate, exit_pass=exit_pass, decision=decision, reason=reason, data=data, occurred_at=now
    )
    metrics.GATE_DECISIONS.labels(decision=decision, reason=reason).inc()
    return event


def _claims_data(claims: pass_token.PassClaims) -> dict[str, Any]:
    return {"key_id": claims.key_id, "pass_id": claims.pass_id, "order_id": claims.order_id,
            "store_id": claims.store_id, "expires_at": claims.expires_at}  # fmt: skip


UNSIGNED = frozenset({"malformed", "unknown_key", "bad_signature"})


def _token_data(token: str, reason: str) -> dict[str, Any]:
    """What a rejected token said about itself, for staff; only its length when garbage.

    A forged token's claims are kept too, marked unverified: the order it pretends to be
    for is what staff investigate."""
    try:
        claims, _, _ = pass_token.read_claims(token)
    except pass_token.TokenRejected:
        return {"length": len(token)}
    return {"claims": _claims_data(claims), "signature_valid": reason not in UNSIGNED}


# --- Audits -------------------------------------------------------------------------------


def resolve_audit(*, gate: Gate, audit_id: int, outcome: str, note: str = "") -> GateEvent:
    """Record staff's verdict on a pending audit at ``gate``'s store: ``passed`` opens,
    ``failed`` denies. The verdict is a new event pointing at the audit (``resolves`` is
    unique, so of two staff resolving at once, one wins and the other gets a conflict)."""
    audit = (
        GateEvent.objects.select_related("resolution")
        .filter(pk=audit_id, decision=AUDIT, gate__store_id=gate.store_id)
        .first()
    )
    if audit is None:
        raise AuditNotFound(details={"audit_id": audit_id})
    if _resolution(audit) is not None:
        raise _already_resolved(_resolution(audit))
    decision, reason = (OPEN, "audit_passed") if outcome == "passed" else (DENY, "audit_failed")
    try:
        with transaction.atomic():
            return GateEvent.objects.create(
                gate=gate,
                exit_pass_id=audit.exit_pass_id,
                decision=decision,
                reason=reason,
                data={"note": note},
                occurred_at=clock.now(),
                resolves=audit,
            )
    except IntegrityError:
        raise _already_resolved(GateEvent.objects.get(resolves_id=audit.pk)) from None


def _resolution(audit: GateEvent) -> GateEvent | None:
    try:
        return audit.resolution
    except GateEvent.DoesNotExist:
        return None


def _already_resolved(resolution: GateEvent) -> AuditAlreadyResolved:
    return AuditAlreadyResolved(
        details={
            "resolution_id": resolution.pk,
            "decision": resolution.decision,
            "resolved_at": timezone.localtime(resolution.occurred_at).isoformat(),
            "gate_id": resolution.gate_id,
        }
    )
