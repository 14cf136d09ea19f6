"""Entering a raffle with an unpaid order, and re-pricing that order when it wins.

One short transaction takes the order's payments and then the order under row locks (in
that order, as settlement takes a payment and then its order, so the two never wait on
each other in a circle), checks the order can still be paid, draws
(``promotions.raffles.draw`` spends the shopper's entry and the day's prize budget) and, on
a win, re-prices the order:

* the prize comes off what is left of the goods, split over the lines by the largest
  remainder (``pricing.raffle_adjustments``), so a partial return refunds each line's
  share exactly; the delivery fee, if any, stays as it was;
* the amount at the provider must change, and a trade's amount cannot: the pending
  payment is superseded (closed here) and a new one, ``<order number>R<n>``, is opened for
  the new total less what gift cards pay (a total below what the cards hold gives the
  excess back to them). Nothing left to pay: the order is paid at once.

The provider calls come after the commit, outside any lock: close the old trade (if the
shopper paid it a moment before, the close fails, the query says paid and settlement pays
the order with it and flags the overpayment for staff), then create the new one for its
client params. Both are best effort: a new trade that could not be created is created when
the client checks out again, which resumes the order's latest payment.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, Unprocessable
from promotions import gift_card_ledger, raffles
from promotions.pricing import RafflePrize, raffle_adjustments
from stores.selectors import MAX_ID

from . import order_states, orders, settlement
from .baskets import adjustment_dict
from .models import Order, OrderLine, Payment
from .payment_jobs import NEVER_CREATED
from .payments.base import PaymentProviderError, PaymentProviderUnavailable
from .payments.providers import get_provider
from .scan_and_pay import create_at_provider

logger = logging.getLogger(__name__)

PROVIDER_FAILURES = (PaymentProviderError, PaymentProviderUnavailable)


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    default_message = "Only an order awaiting payment, before its payment deadline, can enter a raffle."


class NothingToDiscount(Unprocessable):
    code = "order_nothing_to_discount"
    default_message = "Nothing is left on this order for a prize to take off."


@dataclass(frozen=True)
class RaffleResult:
    entry_id: int
    outcome: str  # won / lost / budget_exhausted
    prize_fen: int
    order: Order
    payment_params: dict[str, Any] | None  # the new payment's, when a win re-priced the order

    @property
    def won(self) -> bool:
        return self.outcome == raffles.WON


@dataclass(frozen=True)
class _Repriced:
    superseded: list[Payment]
    new_payment_id: int | None  # None when the prize took the total to 0


def enter_raffle(*, customer_id: int, raffle_id: int, order_id: int) -> RaffleResult:
    """Enter the shopper's unpaid order and draw; a refusal raises and keeps nothing."""
    now = clock.now()
    with transaction.atomic():
        order = _lock_payable_order(customer_id=customer_id, order_id=order_id, now=now)
        finals = dict(
            OrderLine.objects.filter(order_id=order.pk)
            .order_by("pk")
            .values_list("pk", F("line_total_fen") - F("discount_fen"))
        )
        left_fen = sum(finals.values())
        if left_fen <= 0:
            raise NothingToDiscount()
        drawn = raffles.draw(
            raffle_id=raffle_id, customer_id=customer_id, order_id=order.pk, now=now, max_prize_fen=left_fen
        )
        repriced = _reprice(order, finals, drawn) if drawn.won else None

    params = _at_providers(repriced) if repriced is not None else None
    return RaffleResult(
        entry_id=drawn.entry_id,
        outcome=drawn.outcome,
        prize_fen=drawn.prize_fen,
        order=orders.order_get(customer_id=customer_id, order_id=order_id),
        payment_params=params,
    )


def _lock_payable_order(*, customer_id: int, order_id: int, now: dt.datetime) -> Order:
    """Another shopper's order is "not found"; a paid, closed or overdue one "not payable"."""
    if not 0 < order_id <= MAX_ID:
        raise orders.OrderNotFound()
    list(
        Payment.objects.select_for_update(of=("self",))
        .filter(order_id=order_id, order__customer_id=customer_id)
        .order_by("pk")
        .only("pk")
    )
    order = Order.objects.select_for_update().filter(pk=order_id, customer_id=customer_id).first()
    if order is None:
        raise orders.OrderNotFound()
    if order.state != Order.State.PENDING_PAYMENT or now >= order.payment_deadline:
        raise OrderNotPayable(
            details={"state": order.state, "payment_deadline": clock.local_iso(order.payment_deadline)}
        )
    return order


