"""Delivery and pick-up orders for tests that need one in a given state without walking the
cart, routing and payment journey (the checkout tests walk it)."""

from __future__ import annotations

import datetime as dt

from checkout import order_states
from checkout.delivery_models import Shipment
from checkout.models import Order
from checkout.orders import DeliveryDetails, OrderLineDraft, create_order
from stores.models import City, Location, Product

SLOT_DATE = dt.date(2026, 11, 23)
ADDRESS = {"recipient": "Li Lei", "phone": "13800138000", "text": "Room 501, 1 Test Road, Xuhui"}


def online_order(
    *,
    customer,
    city: City,
    product: Product,
    channel: str = Order.Channel.DELIVERY,
    store: Location | None = None,
    quantity: int = 2,
    slot: str = "09:00-12:00",
    paid: bool = True,
    shipments: list[tuple[Location, str]] = (),
) -> Order:
    """An order written by the real service (and paid through the real transition), with
    the given shipments as (location, status)."""
    line_total = quantity * product.base_price_fen
    order = create_order(
        customer_id=customer.pk,
        channel=channel,
        store_id=store.pk if store else None,
        basket_id=None,
        payment_method="wechat_pay",
        lines=[
            OrderLineDraft(
                product_id=product.pk,
                sku=product.sku,
                name=product.name,
                barcode="",
                kind="unit",
                quantity=quantity,
                weight_g=None,
                unit_price_fen=product.base_price_fen,
                line_total_fen=line_total,
                discount_fen=0,
                age_restricted=False,
            )
        ],
        goods_subtotal_fen=line_total,
        discount_fen=0,
        delivery_fee_fen=0,
        total_fen=line_total,
        adjustments=[],
        delivery=DeliveryDetails(
            city_id=city.pk,
            delivery_address=ADDRESS if channel == Order.Channel.DELIVERY else None,
            slot_date=SLOT_DATE,
            slot=slot,
            routing={},
        ),
    )
    for location, status in shipments:
        Shipment.objects.create(
            order=order, location=location, slot_date=SLOT_DATE, slot=slot, status=status, distance_m=1000
        )
    if paid:
        order_states.transition(
            order_id=order.pk, from_state="pending_payment", to_state="paid", event="paid", data={"source": "test"}
        )
    return Order.objects.get(pk=order.pk)
