"""Input and output serializers for coupon offers and the shopper's coupons.

Outputs only read what the services fetched (templates are joined), so rendering never
queries. Choice fields use the models' own choices, so the schema shares one enum per
choice set with every other serializer that shows coupons.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.coupon_fit import CouponFit
from promotions.models import Coupon, CouponTemplate
from promotions.pricing import EXPIRED, NOT_AVAILABLE
from stores.selectors import MAX_ID


class CouponStatusField(serializers.ChoiceField):
    """The status a list annotated (``effective_status``), else the stored one (a coupon
    just claimed)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Coupon.Status.choices, source="*", **kwargs)

    def to_representation(self, value: Coupon) -> str:
        return str(getattr(value, "effective_status", value.status))


# --- Inputs -------------------------------------------------------------------------------


class CouponListQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Coupon.Status.choices,
        required=False,
        help_text="Only coupons in this status (as shown: an available coupon past its end is `expired`).",
    )
    basket_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="One of my baskets: each coupon then says whether it applies to it, and for how much.",
    )


# --- Outputs ------------------------------------------------------------------------------


class CouponTermsOutput(serializers.Serializer):
    """A template's terms, shared by offers and coupons (both hold their ``template``)."""

    name = serializers.CharField(source="template.name", help_text="What the shopper sees, e.g. '满99减18'.")
    kind = serializers.ChoiceField(
        choices=CouponTemplate.Kind.choices,
        source="template.kind",
        help_text="`amount_off` above a threshold, `percent_off` with a cap, `free_delivery`.",
    )
    threshold_fen = serializers.IntegerField(
        source="template.threshold_fen", help_text="The eligible goods must reach this (0: no threshold)."
    )
    amount_off_fen = serializers.IntegerField(
        source="template.amount_off_fen", help_text="Amount-off coupons: fen off."
    )
    percent_off = serializers.IntegerField(source="template.percent_off", help_text="Percent-off coupons: 1-99.")
    cap_fen = serializers.IntegerField(
        source="template.cap_fen", allow_null=True, help_text="Percent-off coupons: at most this many fen off."
    )
    channels = serializers.ChoiceField(
        choices=CouponTemplate.Channels.choices,
        source="template.channels",
        help_text="`both`, `in_store` (scan & pay) or `delivery` (delivery and pick-up).",
    )
    scope = serializers.ChoiceField(
        choices=CouponTemplate.Scope.choices,
        source="template.scope",
        help_text="`everything`, or only some `brands`, `categories` or `products`.",
    )
    stacks_with_catalogue = serializers.BooleanField(
        source="template.stacks_with_catalogue",
        help_text="False: goods already on a flash sale or Brand of the Day do not count towards it.",
    )


class CouponOfferOutput(CouponTermsOutput):
    """Renders a ``ClaimableOffer``: the template's terms plus what is left for this shopper."""

    id = serializers.IntegerField(source="template.pk", help_text="The offer's id, to claim it.")
    valid_from = serializers.DateTimeField(
        source="template.valid_from", allow_null=True, help_text="Fixed window: first moment of use."
    )
    valid_until = serializers.DateTimeField(
        source="template.valid_until", allow_null=True, help_text="Fixed window: end of use."
    )
    valid_days_after_claim = serializers.IntegerField(
        source="template.valid_days_after_claim",
        allow_null=True,
        help_text="Or: usable for this many days from claiming (never past `valid_until` if that is set).",
    )
    claim_starts_at = serializers.DateTimeField(source="template.claim_starts_at", allow_null=True)
    claim_ends_at = serializers.DateTimeField(
        source="template.claim_ends_at", allow_null=True, help_text="Null: open until it runs out."
    )
    per_customer_limit = serializers.IntegerField(
        source="template.per_customer_limit", help_text="How many one shopper may ever hold."
    )
    remaining = serializers.IntegerField(allow_null=True, help_text="Coupons left to give out; null: no cap.")
    held = serializers.IntegerField(help_text="How many of it I have ever claimed (used and expired included).")
    may_still_claim = serializers.IntegerField(help_text="How many more I may claim now (0: limit reached or gone).")


class CouponOutput(CouponTermsOutput):
    """Renders a ``Coupon`` (template joined). ``applies``, ``reason`` and ``discount_fen``
    are filled when the list was asked about a basket (``context["fits"]``: coupon id ->
    ``CouponFit`` for each available coupon), and null otherwise."""

    id = serializers.IntegerField()
    status = CouponStatusField(
        help_text="`available`, `locked` (on an unpaid order), `used` or `expired` (an available coupon past "
        "`valid_until` shows as expired at once)."
    )
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    source = serializers.ChoiceField(
        choices=Coupon.Source.choices, help_text="How I got it: `claim`, `new_customer_pack`, `campaign`, ..."
    )
    applies = serializers.SerializerMethodField(help_text="With `basket_id`: whether it applies to it now.")
    reason = serializers.SerializerMethodField(
        help_text="With `basket_id`, when it does not apply: `below_threshold`, `nothing_eligible` (nothing in its "
        "scope), `wrong_channel`, `not_a_delivery_order`, `expired`, `not_yet_valid`, `not_available` (locked or "
        "used)."
    )
    discount_fen = serializers.SerializerMethodField(
        help_text="With `basket_id`: what it would take off that basket now (0 when it does not apply)."
    )

    def _fit(self, coupon: Coupon) -> CouponFit | None:
        fits = self.context.get("fits")
        if fits is None:
            return None
        fit = fits.get(coupon.pk)
        if fit is None:  # locked, used or swept as expired: on no basket
            status = getattr(coupon, "effective_status", coupon.status)
            reason = EXPIRED if status == Coupon.Status.EXPIRED else NOT_AVAILABLE
            fit = CouponFit(coupon_id=coupon.pk, applies=False, reason=reason, discount_fen=0)
        return fit

    @extend_schema_field({"type": "boolean", "nullable": True})
    def get_applies(self, coupon: Coupon) -> bool | None:
        fit = self._fit(coupon)
        return None if fit is None else fit.applies

    @extend_schema_field({"type": "string", "nullable": True})
    def get_reason(self, coupon: Coupon) -> str | None:
        fit = self._fit(coupon)
        return None if fit is None else fit.reason

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_discount_fen(self, coupon: Coupon) -> int | None:
        fit = self._fit(coupon)
        return None if fit is None else fit.discount_fen