def _reprice(order: Order, finals: dict[int, int], drawn: raffles.Draw) -> _Repriced:
    prize = RafflePrize(raffle_id=drawn.raffle_id, prize_fen=drawn.prize_fen, label=drawn.label)
    adjustments = raffle_adjustments(finals, prize)
    amount = sum(adjustment.amount_fen for adjustment in adjustments)
    for adjustment in adjustments:
        OrderLine.objects.filter(pk=adjustment.line_key).update(discount_fen=F("discount_fen") + adjustment.amount_fen)
    total_fen = order.total_fen - amount
    # Gift cards pay first: a prize bringing the total below what they hold gives the
    # excess back to them, and the external payment is for what is left.
    gift_card_fen = min(order.gift_card_fen, total_fen)
    if gift_card_fen < order.gift_card_fen:
        gift_card_ledger.reduce_hold_for_order(order_id=order.pk, keep_fen=gift_card_fen)
    external_fen = total_fen - gift_card_fen
    Order.objects.filter(pk=order.pk).update(
        discount_fen=order.discount_fen + amount,
        total_fen=total_fen,
        gift_card_fen=gift_card_fen,
        adjustments=[*order.adjustments, *(adjustment_dict(adjustment) for adjustment in adjustments)],
    )
    order_states.record_event(
        order_id=order.pk,
        event="raffle_won",
        data={
            "raffle_id": drawn.raffle_id,
            "entry_id": drawn.entry_id,
            "prize_fen": amount,
            "total_before_fen": order.total_fen,
            "total_fen": total_fen,
            "gift_card_fen": gift_card_fen,
        },
    )

    superseded = list(Payment.objects.filter(order_id=order.pk, state__in=settlement.OPEN_STATES).order_by("pk"))
    new_payment = None
    if external_fen > 0:
        number = Payment.objects.filter(order_id=order.pk).count()
        new_payment = Payment.objects.create(
            order=order,
            provider=order.payment_method,
            out_trade_no=f"{order.number}R{number}",
            amount_fen=external_fen,
        )
    Payment.objects.filter(pk__in=[payment.pk for payment in superseded]).update(state=Payment.State.CLOSED)
    for payment in superseded:
        order_states.record_event(
            order_id=order.pk,
            event="payment_superseded",
            data={
                "out_trade_no": payment.out_trade_no,
                "amount_fen": payment.amount_fen,
                "by": new_payment.out_trade_no if new_payment else None,
            },
        )
    if new_payment is None:
        settlement.settle_without_payment(
            order_id=order.pk,
            basket_id=order.basket_id,
            data={"source": "raffle_prize", "raffle_id": drawn.raffle_id, "entry_id": drawn.entry_id},
        )
    return _Repriced(superseded=superseded, new_payment_id=new_payment.pk if new_payment else None)


def _at_providers(repriced: _Repriced) -> dict[str, Any] | None:
    """After the commit: close the superseded trades, then open the new one. Returns the new
    payment's client params, or None if there is none or it could not be created now."""
    for payment in repriced.superseded:
        _close_superseded(payment)
    if repriced.new_payment_id is None:
        return None
    payment = Payment.objects.select_related("order__store", "order__customer").get(pk=repriced.new_payment_id)
    if payment.state != Payment.State.PENDING or payment.order.state != Order.State.PENDING_PAYMENT:
        return None  # a superseded trade turned out paid and paid the order
    try:
        return create_at_provider(payment)
    except PROVIDER_FAILURES as exc:
        logger.warning("creating re-priced payment %s failed: %s", payment.out_trade_no, exc.code)
        return None


def _close_superseded(payment: Payment) -> None:
    """Best effort: a failure is logged, and the trade expires at the payment deadline.
    A close the provider refuses may mean the shopper paid it just before: ask, and settle
    what it says, so the order is paid with it rather than left waiting."""
    provider = get_provider(payment.provider)
    try:
        provider.close(out_trade_no=payment.out_trade_no)
        return
    except PaymentProviderUnavailable:
        logger.warning("closing superseded payment %s failed: provider unavailable", payment.out_trade_no)
        return
    except PaymentProviderError as exc:
        if exc.details.get("provider_code") in NEVER_CREATED:
            return
    try:
        status = provider.query(out_trade_no=payment.out_trade_no)
        if status.state == "paid":
            settlement.apply_trade_status(provider=payment.provider, status=status, source="superseded_close")
    except (*PROVIDER_FAILURES, settlement.AmountMismatch, settlement.UnknownTrade) as exc:
        logger.warning("checking superseded payment %s failed: %s", payment.out_trade_no, exc.code)
