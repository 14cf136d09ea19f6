"""Builders for pricing-engine tests: plain values, no database."""

from __future__ import annotations

import datetime as dt

from promotions.pricing import BrandDeal, CouponOffer, DeliveryFee, FlashOffer, PricingLine

NOW = dt.datetime(2026, 8, 8, 12, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)


def line(key: int, *, price: int, qty: int = 1, product: int | None = None, brand: int = 1, category: int = 1,
         fixed: int | None = None) -> PricingLine:  # fmt: skip
    return PricingLine(
        key=key,
        product_id=product if product is not None else key,
        quantity=qty,
        unit_price_fen=price,
        fixed_total_fen=fixed,
        brand_id=brand,
        category_id=category,
    )


def coupon(coupon_id: int = 1, **terms) -> CouponOffer:
    defaults = {
        "kind": "amount_off",
        "label": f"coupon {coupon_id}",
        "valid_from": NOW - WEEK,
        "valid_until": NOW + WEEK,
    }
    return CouponOffer(coupon_id=coupon_id, **{**defaults, **terms})


def flash(product: int, *, price: int, units: int = 10, sale: int = 7, channels: str = "both") -> FlashOffer:
    return FlashOffer(sale_id=sale, item_id=100 + product, product_id=product, flash_price_fen=price, units=units,
                      label="Flash sale", channels=channels)  # fmt: skip


def brand_deal(brand: int = 1, percent: int = 20) -> BrandDeal:
    return BrandDeal(promotion_id=3, brand_id=brand, percent_off=percent, label="Brand of the Day")


FEE = DeliveryFee(rule_id=1, fee_fen=800, free_from_fen=16_900)
