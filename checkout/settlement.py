"""Applying what a payment provider says about a trade to our payment and order.

Notifications, the reconciliation job and the timeout job all end here, so "paid" is
recorded in one place and exactly once however often (and in whatever order) the news
arrives: the payment row is locked, a paid payment is never paid again, and the order
moves with a conditional transition.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Literal

from django.db import transaction

from miniprogram_api.core import clock, metrics
from miniprogram_api.core.errors import NotFound, Unprocessable
from promotions import gift_card_ledger, holds

from . import after_payment_jobs, order_states, orders, shipments
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


# A payment the shopper may still complete; superseding or beating it closes it.
OPEN_STATES = (Payment.State.PENDING, Payment.State.FAILED)


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
            metrics.PAYMENT_TRADE_STATUSES.labels(provider=provider, outcome="unknown_trade").inc()
            raise UnknownTrade(details={"out_trade_no": status.out_trade_no})
        mismatch = status.amount_fen is not None and status.amount_fen != payment.amount_fen
        if not mismatch:
            settled = _apply(payment, status, source)
            metrics.PAYMENT_TRADE_STATUSES.labels(provider=provider, outcome=settled.outcome).inc()
            return settled
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
    metrics.PAYMENT_TRADE_STATUSES.labels(provider=provider, outcome="amount_mismatch").inc()
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
        _capture_gift_cards(order)
        _confirm_holds(order, now=paid_at)
        shipments.mark_paid(order_id=order.pk)
        if order.kind != Order.Kind.GOODS:
            from . import gift_card_orders  # issues or tops up the card, in this transaction

            gift_card_orders.on_paid(order_id=order.pk)
        _enqueue_after_payment(order.pk)
    _check_out_basket(order.basket_id)
    _flag_extra_payment(payment, order_id=order.pk, paid_the_order=moved)


def settle_without_payment(*, order_id: int, basket_id: int | None, data: dict) -> bool:
    """Pay an order that has nothing left to pay (a raffle prize took its total to 0) as a
    payment would: the same transition and the same after-payment task, no provider."""
    moved = order_states.transition(
        order_id=order_id, from_state=Order.State.PENDING_PAYMENT, to_state=Order.State.PAID, event="paid", data=data
    )
    if moved:
        gift_card_ledger.capture_for_order(order_id=order_id)
        holds.confirm_for_order(order_id=order_id, now=clock.now())
        shipments.mark_paid(order_id=order_id)
        _enqueue_after_payment(order_id)
        _check_out_basket(basket_id)
    return moved


def _capture_gift_cards(order: Order) -> None:
    """What the order's gift cards hold for it is spent. After a late payment the holds had
    been released: what the cards paid is taken again as far as their balances allow, and
    staff get a ``gift_cards_not_retaken`` event with the fen the shopper still owes (the
    external payment alone does not cover the order)."""
    if order.gift_card_fen == 0:
        return
    if gift_card_ledger.capture_for_order(order_id=order.pk):
        return
    missing = gift_card_ledger.retake_for_order(order_id=order.pk, wanted=gift_card_ledger.released_for_order(order.pk))
    if missing:
        logger.warning("order %s: paid late, %s fen of gift cards could not be taken back", order.number, missing)
        order_states.record_event(order_id=order.pk, event="gift_cards_not_retaken", data={"missing_fen": missing})


def _confirm_holds(order: Order, *, now: dt.datetime) -> None:
    """The order's locked coupons become used and its held flash units sold. After a late
    payment they had been given back: what another order took meanwhile cannot be taken
    again, and staff get a ``promotions_not_retaken`` event (the shopper paid the
    discounted price all the same, so the discount stands)."""
    missing = holds.confirm_for_order(order_id=order.pk, now=now, coupon_ids=orders.coupon_ids_of(order))
    if missing:
        logger.warning("order %s: paid late, could not take back %s", order.number, missing)
        order_states.record_event(
            order_id=order.pk,
            event="promotions_not_retaken",
            data={
                "coupon_ids": list(missing.coupon_ids),
                "flash_units": {str(item_id): units for item_id, units in missing.flash_units.items()},
            },
        )


def _enqueue_after_payment(order_id: int) -> None:
    """The after-payment work is recorded in this transaction (its outbox row) and enqueued
    when it commits; the redrive runs it if the message never arrives."""
    after_payment_jobs.record(order_id=order_id)


def _check_out_basket(basket_id: int | None) -> None:
    if basket_id:
        # Only a basket still frozen for this order: after a late payment the shopper may
        # already be scanning into the reopened basket, which must stay theirs.
        Basket.objects.filter(pk=basket_id, status=Basket.Status.FROZEN).update(status=Basket.Status.CHECKED_OUT)


def _flag_extra_payment(payment: Payment, *, order_id: int, paid_the_order: bool) -> None:
    """An order re-priced before payment (a raffle win) has more than one payment: the old
    one is superseded, closed here and at the provider, but a shopper who paid it just
    before still paid it. Such a payment still pays the order (its amount is the one the
    provider was asked for), and staff get an event with the fen to give back: the
    difference to the order's total, or all of it if the order was already paid. The newer
    payment it beat is closed here too, so it is not mistaken for money still to come; if
    the shopper pays that as well, it is flagged ``paid_twice`` in turn."""
    newer = Payment.objects.filter(order_id=order_id, pk__gt=payment.pk)
    if newer.exists():
        event = "paid_superseded_payment"
    elif (
        not paid_the_order
        and Payment.objects.filter(order_id=order_id, state=Payment.State.PAID).exclude(pk=payment.pk).exists()
    ):
        event = "paid_twice"
    else:
        return
    closed = []
    if paid_the_order:
        closed = list(newer.filter(state__in=OPEN_STATES).values_list("out_trade_no", flat=True))
        newer.filter(state__in=OPEN_STATES).update(state=Payment.State.CLOSED)
    total_fen = Order.objects.values_list("total_fen", flat=True).get(pk=order_id)
    overpaid_fen = payment.amount_fen - (total_fen if paid_the_order else 0)
    logger.warning("order %s: %s %s, %s fen to give back", order_id, event, payment.out_trade_no, overpaid_fen)
    order_states.record_event(
        order_id=order_id,
        event=event,
        data={
            "out_trade_no": payment.out_trade_no,
            "amount_fen": payment.amount_fen,
            "order_total_fen": total_fen,
            "overpaid_fen": overpaid_fen,
            "closed_payments": closed,
        },
    )
