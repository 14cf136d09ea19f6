"""Checking out a scan & pay basket: freeze it, snapshot the order, start the payment.

The database work (lock the basket, price it, write the order and its pending payment,
freeze the basket) is one short transaction; the provider call comes after it, outside
any lock. A retry — or a second simultaneous checkout — finds the basket frozen with its
pending order and resumes that order instead of creating another, asking the provider
again with the same out_trade_no (idempotent at both providers).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, Unprocessable
from promotions import holds

from . import baskets, gift_card_tender, order_states, orders, settlement
from .errors import BasketNotFound, BasketNotOpen
from .models import Basket, Order, Payment
from .payments.base import PaymentProviderError
from .payments.providers import get_provider

logger = logging.getLogger(__name__)

NOTIFY_PATHS = {"wechat_pay": "/api/payments/wechatpay/notify", "alipay": "/api/payments/alipay/notify"}


class BasketAwaitingOtherPayment(Conflict):
    code = "basket_awaiting_other_payment"
    default_message = "This basket is already being paid with another payment method."


class BasketAwaitingOtherCoupons(Conflict):
    """A retry must ask for what the pending order holds: silently returning an order priced
    with other coupons would charge the shopper something they did not choose."""

    code = "basket_awaiting_other_coupons"
    default_message = "This basket is already being paid with other coupons."


class PaymentMethodUnavailable(Unprocessable):
    code = "payment_method_unavailable"
    default_message = "This payment method is not available."


class EmptyBasket(Unprocessable):
    code = "basket_empty"
    default_message = "Scan something before checking out."


class CouponNotApplicable(Unprocessable):
    """A chosen coupon does not apply to this basket; ``details`` maps each such coupon's id
    to the pricing engine's reason (``expired``, ``not_available``, ``wrong_channel``,
    ``below_threshold``, ``one_order_coupon_only``, ...). Nothing is written: the shopper
    picks again."""

    code = "coupon_not_applicable"
    default_message = "A chosen coupon cannot be used on this basket."


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    payment_params: dict[str, Any] | None  # None when promotions covered the whole total


def checkout_basket(
    *,
    customer_id: int,
    basket_id: int,
    payment_method: str,
    coupon_ids: Sequence[int] = (),
    gift_card_ids: Sequence[int] = (),
) -> CheckoutResult:
    """Check the basket out; ``gift_card_ids`` pay first (in that order), ``payment_method``
    the rest. An order that promotions or gift cards cover entirely is paid at once."""
    if payment_method not in settings.PAYMENT_METHODS:
        raise PaymentMethodUnavailable(details={"available": list(settings.PAYMENT_METHODS)})
    order_id = _freeze_into_order(
        customer_id=customer_id,
        basket_id=basket_id,
        payment_method=payment_method,
        coupon_ids=coupon_ids,
        gift_card_ids=gift_card_ids,
    )
    # The order's latest payment: a raffle win re-prices an unpaid order, closing its first
    # payment and opening another for the new total, so older ones are superseded. An order
    # with nothing to pay has none: it was paid when it was written.
    payment = Payment.objects.select_related("order__store", "order__customer").filter(order_id=order_id).last()
    params = None if payment is None else payment.client_params or create_at_provider(payment)
    return CheckoutResult(order=orders.order_get(customer_id=customer_id, order_id=order_id), payment_params=params)


def _freeze_into_order(
    *, customer_id: int, basket_id: int, payment_method: str, coupon_ids: Sequence[int], gift_card_ids: Sequence[int]
) -> int:
    """Lock the basket, price it with the chosen coupons, write the order, hold what it
    spends (gift cards, coupons, flash-sale quota) and freeze the basket: all or nothing. A
    frozen basket's pending order is returned as it is, holds and all (a retry holds nothing)."""
    with transaction.atomic():
        basket = (
            Basket.objects.select_for_update().filter(pk=basket_id, customer_id=customer_id).first()
            if 0 < basket_id < 2**63
            else None
        )
        if basket is None:
            raise BasketNotFound()
        if basket.status == Basket.Status.FROZEN:
            pending = basket.orders.filter(state=Order.State.PENDING_PAYMENT).order_by("-pk").first()
            if pending is None:
                raise BasketNotOpen(details={"status": basket.status})
            if pending.payment_method != payment_method:
                raise BasketAwaitingOtherPayment(
                    details={"order_id": pending.pk, "payment_method": pending.payment_method}
                )
            held = orders.coupon_ids_of(pending)
            if held != sorted(set(coupon_ids)):
                raise BasketAwaitingOtherCoupons(details={"order_id": pending.pk, "coupon_ids": held})
            gift_card_tender.check_retry(
                order_id=pending.pk,
                gift_card_fen=pending.gift_card_fen,
                total_fen=pending.total_fen,
                card_ids=gift_card_ids,
            )
            return pending.pk
        if basket.status != Basket.Status.OPEN:
            raise BasketNotOpen(details={"status": basket.status})

        now = clock.now()
        snapshot = baskets.order_snapshot(basket=basket, coupon_ids=coupon_ids, now=now)
        if not snapshot.lines:
            raise EmptyBasket()
        problems = snapshot.priced.coupon_problems
        refused = {str(cid): problems[cid] for cid in sorted(coupon_ids) if cid in problems}
        if refused:
            raise CouponNotApplicable(details=refused)
        cards = gift_card_tender.plan_cards(
            customer_id=customer_id, card_ids=gift_card_ids, total_fen=snapshot.priced.total_fen, now=now
        )
        order = orders.create_order(
            customer_id=customer_id,
            channel=Order.Channel.IN_STORE,
            store_id=basket.store_id,
            basket_id=basket.pk,
            payment_method=payment_method,
            lines=snapshot.lines,
            goods_subtotal_fen=snapshot.priced.goods_subtotal_fen,
            discount_fen=snapshot.priced.discount_fen,
            delivery_fee_fen=snapshot.priced.delivery_fee_fen,
            total_fen=snapshot.priced.total_fen,
            adjustments=snapshot.adjustments,
            line_keys=snapshot.line_keys,
            gift_card_fen=cards.total_fen,
        )
        gift_card_tender.hold_cards(cards, order_id=order.pk)
        holds.hold_for_order(order_id=order.pk, customer_id=customer_id, priced=snapshot.priced, now=now)
        Basket.objects.filter(pk=basket.pk).update(status=Basket.Status.FROZEN)
        if order.total_fen == order.gift_card_fen:
            # Coupons or gift cards took it all: no provider takes a 0-fen trade.
            settlement.settle_without_payment(
                order_id=order.pk, basket_id=basket.pk, data={"source": _covered_by(order)}
            )
        return order.pk


def _covered_by(order: Order) -> str:
    return "gift_cards_cover_total" if order.gift_card_fen else "promotions_cover_total"


def create_at_provider(payment: Payment) -> dict[str, Any]:
    """Create ``payment``'s trade at its provider and keep the client's payment params."""
    order = payment.order
    provider = get_provider(payment.provider)
    try:
        created = provider.create(
            out_trade_no=payment.out_trade_no,
            amount_fen=payment.amount_fen,
            description=f"{order.store.name if order.store else 'Order'} {order.number}"[:127],
            payer_openid=order.customer.openid or "",
            notify_url=settings.PUBLIC_BASE_URL + NOTIFY_PATHS[payment.provider],
            expires_at=order.payment_deadline,
        )
    except PaymentProviderError as exc:
        order_states.record_event(
            order_id=order.pk, event="payment_create_failed", data={"code": exc.code, **exc.details}
        )
        raise
    Payment.objects.filter(pk=payment.pk).update(client_params=created.client_params)
    return created.client_params
