"""Paid orders to return, and a payment provider that refunds without a network.

Orders are written by the real services (``create_order``, the gift-card ledger's holds,
``settlement`` for the payment, which captures the cards), with lines priced and
discounted as the test says, so each return test reads as "bought three milks with 3 RMB
off, returns one". ``FakeProvider`` stands in for WeChat Pay or Alipay in the unit tests;
the journeys use the sandbox instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from checkout import settlement
from checkout.delivery_models import Shipment, ShipmentLine
from checkout.models import Order, OrderLine, Payment
from checkout.orders import OrderLineDraft, create_order
from checkout.payments.base import PaymentProviderError, RefundStatus, TradeStatus
from checkout.returns_models import Refund
from miniprogram_api.core import clock
from promotions import gift_card_ledger
from promotions.models import GiftCard
from stores.models import Location, Product


@dataclass(frozen=True)
class Item:
    """A line as checkout would have written it: ``price_fen`` per unit (the label price of
    a weighed line), ``discount_fen`` every discount the pricing engine gave it."""

    product: Product
    quantity: int = 1
    price_fen: int = 1000
    discount_fen: int = 0
    weight_g: int | None = None


def pending_order(
    customer,
    *,
    store: Location | None,
    items: Sequence[Item],
    channel: str = Order.Channel.IN_STORE,
    method: str = "wechat_pay",
    delivery_fee_fen: int = 0,
    cards: Mapping[GiftCard, int] | None = None,
    kind: str = Order.Kind.GOODS,
) -> Order:
    """An order awaiting payment, its cards' part (``{card: fen}``) held on them."""
    drafts = [
        OrderLineDraft(
            product_id=item.product.pk,
            sku=item.product.sku,
            name=item.product.name,
            barcode="",
            kind="weight_label" if item.weight_g else "unit",
            quantity=item.quantity,
            weight_g=item.weight_g,
            unit_price_fen=item.price_fen,
            line_total_fen=item.price_fen if item.weight_g else item.quantity * item.price_fen,
            discount_fen=item.discount_fen,
            age_restricted=False,
        )
        for item in items
    ]
    subtotal = sum(draft.line_total_fen for draft in drafts)
    discount = sum(draft.discount_fen for draft in drafts)
    plan = {card.pk: fen for card, fen in (cards or {}).items()}
    with transaction.atomic():
        order = create_order(
            customer_id=customer.pk,
            channel=channel,
            store_id=store.pk if store else None,
            basket_id=None,
            payment_method=method,
            lines=drafts,
            goods_subtotal_fen=subtotal,
            discount_fen=discount,
            delivery_fee_fen=delivery_fee_fen,
            total_fen=subtotal - discount + delivery_fee_fen,
            adjustments=[],
            gift_card_fen=sum(plan.values()),
            kind=kind,
        )
        if plan:
            gift_card_ledger.hold(gift_card_ledger.lock_cards(plan), plan, order_id=order.pk)
    return order


def pay(order: Order) -> Order:
    """Paid as a provider's notification (or, with nothing left to pay, at once) pays it."""
    payment = Payment.objects.filter(order=order).first()
    with transaction.atomic():
        if payment is None:
            settlement.settle_without_payment(order_id=order.pk, basket_id=None, data={"source": "test"})
        else:
            status = TradeStatus(
                out_trade_no=payment.out_trade_no,
                state="paid",
                amount_fen=payment.amount_fen,
                provider_trade_id=f"42000{payment.pk:023d}",
                paid_at=clock.now(),
            )
            settlement.apply_trade_status(provider=payment.provider, status=status, source="test")
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


def paid_order(customer, **kwargs) -> Order:
    return pay(pending_order(customer, **kwargs))


def ship_and_deliver(order: Order, sends: Sequence[tuple[Location, Mapping[Product, int]]], *, at=None) -> Order:
    """Shipments (location, {product: units}) carried the order and were delivered ``at``
    (now): the return window starts."""
    at = at or clock.now()
    lines = {line.product_id: line for line in OrderLine.objects.filter(order=order)}
    for location, units in sends:
        shipment = Shipment.objects.create(
            order=order,
            location=location,
            slot_date=clock.local_date(at),
            slot="09:00-12:00",
            status=Shipment.Status.DELIVERED,
            distance_m=1000,
            delivered_at=at,
        )
        ShipmentLine.objects.bulk_create(
            ShipmentLine(shipment=shipment, order_line=lines[product.pk], product=product, quantity=quantity)
            for product, quantity in units.items()
        )
    Order.objects.filter(pk=order.pk).update(delivered_at=at)
    order.refresh_from_db()
    return order


def line_of(order: Order, product: Product) -> OrderLine:
    return OrderLine.objects.get(order=order, product=product)


def lines(*pairs: tuple[OrderLine, int]) -> list[dict[str, int]]:
    return [{"line_id": line.pk, "quantity": quantity} for line, quantity in pairs]


def card_money(card: GiftCard) -> tuple[int, int]:
    card.refresh_from_db()
    return card.balance_fen, card.held_fen


# --- A provider without a network --------------------------------------------------------------


@dataclass
class FakeProvider:
    """Answers refunds with ``answer`` ("processing", "succeeded", "failed", or an exception
    to raise) and queries with ``query_answer``; records every call."""

    name: str
    answer: str | Exception = "processing"
    query_answer: str | Exception = "succeeded"
    calls: list[dict] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def refund(self, *, out_trade_no, out_refund_no, refund_fen, total_fen, reason, notify_url) -> RefundStatus:
        self.calls.append(
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "refund_fen": refund_fen,
                "total_fen": total_fen,
                "reason": reason,
                "notify_url": notify_url,
            }
        )
        if isinstance(self.answer, Exception):
            raise self.answer
        return self._status(out_trade_no, out_refund_no, self.answer, refund_fen)

    def query_refund(self, *, out_trade_no, out_refund_no) -> RefundStatus:
        self.queries.append(out_refund_no)
        if isinstance(self.query_answer, Exception):
            raise self.query_answer
        amount = Refund.objects.values_list("amount_fen", flat=True).get(out_refund_no=out_refund_no)
        return self._status(out_trade_no, out_refund_no, self.query_answer, amount)

    @staticmethod
    def _status(out_trade_no: str, out_refund_no: str, state: str, amount_fen: int) -> RefundStatus:
        return RefundStatus(
            out_trade_no=out_trade_no,
            out_refund_no=out_refund_no,
            state=state,
            amount_fen=amount_fen,
            provider_refund_id=f"503{abs(hash(out_refund_no)) % 10**20:020d}",
            succeeded_at=clock.now() if state == "succeeded" else None,
            raw={"status": {"processing": "PROCESSING", "succeeded": "SUCCESS", "failed": "ABNORMAL"}[state]},
        )


def refused(code: str = "INVALID_REQUEST") -> PaymentProviderError:
    return PaymentProviderError(details={"provider_code": code})


def later(by: dt.timedelta):
    """A clock ``by`` ahead of the real one, for ``monkeypatch.setattr(clock, "now", ...)``."""
    real = clock.now
    return lambda: real() + by
