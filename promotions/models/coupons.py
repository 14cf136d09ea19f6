"""Coupon templates (what marketing designs), coupons (what a shopper owns), and packs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .windows import Channels


class CouponTemplate(models.Model):
    """A kind of coupon. Shoppers claim it from the offers list when ``claimable``; packs
    and campaigns grant it without a claim. ``issued_count`` only grows, under a row lock,
    so the issuance cap holds however many shoppers claim at once."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", "Amount off above a threshold (满减)"
        PERCENT_OFF = "percent_off", "Percent off with a cap"
        FREE_DELIVERY = "free_delivery", "Free delivery"

    class Scope(models.TextChoices):
        EVERYTHING = "everything", "Everything"
        BRANDS = "brands", "Brands"
        CATEGORIES = "categories", "Categories"
        PRODUCTS = "products", "Products"

    Channels = Channels

    name = models.CharField(max_length=100, help_text="What the shopper sees, e.g. '满99减18'.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    threshold_fen = models.PositiveIntegerField(
        default=0, help_text="The eligible goods subtotal must be at least this (0: no threshold)."
    )
    amount_off_fen = models.PositiveIntegerField(default=0, help_text="Amount-off coupons: fen off.")
    percent_off = models.PositiveSmallIntegerField(default=0, help_text="Percent-off coupons: 1-99.")
    cap_fen = models.PositiveIntegerField(
        null=True, blank=True, help_text="Percent-off coupons: at most this many fen off (empty: no cap)."
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.EVERYTHING)
    brands = models.ManyToManyField("stores.Brand", blank=True, related_name="+")
    categories = models.ManyToManyField("stores.Category", blank=True, related_name="+")
    products = models.ManyToManyField("stores.Product", blank=True, related_name="+")
    channels = models.CharField(max_length=16, choices=Channels.choices, default=Channels.BOTH)
    stacks_with_catalogue = models.BooleanField(
        default=True,
        help_text="Off: lines already on a flash sale or Brand of the Day do not count towards this coupon.",
    )
    valid_from = models.DateTimeField(null=True, blank=True, help_text="Fixed window: first moment of use.")
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Fixed window: end of use.")
    valid_days_after_claim = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Or: usable for this many days from claiming."
    )
    claimable = models.BooleanField(default=False, help_text="Listed in the coupon offers for shoppers to claim.")
    claim_starts_at = models.DateTimeField(null=True, blank=True)
    claim_ends_at = models.DateTimeField(null=True, blank=True)
    total_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many issued (empty: no cap)."
    )
    issued_count = models.PositiveIntegerField(default=0, editable=False)
    per_customer_limit = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(percent_off__lte=99), name="coupon_template_percent_off_max_99"),
            models.CheckConstraint(
                condition=Q(total_cap__isnull=True) | Q(issued_count__lte=F("total_cap")),
                name="coupon_template_issued_within_cap",
            ),
            models.CheckConstraint(
                condition=Q(valid_days_after_claim__isnull=False)
                | (Q(valid_from__isnull=False) & Q(valid_until__isnull=False)),
                name="coupon_template_has_validity",
            ),
            models.CheckConstraint(
                condition=~Q(kind="amount_off") | Q(amount_off_fen__gt=0), name="coupon_template_amount_off_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent_off") | Q(percent_off__gte=1), name="coupon_template_percent_off_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_delivery_coupon(self) -> bool:
        return self.kind == self.Kind.FREE_DELIVERY


class Coupon(models.Model):
    """A coupon a shopper owns. ``locked`` while an unpaid order holds it (``order_id``),
    ``used`` once that order is paid; a closed or cancelled order gives it back. Past
    ``valid_until`` an available coupon reads as expired (and the sweep marks it so)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        LOCKED = "locked", "Locked on an unpaid order"
        USED = "used", "Used"
        EXPIRED = "expired", "Expired"

    class Source(models.TextChoices):
        CLAIM = "claim", "Claimed from the offers"
        NEW_CUSTOMER_PACK = "new_customer_pack", "New-customer pack"
        CAMPAIGN = "campaign", "Festival campaign poster"
        OMNICHANNEL_BONUS = "omnichannel_bonus", "Omnichannel bonus"
        STAFF = "staff", "Granted by staff"

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="coupons")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    source = models.CharField(max_length=24, choices=Source.choices, default=Source.CLAIM)
    source_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The pack grant or campaign.")
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    order_id = models.PositiveBigIntegerField(null=True, blank=True, help_text="The order it is locked on or used by.")
    claimed_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["valid_until", "id"]
        indexes = [models.Index(fields=["customer", "status"]), models.Index(fields=["order_id"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status__in=["locked", "used"]) | Q(order_id__isnull=False),
                name="coupon_locked_or_used_has_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} ({self.status})"


class CouponPack(models.Model):
    """A bundle of coupons granted together, e.g. the 88 RMB new-customer pack."""

    class Kind(models.TextChoices):
        NEW_CUSTOMER = "new_customer", "New customer (first paid order)"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.NEW_CUSTOMER)
    min_goods_fen = models.PositiveIntegerField(
        default=5900, help_text="The first paid order's goods must reach this for the pack."
    )
    active = models.BooleanField(default=True)
    templates = models.ManyToManyField(CouponTemplate, through="CouponPackItem", related_name="packs")

    def __str__(self) -> str:
        return self.name


class CouponPackItem(models.Model):
    pack = models.ForeignKey(CouponPack, on_delete=models.CASCADE, related_name="items")
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pack", "template"], name="coupon_pack_item_unique")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.template}"


class NewCustomerPackGrant(models.Model):
    """One row per shopper who got the new-customer pack: the unique customer is what makes
    it once-only, whatever races the after-payment tasks run."""

    customer = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    pack = models.ForeignKey(CouponPack, on_delete=models.PROTECT, related_name="grants")
    order_id = models.PositiveBigIntegerField(help_text="The first paid order that earned it.")
    granted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.pack} -> {self.customer_id}"
