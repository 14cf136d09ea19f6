"""Issuing exit passes for paid in-store orders, and giving the shopper theirs.

The audit decision is made once, at the first issue, with a secure random source plus the
rules, and carried into every later pass of the order: a shopper who lets a pass expire
and asks for a fresh one cannot re-roll the dice.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets

import qrcode
import qrcode.constants
from django.conf import settings
from django.db import IntegrityError, transaction

from gate_verifier import token as pass_token
from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict

from . import exit_keys
from .models import ExitPass, Order
from .orders import order_get


class ExitPassUnavailable(Conflict):
    code = "exit_pass_unavailable"
    default_message = "An exit pass exists only for a paid scan & pay order."


class ExitPassAlreadyUsed(Conflict):
    code = "exit_pass_used"
    default_message = "This order's exit pass was already used at the gate."


def audit_decision(order: Order, lines) -> tuple[bool, list[str]]:
    """Random sample (per mille, secure random) and the rules staff asked for."""
    reasons = []
    if secrets.randbelow(1000) < settings.EXIT_AUDIT_SAMPLE_PER_MILLE:
        reasons.append("random_sample")
    if order.total_fen > settings.EXIT_AUDIT_TOTAL_ABOVE_FEN:
        reasons.append("total_above_threshold")
    if settings.EXIT_AUDIT_AGE_RESTRICTED and any(line.age_restricted for line in lines):
        reasons.append("age_restricted")
    if sum(1 for line in lines if line.weight_g) >= settings.EXIT_AUDIT_WEIGHED_LINES_AT_LEAST:
        reasons.append("many_weighed_items")
    return bool(reasons), reasons


# A partly returned order still leaves the store with what was kept: it has a pass (the
# gate sends it to staff for a look). A refunded one has nothing left to carry out.
PASS_STATES = (Order.State.PAID, Order.State.PARTIALLY_REFUNDED)


def issue_exit_pass(*, order_id: int) -> ExitPass:
    """The order's live pass, issued now if it has none. Safe to call twice at once: the
    one-live-pass-per-order constraint lets one caller create it and the other read it."""
    live = ExitPass.objects.filter(order_id=order_id, superseded_at__isnull=True).first()
    if live is not None:
        return live
    order = Order.objects.prefetch_related("lines").get(pk=order_id)
    if order.channel != Order.Channel.IN_STORE or order.state not in PASS_STATES:
        raise ExitPassUnavailable(details={"state": order.state, "channel": order.channel})
    lines = list(order.lines.all())
    audit, reasons = audit_decision(order, lines)
    start = order.paid_at or clock.now()
    try:
        return _create(
            order, lines, audit=audit, reasons=reasons, issued_at=clock.now(), expires_at=start + settings.EXIT_PASS_TTL
        )
    except IntegrityError:
        return ExitPass.objects.get(order_id=order_id, superseded_at__isnull=True)


def _create(
    order: Order, lines, *, audit: bool, reasons: list[str], issued_at: dt.datetime, expires_at: dt.datetime
) -> ExitPass:
    key_id, private_key = exit_keys.signing_key()
    with transaction.atomic():
        exit_pass = ExitPass.objects.create(
            order=order,
            store_id=order.store_id,
            key_id=key_id,
            token="",
            item_count=order.item_count,
            total_fen=order.total_fen,
            audit=audit,
            audit_reasons=reasons,
            age_restricted_items=[line.name for line in lines if line.age_restricted],
            issued_at=issued_at,
            expires_at=expires_at,
        )
        claims = pass_token.PassClaims(
            key_id=key_id,
            pass_id=exit_pass.pk,
            order_id=order.pk,
            store_id=order.store_id,
            item_count=order.item_count,
            total_fen=order.total_fen,
            issued_at=int(issued_at.timestamp()),
            expires_at=int(expires_at.timestamp()),
            audit=audit,
        )
        exit_pass.token = pass_token.encode(claims, private_key)
        ExitPass.objects.filter(pk=exit_pass.pk).update(token=exit_pass.token)
    return exit_pass


def exit_pass_for_shopper(*, customer_id: int, order_id: int) -> ExitPass:
    """The shopper's live pass; a fresh one when the last expired unused (same audit).

    Another shopper's order is not found (404), never forbidden.
    """
    order = order_get(customer_id=customer_id, order_id=order_id)
    if order.channel != Order.Channel.IN_STORE or order.state not in PASS_STATES:
        raise ExitPassUnavailable(details={"state": order.state, "channel": order.channel})
    live = issue_exit_pass(order_id=order.pk)
    if live.used_at is not None:
        return live
    now = clock.now()
    if live.expires_at > now:
        return live
    with transaction.atomic():
        superseded = ExitPass.objects.filter(pk=live.pk, used_at__isnull=True, superseded_at__isnull=True).update(
            superseded_at=now
        )
        if not superseded:  # used or replaced a moment ago
            return ExitPass.objects.get(order_id=order.pk, superseded_at__isnull=True)
        lines = list(order.lines.all())
        return _create(
            order,
            lines,
            audit=live.audit,
            reasons=live.audit_reasons,
            issued_at=now,
            expires_at=now + settings.EXIT_PASS_TTL,
        )


def state_of(exit_pass: ExitPass) -> str:
    if exit_pass.used_at is not None:
        return "used"
    if exit_pass.expires_at <= clock.now():
        return "expired"
    return "valid"


def qr_png(token: str) -> bytes:
    """The token as a QR code: error correction M, the standard 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(token)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()
