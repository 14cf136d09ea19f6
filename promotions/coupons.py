"""Coupons: issuing them to shoppers (claims, packs, campaigns) and reading them.

Every issue goes through ``issue_coupons``, which takes the template's row lock, so the
issuance cap and the per-shopper limit hold however many claims or grants run at once.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, NotFound

from .models import Coupon, CouponTemplate


class CouponTemplateNotFound(NotFound):
    code = "coupon_offer_not_found"
    default_message = "There is no such coupon offer."


class CouponsSoldOut(Conflict):
    code = "coupons_sold_out"
    default_message = "All of these coupons have been given out."


class CouponLimitReached(Conflict):
    code = "coupon_limit_reached"
    default_message = "You already have as many of these coupons as one shopper may."


def validity(template: CouponTemplate, *, claimed_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """A fixed window, or N days from claiming (a fixed end still caps it)."""
    if template.valid_days_after_claim:
        until = claimed_at + dt.timedelta(days=template.valid_days_after_claim)
        if template.valid_until is not None:
            until = min(until, template.valid_until)
        return max(claimed_at, template.valid_from or claimed_at), until
    return template.valid_from, template.valid_until


def issue_coupons(
    *,
    template_id: int,
    customer_id: int,
    quantity: int = 1,
    source: str = Coupon.Source.CLAIM,
    source_id: int | None = None,
    enforce_customer_limit: bool = True,
) -> list[Coupon]:
    """Issue ``quantity`` coupons of a template to a shopper, atomically.

    Locks the template row, so two issues of one template are serialised: the count of the
    shopper's coupons and ``issued_count`` are read and raised under that lock. Packs and
    campaigns pass ``enforce_customer_limit=False`` (their own once-only rows guard them)
    but still respect the template's total cap.
    """
    now = clock.now()
    with transaction.atomic():
        template = CouponTemplate.objects.select_for_update().filter(pk=template_id).first()
        if template is None:
            raise CouponTemplateNotFound(details={"coupon_offer_id": template_id})
        if template.total_cap is not None and template.issued_count + quantity > template.total_cap:
            raise CouponsSoldOut(details={"coupon_offer_id": template_id})
        if enforce_customer_limit:
            held = Coupon.objects.filter(template_id=template_id, customer_id=customer_id).count()
            if held + quantity > template.per_customer_limit:
                raise CouponLimitReached(details={"coupon_offer_id": template_id, "limit": template.per_customer_limit})
        valid_from, valid_until = validity(template, claimed_at=now)
        coupons = Coupon.objects.bulk_create(
            Coupon(
                template=template,
                customer_id=customer_id,
                source=source,
                source_id=source_id,
                valid_from=valid_from,
                valid_until=valid_until,
            )
            for _ in range(quantity)
        )
        CouponTemplate.objects.filter(pk=template_id).update(issued_count=F("issued_count") + quantity)
    return coupons
