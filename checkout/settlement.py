"""Applying what a payment provider says about a trade to our payment and order.

Notifications, the reconciliation job and the timeout job all end here, so "paid" is
recorded in one place and exactly once however often (and in whatever order) the news
arrives: the payment row is locked, a paid payment is never paid again, and the order
moves with a conditional transition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from django.db import transaction

from miniprogram_api.core import clock
from miniprogram_api.core.errors import NotFound, Unprocessable

from . import order_states
from .models import Basket, Order, Payment
from .payments.base import TradeStatus

logger = logging.getLogger(__name__)

Outcome = Literal["paid", "already_paid", "pending", "closed", "failed"]


class UnknownTrade(NotFound):
    code = "unknown_trade"
    default_message = "No payment with this out_trade_no."


class AmountMismatch(Unprocessable):
    code = "amount_mismatch"
    default_message = "The provider's amount differs from the order total."


@dataclass(frozen=True)
class Settled:
    order_id: int
    outcome: Outcome


def apply_trade_status(*, provider: str, status: TradeStatus, source: str) -> Settled:
    """Record a verified trade status from ``source`` (notification, query, close)."""
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .filter(out_trade_no=status.out_trade_no, provider=provider)
            .select_related("order")
            .first()
        )
        if payment is None:
            logger.warning("%s: %s reported an unknown trade %s", source, provider, status.out_trade_no)
            raise UnknownTrade(details={"out_trade_no": status.out_trade_no})
        mismatch = status.amount_fen is not None and status.amount_fen != payment.amount_fen
        if not mismatch:
            return _apply(payment, status, source)
    # Outside the transaction, so the record of the refusal is kept while nothing else is.
    logger.error(
        "%s: amount mismatch on %s: provider %s fen, ours %s fen",
        source,
        status.out_trade_no,
        status.amount_fen,
        payment.amount_fen,
    )
    order_states.record_event(
        order_id=payment.order_id,
        event="payment_amount_mismatch",
        data={"source": source, "provider_amount_fen": status.amount_fen, "amount_fen": payment.amount_fen},
    )
    raise AmountMismatch(details={"out_trade_no": status.out_trade_no})


def _apply(payment: Payment, status: TradeStatus, source: str) -> Settled:
    if payment.state == Payment.State.PAID:
        return Settled(order_id=payment.order_id, outcome="already_paid")
    if status.state == "paid":
        _mark_paid(payment, status, source)
        return Settled(order_id=payment.order_id, outcome="paid")
    if status.state == "failed" and payment.state == Payment.State.PENDING:
        Payment.objects.filter(pk=payment.pk).update(state=Payment.State.FAILED)
        order_states.record_event(order_id=payment.order_id, event="payment_failed", data={"source": source})
        return Settled(order_id=payment.order_id, outcome="failed")
    return Settled(order_id=payment.order_id, outcome="closed" if status.state == "closed" else "pending")


def _mark_paid(payment: Payment, status: TradeStatus, source: str) -> None:
    paid_at = status.paid_at or clock.now()
    Payment.objects.filter(pk=payment.pk).update(
        state=Payment.State.PAID, provider_trade_id=status.provider_trade_id, paid_at=paid_at
    )
    order = payment.order
    data = {"source": source, "provider": payment.provider, "provider_trade_id": status.provider_trade_id}
    moved = order_states.transition(
        order_id=order.pk, from_state=Order.State.PENDING_PAYMENT, to_state=Order.State.PAID, event="paid", data=data
    )
    if not moved and order_states.transition(
        order_id=order.pk, from_state=Order.State.CLOSED, to_state=Order.State.PAID, event="late_payment", data=data
    ):
        logger.warning("order %s was paid after it had been closed", order.number)
        moved = True
    if moved:
        from .tasks import order_paid

        transaction.on_commit(lambda: order_paid.delay(order.pk))
    if order.basket_id:
        # Only a basket still frozen for this order: after a late payment the shopper may
        # already be scanning into the reopened basket, which must stay theirs.
        Basket.objects.filter(pk=order.basket_id, status=Basket.Status.FROZEN).update(status=Basket.Status.CHECKED_OUT)
