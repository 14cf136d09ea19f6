"""Why each of a shopper's coupons does or does not apply to a basket, and for how much.

The wallet answers "which coupon should I use?" with the pricing engine itself, so what
the list promises is what checkout charges: each available coupon is priced alone against
the basket (with its catalogue deals) and either applies, taking ``discount_fen`` off, or
carries the engine's reason code (``below_threshold``, ``wrong_channel``, ``expired``,
``nothing_eligible``, ...). Everything is fetched once (the basket's lines, the catalogue
deals, the coupons with their scopes), then ``compute`` runs in memory once per coupon: a
constant number of queries however many lines or coupons (one more per kind of coupon
scope in use, three at most).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from miniprogram_api.core import clock
from promotions.coupons import available_coupon_offers
from promotions.loading import load_promotions
from promotions.pricing import compute
from stores.selectors import MAX_ID

from .baskets import fetch_basket_lines
from .errors import BasketNotFound
from .models import Basket

CHANNEL = "in_store"  # a scan & pay basket is always paid in the store


@dataclass(frozen=True)
class CouponFit:
    coupon_id: int
    applies: bool
    reason: str | None  # the engine's code when it does not apply
    discount_fen: int  # what it takes off this basket now; 0 when it does not apply


def coupons_for_basket(*, customer_id: int, basket_id: int, now: dt.datetime | None = None) -> dict[int, CouponFit]:
    """Each coupon the shopper holds as available, by id, against their basket.

    Another shopper's basket is ``BasketNotFound``, like an unknown one. Coupons that are
    locked or used are not in the answer: they cannot go on any basket.
    """
    now = now or clock.now()
    basket = None
    if 0 < basket_id <= MAX_ID:
        basket = Basket.objects.filter(pk=basket_id, customer_id=customer_id).only("id", "store_id").first()
    if basket is None:
        raise BasketNotFound(details={"basket_id": basket_id})
    offers = available_coupon_offers(customer_id=customer_id)
    if not offers:
        return {}
    lines = [info.pricing_line() for info in fetch_basket_lines(basket=basket)]
    catalogue = load_promotions(
        product_ids={line.product_id for line in lines},
        channel=CHANNEL,
        store_id=basket.store_id,
        customer_id=customer_id,
        now=now,
    )
    fits: dict[int, CouponFit] = {}
    for offer in offers:
        priced = compute(lines=lines, channel=CHANNEL, promotions=replace(catalogue, coupons=(offer,)), now=now)
        applies = offer.coupon_id in priced.applied_coupon_ids
        discount = sum(
            adjustment.amount_fen
            for adjustment in priced.adjustments
            if adjustment.source == "coupon" and adjustment.promotion_id == offer.coupon_id
        )
        fits[offer.coupon_id] = CouponFit(
            coupon_id=offer.coupon_id,
            applies=applies,
            reason=None if applies else priced.coupon_problems.get(offer.coupon_id),
            discount_fen=discount if applies else 0,
        )
    return fits
