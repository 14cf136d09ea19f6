"""The periodic jobs that keep payments honest when notifications do not come.

* ``close_expired_orders``: an order unpaid past its deadline is closed at the provider
  and here, what it held given back (its gift cards' part, its coupons, its flash-sale
  units, a delivery order's stock and slot), and its basket
  reopened (or released if the shopper already has another).
* ``reconcile_pending_payments``: a payment still pending some minutes after creation,
  with no notification, is queried at the provider and settled.

Each picks due rows with ``select_for_update(skip_locked=True)`` and takes a short lease
(``Payment.last_queried_at``) in that transaction, so two workers never query the same
trade at once; the provider calls themselves run outside any transaction, so no row or
(on SQLite) database lock is held across the network.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from miniprogram_api.core import clock
from promotions import gift_card_ledger, holds

from . import order_states, settlement, shipments
from .models import Basket, Order, Payment
from .payments.base import PaymentProviderError, PaymentProviderUnavailable
from .payments.providers import get_provider

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(seconds=60)


def _claim(queryset, *, batch_size: int) -> list[Payment]:
    """Lease up to ``batch_size`` payments no other worker holds."""
    now = clock.now()
    with transaction.atomic():
        payments = list(
            queryset.filter(Q(last_queried_at__isnull=True) | Q(last_queried_at__lt=now - LEASE))
            .select_for_update(skip_locked=True)
            .order_by("pk")[:batch_size]
        )
        Payment.objects.filter(pk__in=[p.pk for p in payments]).update(last_queried_at=now)
    return payments


def close_expired_orders(*, batch_size: int = 100) -> int:
    """Close orders whose payment deadline passed; return how many were closed."""
    # A FAILED payment (the shopper's bank refused) leaves the order pending until its
    # deadline like any other, and must be closed with it, or the basket stays frozen.
    due = Payment.objects.filter(
        state__in=(Payment.State.PENDING, Payment.State.FAILED),
        order__state=Order.State.PENDING_PAYMENT,
        order__payment_deadline__lt=clock.now(),
    )
    closed = 0
    for payment in _claim(due, batch_size=batch_size):
        try:
            closed += _close_one(payment)
        except (PaymentProviderUnavailable, PaymentProviderError) as exc:
            logger.warning("closing %s failed, will retry: %s", payment.out_trade_no, exc.code)
        except (settlement.AmountMismatch, settlement.UnknownTrade) as exc:
            # Recorded on the order for staff; one bad trade must not stall the batch.
            logger.error("closing %s needs staff: %s", payment.out_trade_no, exc.code)
    return closed


# What the providers answer for a trade they never created (our create did not reach them).
NEVER_CREATED = frozenset({"ORDER_NOT_EXIST", "ACQ.TRADE_NOT_EXIST"})


def _close_one(payment: Payment) -> int:
    provider = get_provider(payment.provider)
    try:
        status = provider.query(out_trade_no=payment.out_trade_no)
    except PaymentProviderError as exc:
        if exc.details.get("provider_code") not in NEVER_CREATED:
            raise
        return int(close_order_locally(payment=payment))  # nothing the shopper could pay
    if status.state == "paid":
        settlement.apply_trade_status(provider=payment.provider, status=status, source="timeout_query")
        return 0
    if status.state in ("pending", "failed"):
        try:
            provider.close(out_trade_no=payment.out_trade_no)
        except PaymentProviderError:
            if status.state == "failed":
                return int(close_order_locally(payment=payment))
            # The shopper may have paid between our query and the close; ask again.
            status = provider.query(out_trade_no=payment.out_trade_no)
            if status.state == "paid":
                settlement.apply_trade_status(provider=payment.provider, status=status, source="timeout_query")
                return 0
            raise
    return int(close_order_locally(payment=payment))


def close_order_locally(*, payment: Payment) -> bool:
    with transaction.atomic():
        moved = order_states.transition(
            order_id=payment.order_id,
            from_state=Order.State.PENDING_PAYMENT,
            to_state=Order.State.CLOSED,
            event="closed_unpaid",
            data={"out_trade_no": payment.out_trade_no},
        )
        if not moved:
            return False
        Payment.objects.filter(pk=payment.pk, state=Payment.State.PENDING).update(state=Payment.State.CLOSED)
        # A delivery order's stock, slot bookings and cart lines first: the lock order of
        # checkout (cart, stock, slots, gift cards, then promotions), so the two never deadlock.
        shipments.release_for_order(order_id=payment.order_id)
        gift_card_ledger.release_for_order(order_id=payment.order_id)
        holds.release_for_order(order_id=payment.order_id, now=clock.now())
        _reopen_basket(basket_id=payment.order.basket_id)
    return True


def _reopen_basket(*, basket_id: int | None) -> None:
    """Give the shopper their basket back to pay again, unless they already opened another
    one at that store (the one-active-basket constraint): then it is released."""
    if basket_id is None:
        return
    basket = Basket.objects.filter(pk=basket_id, status=Basket.Status.FROZEN).first()
    if basket is None:
        return
    has_other = (
        Basket.objects.filter(customer_id=basket.customer_id, store_id=basket.store_id, status=Basket.Status.OPEN)
        .exclude(pk=basket.pk)
        .exists()
    )
    status = Basket.Status.RELEASED if has_other else Basket.Status.OPEN
    Basket.objects.filter(pk=basket.pk, status=Basket.Status.FROZEN).update(status=status, updated_at=clock.now())


def reconcile_pending_payments(*, batch_size: int = 100) -> int:
    """Query payments pending for a while without news; return how many became paid."""
    now = clock.now()
    due = Payment.objects.filter(
        state=Payment.State.PENDING,
        order__state=Order.State.PENDING_PAYMENT,
        created_at__lt=now - dt.timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS),
    )
    paid = 0
    for payment in _claim(due, batch_size=batch_size):
        try:
            status = get_provider(payment.provider).query(out_trade_no=payment.out_trade_no)
        except (PaymentProviderUnavailable, PaymentProviderError) as exc:
            logger.warning("reconciling %s failed, will retry: %s", payment.out_trade_no, exc.code)
            continue
        try:
            result = settlement.apply_trade_status(provider=payment.provider, status=status, source="reconciliation")
        except (settlement.AmountMismatch, settlement.UnknownTrade) as exc:
            logger.error("reconciling %s needs staff: %s", payment.out_trade_no, exc.code)
            continue
        paid += result.outcome == "paid"
    return paid
