"""Creating orders from priced lines, and reading a shopper's orders."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch, QuerySet, Sum

from miniprogram_api.core import clock
from miniprogram_api.core.errors import NotFound

from .models import Order, OrderEvent, OrderLine, Payment, Return, Shipment


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = "There is no such order."


def new_order_number() -> str:
    """``S`` + the Shanghai business date + 12 random digits: sortable by day, unguessable,
    and within WeChat Pay's 6-32 character out_trade_no alphabet, which it doubles as."""
    return f"S{clock.local_today():%Y%m%d}{secrets.randbelow(10**12):012d}"


@dataclass(frozen=True)
class OrderLineDraft:
    product_id: int
    sku: str
    name: str
    barcode: str
    kind: str
    quantity: int
    weight_g: int | None
    unit_price_fen: int
    line_total_fen: int
    discount_fen: int
    age_restricted: bool


@dataclass(frozen=True)
class DeliveryDetails:
    """What a delivery or pick-up order keeps of where and when (copied, never referenced:
    editing the address later rewrites no order)."""

    city_id: int
    delivery_address: dict | None  # None for pick-up: the order's store is where it is collected
    slot_date: dt.date
    slot: str
    routing: dict


def create_order(
    *,
    customer_id: int,
    channel: str,
    store_id: int | None,
    basket_id: int | None,
    payment_method: str,
    lines: list[OrderLineDraft],
    goods_subtotal_fen: int,
    discount_fen: int,
    delivery_fee_fen: int,
    total_fen: int,
    adjustments: list[dict],
    line_keys: Sequence[Hashable] | None = None,
    delivery: DeliveryDetails | None = None,
    gift_card_fen: int = 0,
    kind: str = Order.Kind.GOODS,
    gift_card_id: int | None = None,
) -> Order:
    """Write the order, its lines, its pending payment and its first event (in the caller's
    transaction). The amount at the provider is this total, never one a client sent.

    ``line_keys`` are the keys the pricing engine knew the lines by (basket or cart line
    ids), one per line in order: the adjustments' ``line_id`` are rewritten to the order
    line ids, so the order's explanation (and a refund reading it) names its own lines.
    ``delivery`` is where and when a delivery or pick-up order goes, and why from where.
    ``gift_card_fen`` is what the shopper's gift cards pay (held on them by the caller):
    the external payment is for the rest, and there is none when they cover it all.
    ``kind``/``gift_card_id`` name a gift-card purchase or top-up and its card."""
    now = clock.now()
    order = Order.objects.create(
        number=new_order_number(),
        customer_id=customer_id,
        channel=channel,
        store_id=store_id,
        basket_id=basket_id,
        payment_method=payment_method,
        item_count=sum(1 if line.weight_g else line.quantity for line in lines),
        goods_subtotal_fen=goods_subtotal_fen,
        discount_fen=discount_fen,
        delivery_fee_fen=delivery_fee_fen,
        total_fen=total_fen,
        gift_card_fen=gift_card_fen,
        kind=kind,
        gift_card_id=gift_card_id,
        adjustments=[] if line_keys is not None else adjustments,
        payment_deadline=now + settings.PAYMENT_TIMEOUT,
        **(vars(delivery) if delivery is not None else {}),
    )
    created = OrderLine.objects.bulk_create([OrderLine(order=order, **vars(line)) for line in lines])
    if line_keys is not None:
        order_line_ids = {key: line.pk for key, line in zip(line_keys, created, strict=True)}
        order.adjustments = [
            {**adjustment, "line_id": order_line_ids.get(adjustment.get("line_id"))} for adjustment in adjustments
        ]
        Order.objects.filter(pk=order.pk).update(adjustments=order.adjustments)
    external_fen = total_fen - gift_card_fen
    if external_fen > 0:  # nothing to pay (coupons, a prize or gift cards cover it all): no trade
        Payment.objects.create(order=order, provider=payment_method, out_trade_no=order.number, amount_fen=external_fen)
    OrderEvent.objects.create(
        order=order,
        type="created",
        to_state=order.state,
        data={"total_fen": total_fen, "gift_card_fen": gift_card_fen, "lines": len(lines)},
    )
    return order


def coupon_ids_of(order: Order) -> list[int]:
    """The coupons an order was priced with, read from its explanation."""
    return sorted({a["promotion_id"] for a in order.adjustments if a.get("source") == "coupon" and a["promotion_id"]})


def _orders_for(customer_id: int) -> QuerySet[Order]:
    return (
        Order.objects.filter(customer_id=customer_id)
        .select_related("store", "city")
        .prefetch_related(
            # Each line with the units returned so far: a GROUP BY in the same query.
            Prefetch(
                "lines",
                queryset=OrderLine.objects.annotate(returned_quantity=Sum("returned__quantity", default=0)).order_by(
                    "pk"
                ),
            ),
            Prefetch("payments", queryset=Payment.objects.order_by("pk")),
            Prefetch("shipments", queryset=Shipment.objects.select_related("location").order_by("pk")),
            Prefetch("returns", queryset=Return.objects.order_by("-created_at", "-pk")),
        )
    )


def order_list(*, customer_id: int) -> QuerySet[Order]:
    """The shopper's orders of every channel, newest first."""
    return _orders_for(customer_id).order_by("-created_at", "-pk")


def order_get(*, customer_id: int, order_id: int) -> Order:
    """Another shopper's order is "not found", never "forbidden", so ids do not leak."""
    order = _orders_for(customer_id).filter(pk=order_id).first() if 0 < order_id < 2**63 else None
    if order is None:
        raise OrderNotFound()
    return order
