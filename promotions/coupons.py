"""Coupons: issuing them to shoppers (claims, packs, campaigns) and reading them.

Every issue goes through ``issue_coupons``, which takes the template's row lock, so the
issuance cap and the per-shopper limit hold however many claims or grants run at once.

A coupon's stored ``status`` lags behind the clock: an available coupon past its
``valid_until`` stays ``available`` until the sweep (``expire_coupons``) marks it. Reads
therefore show the *effective* status, computed against "now", so a shopper never sees a
dead coupon as usable, and the pricing engine refuses it by its dates either way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, CharField, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from stores.selectors import MAX_ID

from .loading import coupon_offer, scope_ids_of
from .models import Coupon, CouponTemplate
from .pricing import CouponOffer

EXPIRY_BATCH_SIZE = 500


class CouponTemplateNotFound(NotFound):
    code = "coupon_offer_not_found"
    default_message = "There is no such coupon offer."


class CouponsSoldOut(Conflict):
    code = "coupons_sold_out"
    default_message = "All of these coupons have been given out."


class CouponLimitReached(Conflict):
    code = "coupon_limit_reached"
    default_message = "You already have as many of these coupons as one shopper may."


class CouponOfferNotLive(Unprocessable):
    """A claimable offer outside its claim window (or switched off, or past its last day of
    use): it exists, the shopper may have seen it, but it cannot be claimed now."""

    code = "coupon_offer_not_live"
    default_message = "This coupon offer cannot be claimed now."


class InvalidCouponStatus(InvalidInput):
    code = "invalid_coupon_status"
    default_message = "Unknown coupon status."


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


# --- Offers: what a shopper may claim ------------------------------------------------------


@dataclass(frozen=True)
class ClaimableOffer:
    """A live offer as one shopper sees it. ``remaining`` is None when the offer has no
    issuance cap; ``held`` counts every coupon of it the shopper ever got (used and expired
    ones too), as the per-shopper limit does."""

    template: CouponTemplate
    remaining: int | None
    held: int

    @property
    def may_still_claim(self) -> int:
        left = max(self.template.per_customer_limit - self.held, 0)
        return left if self.remaining is None else min(left, self.remaining)


def live_offer_q(now: dt.datetime) -> Q:
    """Claimable templates open for claims at ``now``: switched on, inside their claim
    window (an empty start or end is open), and not past their last day of use (a coupon
    born expired is no offer). ``is_live_offer`` is the same rule for one loaded row."""
    return (
        Q(claimable=True, active=True)
        & (Q(claim_starts_at__isnull=True) | Q(claim_starts_at__lte=now))
        & (Q(claim_ends_at__isnull=True) | Q(claim_ends_at__gt=now))
        & (Q(valid_until__isnull=True) | Q(valid_until__gt=now))
    )


def is_live_offer(template: CouponTemplate, now: dt.datetime) -> bool:
    return (
        template.claimable
        and template.active
        and (template.claim_starts_at is None or template.claim_starts_at <= now)
        and (template.claim_ends_at is None or now < template.claim_ends_at)
        and (template.valid_until is None or now < template.valid_until)
    )


def claimable_offers(*, customer_id: int, now: dt.datetime | None = None) -> list[ClaimableOffer]:
    """Every live offer with what is left of it and what this shopper holds, in one query
    however many offers there are (the shopper's count is a correlated subquery on the
    coupons' customer index, not a join over everyone's coupons). Sold-out offers stay
    listed with ``remaining == 0`` so the client can show them as gone. Offers closing
    soonest come first."""
    now = now or clock.now()
    held = (
        Coupon.objects.filter(template_id=OuterRef("pk"), customer_id=customer_id)
        .order_by()
        .values("template_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    templates = (
        CouponTemplate.objects.filter(live_offer_q(now))
        .annotate(held=Coalesce(Subquery(held, output_field=IntegerField()), 0))
        .order_by(F("claim_ends_at").asc(nulls_last=True), "-pk")
    )
    return [
        ClaimableOffer(
            template=template,
            remaining=None if template.total_cap is None else max(template.total_cap - template.issued_count, 0),
            held=template.held,
        )
        for template in templates
    ]


def claim_offer(*, customer_id: int, template_id: int) -> Coupon:
    """Claim one coupon of an offer for the shopper.

    An unknown id and a template that is not offered for claiming are the same 404, so ids
    of pack and campaign templates reveal nothing. The liveness check runs under the
    template's row lock (which ``issue_coupons`` takes again in the same transaction), so
    claims queued on the lock when staff switch an offer off, or its window closes, issue
    nothing more. Sold out and the per-shopper limit are ``issue_coupons``' 409s.
    """
    now = clock.now()
    details = {"coupon_offer_id": template_id}
    with transaction.atomic():
        template = None
        if 0 < template_id <= MAX_ID:
            template = CouponTemplate.objects.select_for_update().filter(pk=template_id, claimable=True).first()
        if template is None:
            raise CouponTemplateNotFound(details=details)
        if not is_live_offer(template, now):
            window = {"claim_starts_at": _iso(template.claim_starts_at), "claim_ends_at": _iso(template.claim_ends_at)}
            raise CouponOfferNotLive(details={**details, **window})
        [coupon] = issue_coupons(template_id=template.pk, customer_id=customer_id, quantity=1)
    return coupon


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else clock.local_iso(moment)


# --- A shopper's coupons -------------------------------------------------------------------

STATUS_ORDER = {
    Coupon.Status.AVAILABLE: 0,
    Coupon.Status.LOCKED: 1,
    Coupon.Status.USED: 2,
    Coupon.Status.EXPIRED: 3,
}


def effective_status_expression(now: dt.datetime) -> Case:
    """The stored status, except that an available coupon past its end reads as expired."""
    return Case(
        When(status=Coupon.Status.AVAILABLE, valid_until__lte=now, then=Value(Coupon.Status.EXPIRED)),
        default=F("status"),
        output_field=CharField(),
    )


def effective_status(coupon: Coupon, now: dt.datetime) -> str:
    if coupon.status == Coupon.Status.AVAILABLE and coupon.valid_until <= now:
        return Coupon.Status.EXPIRED
    return coupon.status


def my_coupons(*, customer_id: int, status: str | None = None, now: dt.datetime | None = None) -> QuerySet[Coupon]:
    """The shopper's coupons with their templates, each annotated ``effective_status``,
    optionally only those in one (effective) status. Usable ones first, then locked, used
    and expired; within each, the soonest to end first.

    A queryset rather than a list, so the API pages it in the database: a regular
    shopper's wallet keeps every used and expired coupon.
    """
    if status is not None and status not in Coupon.Status.values:
        raise InvalidCouponStatus(details={"status": status, "allowed": list(Coupon.Status.values)})
    now = now or clock.now()
    rank = Case(*(When(effective_status=value, then=Value(n)) for value, n in STATUS_ORDER.items()))
    coupons = (
        Coupon.objects.filter(customer_id=customer_id)
        .select_related("template")
        .annotate(effective_status=effective_status_expression(now))
        .annotate(status_rank=rank)
    )
    if status is not None:
        coupons = coupons.filter(effective_status=status)
    return coupons.order_by("status_rank", "valid_until", "pk")


def available_coupon_offers(*, customer_id: int) -> tuple[CouponOffer, ...]:
    """Every coupon the shopper holds as ``available`` (those past their end included, so
    the engine can say they expired), as the pricing engine sees them, with their scopes:
    one query for the coupons and one per kind of scope in use, however many coupons."""
    held = list(
        Coupon.objects.filter(customer_id=customer_id, status=Coupon.Status.AVAILABLE)
        .select_related("template")
        .order_by("valid_until", "pk")
    )
    scopes = scope_ids_of([coupon.template for coupon in held])
    return tuple(coupon_offer(coupon, scope_ids=scopes.get(coupon.template_id, frozenset())) for coupon in held)


# --- The expiry sweep ----------------------------------------------------------------------


def expire_coupons(*, batch_size: int = EXPIRY_BATCH_SIZE, now: dt.datetime | None = None) -> int:
    """Mark up to ``batch_size`` available coupons past their end as expired; return how
    many. The UPDATE repeats the conditions, so a coupon locked by a checkout between the
    pick and the update stays locked: the sweep only ever moves ``available`` ones."""
    now = now or clock.now()
    stale = Q(status=Coupon.Status.AVAILABLE, valid_until__lte=now)
    ids = list(Coupon.objects.filter(stale).order_by("valid_until", "pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return 0
    return Coupon.objects.filter(stale, pk__in=ids).update(status=Coupon.Status.EXPIRED)
