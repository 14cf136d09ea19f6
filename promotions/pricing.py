"""The pricing engine: one function from lines to an explained price.

Callers (baskets, carts, checkout, refunds) hand in plain lines and get back every line's
total, an ordered list of adjustments and the totals, all in fen. For now prices are the
store's prices as scanned; the promotions issue adds flash sales, Brand of the Day,
coupons, the raffle prize and delivery fees here, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

Channel = Literal["in_store", "delivery", "pickup"]


@dataclass(frozen=True)
class PricingLine:
    """A line to price. ``fixed_total_fen`` is set for scale labels (the printed price, or
    weight x price per kg): such a line costs exactly that, whatever its quantity."""

    key: Hashable
    product_id: int
    quantity: int
    unit_price_fen: int
    fixed_total_fen: int | None = None


@dataclass(frozen=True)
class Adjustment:
    source: str  # flash_sale / brand_of_the_day / coupon / raffle / delivery_fee
    promotion_id: int | None
    line_key: Hashable | None
    amount_fen: int  # fen off (positive) or, for fees, fen added
    label: str


@dataclass(frozen=True)
class PricedLine:
    key: Hashable
    line_total_fen: int
    discount_fen: int

    @property
    def final_fen(self) -> int:
        return self.line_total_fen - self.discount_fen


@dataclass(frozen=True)
class PricedBasket:
    lines: tuple[PricedLine, ...]
    adjustments: tuple[Adjustment, ...]
    goods_subtotal_fen: int
    discount_fen: int
    delivery_fee_fen: int
    total_fen: int

    def line(self, key: Hashable) -> PricedLine:
        return next(line for line in self.lines if line.key == key)


def price_lines(
    *,
    lines: Sequence[PricingLine],
    channel: Channel,
    store_id: int | None = None,
    city_id: int | None = None,
    customer_id: int | None = None,
    coupon_ids: Sequence[int] = (),
    now: dt.datetime | None = None,
) -> PricedBasket:
    priced = tuple(
        PricedLine(
            key=line.key,
            line_total_fen=line.fixed_total_fen
            if line.fixed_total_fen is not None
            else line.unit_price_fen * line.quantity,
            discount_fen=0,
        )
        for line in lines
    )
    subtotal = sum(line.line_total_fen for line in priced)
    return PricedBasket(
        lines=priced,
        adjustments=(),
        goods_subtotal_fen=subtotal,
        discount_fen=0,
        delivery_fee_fen=0,
        total_fen=subtotal,
    )
