"""Coupon templates and coupons for tests, written straight to the database.

``offer`` is a claimable 满99减18 unless told otherwise; ``held_coupon`` puts a coupon in a
shopper's wallet without going through a claim, for tests about what the wallet shows.
"""

from __future__ import annotations

import datetime as dt

from miniprogram_api.core import clock
from promotions.models import Coupon, CouponTemplate

DAY = dt.timedelta(days=1)


def offer(**fields) -> CouponTemplate:
    defaults = {
        "name": "满99减18",
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "threshold_fen": 9900,
        "amount_off_fen": 1800,
        "valid_days_after_claim": 30,
        "claimable": True,
        "per_customer_limit": 1,
    }
    return CouponTemplate.objects.create(**{**defaults, **fields})


def held_coupon(customer, template: CouponTemplate | None = None, **fields) -> Coupon:
    """A coupon of ``template`` (a new unclaimable one by default) valid from yesterday for
    a week; pass ``valid_until``, ``status`` and ``order_id`` to age or spend it."""
    now = clock.now()
    if template is None:
        template = offer(claimable=False)
    defaults = {"valid_from": now - DAY, "valid_until": now + 7 * DAY}
    return Coupon.objects.create(template=template, customer=customer, **{**defaults, **fields})
