"""Festival campaigns: in-store poster QR codes that grant online coupons, and a bonus for
shopping on both channels inside the window."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from .windows import Windowed, window_constraint


class Campaign(Windowed):
    name = models.CharField(max_length=100, help_text="e.g. 8.8 festival")
    scan_templates = models.ManyToManyField(
        "promotions.CouponTemplate",
        blank=True,
        related_name="+",
        help_text="Granted once per shopper on scanning a store's poster.",
    )
    omnichannel_bonus_template = models.ForeignKey(
        "promotions.CouponTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Granted once to a shopper with paid orders in store and for delivery inside the window.",
    )

    class Meta:
        ordering = ["-starts_at"]
        constraints = [window_constraint("campaign_window_ordered")]

    def __str__(self) -> str:
        return self.name


class CampaignScan(models.Model):
    """A shopper's poster scan; unique per campaign, so the coupons come once."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="scans")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey("stores.Location", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_scan_once_per_customer")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.customer_id} at {self.store_id}"


class CampaignBonusGrant(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="bonus_grants")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "customer"], name="campaign_bonus_once_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}: bonus for {self.customer_id}"
