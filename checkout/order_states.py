"""Order states and the transitions between them, in one place.

Every change goes through ``transition``: a conditional UPDATE (``WHERE state = from``), so
two processes racing to move one order (a payment notification and the timeout job, say)
cannot both win, plus an append-only ``OrderEvent`` written in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict

from .models import Order, OrderEvent

S = Order.State

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.CLOSED}),
    # A payment the provider confirms after we closed the order still took the shopper's
    # money: the order becomes paid (and staff see the late_payment event) rather than
    # the money being lost between two states.
    S.CLOSED: frozenset({S.PAID}),
    S.PAID: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

TIMESTAMP_FIELD = {S.PAID: "paid_at", S.CLOSED: "closed_at", S.CANCELLED: "closed_at"}


class InvalidTransition(Conflict):
    code = "invalid_order_state"
    default_message = "The order is not in a state that allows this."


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def transition(
    *, order_id: int, from_state: str, to_state: str, event: str, data: dict[str, Any] | None = None
) -> bool:
    """Move the order if it is still in ``from_state``; return whether this call moved it."""
    if not can_transition(from_state, to_state):
        raise InvalidTransition(details={"from": from_state, "to": to_state})
    changes: dict[str, Any] = {"state": to_state}
    if to_state in TIMESTAMP_FIELD:
        changes[TIMESTAMP_FIELD[to_state]] = clock.now()
    with transaction.atomic():
        moved = Order.objects.filter(pk=order_id, state=from_state).update(**changes)
        if moved:
            OrderEvent.objects.create(
                order_id=order_id, type=event, from_state=from_state, to_state=to_state, data=data or {}
            )
    return bool(moved)


def record_event(*, order_id: int, event: str, data: dict[str, Any] | None = None) -> None:
    """A fact worth keeping that changes no state (a provider error, a rejected notification)."""
    OrderEvent.objects.create(order_id=order_id, type=event, data=data or {})
