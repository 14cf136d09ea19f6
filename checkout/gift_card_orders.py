"""Orders that buy a gift card or top one up, and what their payment does.

A gift-card order is an order like any other (kind ``gift_card`` or ``gift_card_top_up``,
channel ``online``, no lines): it has one pending payment at WeChat Pay or Alipay and goes
through the same settlement, timeout and reconciliation as goods. The card is issued, or
the top-up credited, only in ``on_paid``, inside the transaction that marks the order paid:
an unpaid order never puts money on a card.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict
from promotions import gift_card_ledger as ledger
from promotions import gift_cards
from promotions.models import GiftCard, GiftCardTransaction

from . import order_states, orders, scan_and_pay
from .models import Order, Payment

logger = logging.getLogger(__name__)

Kind = Order.Kind


class GiftCardTopUpPending(Conflict):
    """A card with a top-up awaiting payment is not offered to a friend: the top-up would
    land on the friend's card, more than the sharer meant to give."""

    code = "gift_card_top_up_pending"
    default_message = "This gift card has a top-up awaiting payment; share it once that is paid or closed."


def buy_gift_card(*, customer_id: int, amount_fen: int, payment_method: str) -> scan_and_pay.CheckoutResult:
    """Write the order for a new card of ``amount_fen`` and start its payment; the card is
    issued when the payment is confirmed (``on_paid``)."""
    _check_payment_method(payment_method)
    gift_cards.check_purchase_amount(amount_fen)
    with transaction.atomic():
        order = _create(
            customer_id=customer_id, amount_fen=amount_fen, payment_method=payment_method, kind=Kind.GIFT_CARD
        )
    return _start_payment(order.pk, customer_id=customer_id)


def top_up_gift_card(
    *, customer_id: int, card_id: int, amount_fen: int, payment_method: str
) -> scan_and_pay.CheckoutResult:
    """Write a top-up order for the shopper's own card and start its payment. Checked under
    the card's lock against the top-ups of the card still awaiting payment, so two top-ups
    at once cannot together promise more than the cap."""
    _check_payment_method(payment_method)
    with transaction.atomic():
        card = ledger.lock_cards([card_id]).get(card_id) if 0 < card_id < 2**63 else None
        pending = _pending_top_ups_fen(card.pk) if card is not None else 0
        gift_cards.check_top_up(
            card, customer_id=customer_id, amount_fen=amount_fen, pending_top_ups_fen=pending, now=clock.now()
        )
        order = _create(
            customer_id=customer_id,
            amount_fen=amount_fen,
            payment_method=payment_method,
            kind=Kind.GIFT_CARD_TOP_UP,
            gift_card_id=card.pk,
        )
    return _start_payment(order.pk, customer_id=customer_id)


def share_card(*, customer_id: int, card_id: int, message: str = "") -> gift_cards.ShareOffer:
    """``promotions.gift_cards.share_card``, refused while one of the card's top-ups awaits
    payment (checked under the card's lock, which a new top-up takes too)."""
    with transaction.atomic():
        card = ledger.lock_cards([card_id]).get(card_id) if 0 < card_id < 2**63 else None
        if card is not None and card.owner_id == customer_id:  # anyone else's: share_card's 404
            pending = _pending_top_ups_fen(card_id)
            if pending:
                raise GiftCardTopUpPending(details={"gift_card_id": card_id, "pending_top_ups_fen": pending})
        return gift_cards.share_card(customer_id=customer_id, card_id=card_id, message=message)


def _pending_top_ups_fen(card_id: int) -> int:
    return Order.objects.filter(
        kind=Kind.GIFT_CARD_TOP_UP, gift_card_id=card_id, state=Order.State.PENDING_PAYMENT
    ).aggregate(fen=Sum("total_fen", default=0))["fen"]


def _check_payment_method(payment_method: str) -> None:
    if payment_method not in settings.PAYMENT_METHODS:
        raise scan_and_pay.PaymentMethodUnavailable(details={"available": list(settings.PAYMENT_METHODS)})


def _create(
    *, customer_id: int, amount_fen: int, payment_method: str, kind: str, gift_card_id: int | None = None
) -> Order:
    return orders.create_order(
        customer_id=customer_id,
        channel=Order.Channel.ONLINE,
        store_id=None,
        basket_id=None,
        payment_method=payment_method,
        lines=[],
        goods_subtotal_fen=amount_fen,
        discount_fen=0,
        delivery_fee_fen=0,
        total_fen=amount_fen,
        adjustments=[],
        kind=kind,
        gift_card_id=gift_card_id,
    )


def _start_payment(order_id: int, *, customer_id: int) -> scan_and_pay.CheckoutResult:
    """Create the trade at the provider, outside any lock (as scan & pay does)."""
    payment = Payment.objects.select_related("order__store", "order__customer").get(order_id=order_id)
    params = scan_and_pay.create_at_provider(payment)
    return scan_and_pay.CheckoutResult(
        order=orders.order_get(customer_id=customer_id, order_id=order_id), payment_params=params
    )


def on_paid(*, order_id: int) -> None:
    """The order was just marked paid (settlement calls this in that same transaction):
    issue its card, or credit its top-up. Does nothing for goods orders, and nothing the
    second time for the same order.

    A top-up is credited to the card even if staff froze it meanwhile (the money is the
    shopper's and a frozen card still holds it); what no longer fits under the cap, or all
    of it if the card has since been given to a friend, goes onto a new card for the
    shopper (``gift_card_ledger.credit``): paid money is never lost."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.kind == Kind.GOODS:
            return
        if order.state != Order.State.PAID:
            raise ValueError(f"order {order_id} is {order.state}: a gift card is issued or topped up once paid")
        if order.kind == Kind.GIFT_CARD:
            _issue(order)
        elif order.kind == Kind.GIFT_CARD_TOP_UP:
            _credit_top_up(order)


def _issue(order: Order) -> None:
    card = GiftCard.objects.filter(issued_order_id=order.pk).first()
    if card is not None:  # issued before: only make sure the order names it
        Order.objects.filter(pk=order.pk, gift_card__isnull=True).update(gift_card=card)
        return
    card = ledger.issue(
        owner_id=order.customer_id, purchaser_id=order.customer_id, amount_fen=order.total_fen, order_id=order.pk
    )
    Order.objects.filter(pk=order.pk).update(gift_card=card)
    order_states.record_event(
        order_id=order.pk, event="gift_card_issued", data={"gift_card_id": card.pk, "amount_fen": order.total_fen}
    )


def _credit_top_up(order: Order) -> None:
    card = ledger.lock_cards([order.gift_card_id])[order.gift_card_id]
    done = GiftCardTransaction.objects.filter(
        order_id=order.pk, kind__in=(GiftCardTransaction.Kind.TOP_UP, GiftCardTransaction.Kind.ISSUE)
    ).exists()
    if done:
        return
    credited = ledger.credit(
        card,
        amount_fen=order.total_fen,
        kind=GiftCardTransaction.Kind.TOP_UP,
        customer_id=order.customer_id,
        order_id=order.pk,
    )
    if credited.overflow_fen:
        logger.info(
            "top-up order %s: %s fen did not fit card %s, issued on card %s",
            order.number,
            credited.overflow_fen,
            card.pk,
            credited.overflow_card_id,
        )
    order_states.record_event(
        order_id=order.pk,
        event="gift_card_topped_up",
        data={
            "gift_card_id": card.pk,
            "amount_fen": credited.amount_fen,
            "overflow_gift_card_id": credited.overflow_card_id,
            "overflow_fen": credited.overflow_fen,
        },
    )
