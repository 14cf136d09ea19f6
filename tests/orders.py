"""Orders for tests that need one without walking the whole basket journey."""

from __future__ import annotations

from checkout.models import Order
from checkout.orders import OrderLineDraft, create_order
from stores.models import Product


def make_order(*, customer_id: int, store_id: int, items: list[tuple[Product, int, int]]) -> Order:
    """A pending in-store order for ``items`` of (product, quantity, unit price in fen),
    with its pending WeChat Pay payment, written by the real service."""
    drafts = [
        OrderLineDraft(
            product_id=product.pk,
            sku=product.sku,
            name=product.name,
            barcode="",
            kind="unit",
            quantity=quantity,
            weight_g=None,
            unit_price_fen=price_fen,
            line_total_fen=quantity * price_fen,
            discount_fen=0,
            age_restricted=product.age_restricted,
        )
        for product, quantity, price_fen in items
    ]
    total = sum(draft.line_total_fen for draft in drafts)
    return create_order(
        customer_id=customer_id,
        channel=Order.Channel.IN_STORE,
        store_id=store_id,
        basket_id=None,
        payment_method="wechat_pay",
        lines=drafts,
        goods_subtotal_fen=total,
        discount_fen=0,
        delivery_fee_fen=0,
        total_fen=total,
        adjustments=[],
    )
