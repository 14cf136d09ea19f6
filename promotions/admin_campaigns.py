"""Staff screens for festival campaigns, their poster scans and omnichannel bonus grants.

A festival's scans run to hundreds of thousands, far too many for an inline, so the
campaign page shows the figures and links to the scan and grant lists filtered to it;
those lists are read-only (only ``campaigns.scan_poster`` and the after-payment step
write them). The posters for the print shop come from the "Download poster QR codes"
action: a zip of one PNG per active store, named by store code.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from miniprogram_api.core import clock

from .admin_base import ReadOnlyAdmin, SwitchableAdmin, copy_name, save_copy
from .admin_filters import STATUS_LABELS, LiveStatusFilter, status_of
from .campaigns import posters_zip
from .models import Campaign, CampaignBonusGrant, CampaignScan


def _count(model) -> Coalesce:
    """One correlated COUNT per column, evaluated for the rows on the page only."""
    rows = model.objects.filter(campaign=OuterRef("pk")).order_by().values("campaign").annotate(n=Count("pk"))
    return Coalesce(Subquery(rows.values("n"), output_field=IntegerField()), Value(0))


@admin.register(Campaign)
class CampaignAdmin(SwitchableAdmin):
    list_display = ("name", "status", "starts_at", "ends_at", "scan_count", "bonus_count", "active")
    list_filter = (LiveStatusFilter, "active")
    search_fields = ("name",)
    date_hierarchy = "starts_at"
    filter_horizontal = ("scan_templates",)
    fields = ("name", "starts_at", "ends_at", "active", "scan_templates", "omnichannel_bonus_template",
              "scans", "bonuses_granted")  # fmt: skip
    readonly_fields = ("scans", "bonuses_granted")
    actions = (*SwitchableAdmin.actions, "download_posters")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(scan_total=_count(CampaignScan), bonus_total=_count(CampaignBonusGrant))
        )

    def duplicate(self, campaign: Campaign) -> Campaign:
        """A copy keeps the window, the poster coupons and the bonus; it starts switched off,
        and its posters are new ones (they name the copy's id)."""
        name = copy_name(campaign.name, Campaign._meta.get_field("name").max_length)
        return save_copy(campaign, m2m=("scan_templates",), name=name, active=False)

    @admin.display(description="status")
    def status(self, campaign: Campaign) -> str:
        return STATUS_LABELS[status_of(campaign, clock.now())]

    @admin.display(description="scans", ordering="scan_total")
    def scan_count(self, campaign: Campaign) -> int:
        return campaign.scan_total

    @admin.display(description="bonuses granted", ordering="bonus_total")
    def bonus_count(self, campaign: Campaign) -> int:
        return campaign.bonus_total

    @admin.display(description="poster scans")
    def scans(self, campaign: Campaign) -> str:
        return self._link(CampaignScan, campaign, getattr(campaign, "scan_total", 0), "scan(s)")

    @admin.display(description="omnichannel bonuses granted")
    def bonuses_granted(self, campaign: Campaign) -> str:
        return self._link(CampaignBonusGrant, campaign, getattr(campaign, "bonus_total", 0), "bonus(es)")

    def _link(self, model, campaign: Campaign, count: int, noun: str) -> str:
        if campaign.pk is None:
            return "-"
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        return format_html('<a href="{}?campaign__id__exact={}">{} {}</a>', url, campaign.pk, count, noun)

    @admin.action(description="Download poster QR codes (zip)", permissions=["view"])
    def download_posters(self, request, queryset):
        """One campaign at a time: each zip is what the print shop gets for one festival."""
        campaigns = list(queryset[:2])
        if len(campaigns) != 1:
            self.message_user(request, "Select exactly one campaign to download its posters.", messages.WARNING)
            return None
        campaign = campaigns[0]
        response = HttpResponse(posters_zip(campaign), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-posters.zip"'
        return response


@admin.register(CampaignScan)
class CampaignScanAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "campaign", "customer", "store")
    list_filter = ("campaign", "store__city")
    list_select_related = ("campaign", "customer", "store")
    search_fields = ("customer__username", "customer__nickname", "store__code")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")


@admin.register(CampaignBonusGrant)
class CampaignBonusGrantAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "campaign", "customer")
    list_filter = ("campaign",)
    list_select_related = ("campaign", "customer")
    search_fields = ("customer__username", "customer__nickname")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
