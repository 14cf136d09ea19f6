"""Staff screens for coupon templates, the coupons shoppers hold, and coupon packs.

Marketing designs templates here; coupons are issued only by ``coupons.issue_coupons``
(claims, packs, campaigns), so the coupon list is for reading and exporting. Counts shown
in a change list come from one correlated subquery per column, evaluated for the page's
rows only, never a query per row.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator

from django import forms
from django.contrib import admin
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone

from miniprogram_api.core import clock
from miniprogram_api.core.money import format_yuan

from .admin_base import AutocompleteInline, ReadOnlyAdmin, SwitchableAdmin, copy_name, count_of, save_copy
from .admin_filters import LiveStatusFilter
from .models import Coupon, CouponPack, CouponPackItem, CouponTemplate, NewCustomerPackGrant

CSV_HEADER = ("coupon_id", "template_id", "template", "customer_id", "customer_username", "status", "source",
              "valid_from", "valid_until", "order_id", "claimed_at", "used_at")  # fmt: skip
CSV_COUPON_FIELDS = ("id", "status", "source", "valid_from", "valid_until", "order_id", "claimed_at", "used_at",
                     "template__id", "template__name", "customer__id", "customer__username")  # fmt: skip
CSV_CHUNK = 2000


def describe_terms(template: CouponTemplate) -> str:
    """The terms in the words a shopper would use, e.g. '¥10.00 off from ¥99.00'."""
    if template.kind == CouponTemplate.Kind.AMOUNT_OFF:
        terms = f"{format_yuan(template.amount_off_fen)} off"
    elif template.kind == CouponTemplate.Kind.PERCENT_OFF:
        terms = f"{template.percent_off}% off"
        if template.cap_fen is not None:
            terms += f" (at most {format_yuan(template.cap_fen)})"
    else:
        terms = "Free delivery"
    if template.threshold_fen:
        terms += f" from {format_yuan(template.threshold_fen)}"
    return terms


def template_is_live(template: CouponTemplate, now: dt.datetime) -> bool:
    """On, and inside its window: the validity window, or for a "N days after claiming"
    template the claim window (an empty end never ends). Same rule as the list filter."""
    start = template.valid_from or template.claim_starts_at
    end = template.valid_until or template.claim_ends_at
    return template.active and (start is None or start <= now) and (end is None or end > now)


def effective_status(coupon: Coupon, now: dt.datetime) -> str:
    """An available coupon past its end is expired even before the sweep marks it."""
    if coupon.status == Coupon.Status.AVAILABLE and coupon.valid_until <= now:
        return Coupon.Status.EXPIRED
    return coupon.status


class CouponTemplateStatusFilter(LiveStatusFilter):
    start_field = "window_start"
    end_field = "window_end"
    open_ended = True

    def with_window(self, queryset):
        return queryset.alias(
            window_start=Coalesce("valid_from", "claim_starts_at"), window_end=Coalesce("valid_until", "claim_ends_at")
        )


class _Echo:
    """A file-like sink for ``csv.writer`` that hands each row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _local(moment: dt.datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment).isoformat()


def issued_coupon_rows(template_ids: list[int], now: dt.datetime) -> Iterator[tuple]:
    """Every coupon of the templates, oldest template and coupon first, read in chunks with
    the template and customer joined: one query per chunk, whatever the number of rows."""
    coupons = (
        Coupon.objects.filter(template_id__in=template_ids)
        .select_related("template", "customer")
        .only(*CSV_COUPON_FIELDS)
        .order_by("template_id", "id")
    )
    for coupon in coupons.iterator(chunk_size=CSV_CHUNK):
        yield (
            coupon.id,
            coupon.template_id,
            coupon.template.name,
            coupon.customer_id,
            coupon.customer.username,
            effective_status(coupon, now),
            coupon.source,
            _local(coupon.valid_from),
            _local(coupon.valid_until),
            "" if coupon.order_id is None else coupon.order_id,
            _local(coupon.claimed_at),
            _local(coupon.used_at),
        )


class CouponTemplateForm(forms.ModelForm):
    """The database constraints hold the last line; this says what is missing in words
    marketing uses, next to the field, before they are hit."""

    class Meta:
        model = CouponTemplate
        fields = ("name", "kind", "active", "threshold_fen", "amount_off_fen", "percent_off", "cap_fen",
                  "stacks_with_catalogue", "scope", "brands", "categories", "products", "channels", "valid_from",
                  "valid_until", "valid_days_after_claim", "claimable", "claim_starts_at", "claim_ends_at",
                  "total_cap", "per_customer_limit")  # fmt: skip

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == CouponTemplate.Kind.AMOUNT_OFF and not data.get("amount_off_fen"):
            self.add_error("amount_off_fen", "An amount-off coupon needs the fen it takes off.")
        if kind == CouponTemplate.Kind.PERCENT_OFF and not 1 <= (data.get("percent_off") or 0) <= 99:
            self.add_error("percent_off", "A percent-off coupon takes 1 to 99 percent off.")
        valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
        if not data.get("valid_days_after_claim") and (valid_from is None or valid_until is None):
            self.add_error("valid_until", "Give a fixed window (from and until) or a number of days after claiming.")
        if valid_from and valid_until and valid_until <= valid_from:
            self.add_error("valid_until", "The end of use must come after its start.")
        claim_from, claim_until = data.get("claim_starts_at"), data.get("claim_ends_at")
        if claim_from and claim_until and claim_until <= claim_from:
            self.add_error("claim_ends_at", "The claim window must end after it starts.")
        cap = data.get("total_cap")
        if cap is not None and self.instance.pk and cap < self.instance.issued_count:
            self.add_error("total_cap", f"{self.instance.issued_count} are already issued; the cap cannot be lower.")
        return data


@admin.register(CouponTemplate)
class CouponTemplateAdmin(SwitchableAdmin):
    form = CouponTemplateForm
    list_display = ("name", "kind", "terms", "scope", "channels", "claimable", "issued", "used_count", "live",
                    "active")  # fmt: skip
    list_filter = (CouponTemplateStatusFilter, "kind", "channels", "claimable", "active", "scope")
    search_fields = ("name",)
    autocomplete_fields = ("brands", "categories", "products")
    actions = (*SwitchableAdmin.actions, "export_issued_coupons")
    readonly_fields = ("issued_figure", "used_figure", "locked_figure", "available_figure", "expired_figure",
                       "quota_left_figure", "created_at")  # fmt: skip
    fieldsets = (
        (None, {"fields": ("name", "kind", "active")}),
        (
            "Terms",
            {
                "fields": ("threshold_fen", "amount_off_fen", "percent_off", "cap_fen", "stacks_with_catalogue"),
                "description": "Amounts in fen (100 fen = ¥1). Amount off for 满减, percent and cap for percent off.",
            },
        ),
        ("Scope", {"fields": ("scope", "brands", "categories", "products")}),
        ("Channels", {"fields": ("channels",)}),
        (
            "Validity",
            {
                "fields": ("valid_from", "valid_until", "valid_days_after_claim"),
                "description": "A fixed window, or N days after claiming (a fixed end still caps it).",
            },
        ),
        (
            "Issuance",
            {"fields": ("claimable", "claim_starts_at", "claim_ends_at", "total_cap", "per_customer_limit")},
        ),
        ("Figures", {"fields": readonly_fields}),
    )

    def get_queryset(self, request):
        used = Coupon.objects.filter(status=Coupon.Status.USED)
        return super().get_queryset(request).annotate(used_count=count_of(used, "template"))

    def duplicate(self, template: CouponTemplate) -> CouponTemplate:
        return save_copy(
            template,
            m2m=("brands", "categories", "products"),
            name=copy_name(template.name, CouponTemplate._meta.get_field("name").max_length),
            issued_count=0,
            active=False,
        )

    @admin.display(description="terms")
    def terms(self, template: CouponTemplate) -> str:
        return describe_terms(template)

    @admin.display(description="issued / cap", ordering="issued_count")
    def issued(self, template: CouponTemplate) -> str:
        cap = "no cap" if template.total_cap is None else template.total_cap
        return f"{template.issued_count} / {cap}"

    @admin.display(description="used", ordering="used_count")
    def used_count(self, template: CouponTemplate) -> int:
        return template.used_count

    @admin.display(description="live", boolean=True)
    def live(self, template: CouponTemplate) -> bool:
        return template_is_live(template, clock.now())

    # --- Figures (change page) -----------------------------------------------------------

    def _figures(self, template: CouponTemplate) -> dict[str, int]:
        """All coupon counts of one template in one aggregate, computed once per page."""
        if "_coupon_figures" not in template.__dict__:
            now = clock.now()
            available = Q(status=Coupon.Status.AVAILABLE)
            template._coupon_figures = Coupon.objects.filter(template=template).aggregate(
                used=Count("pk", filter=Q(status=Coupon.Status.USED)),
                locked=Count("pk", filter=Q(status=Coupon.Status.LOCKED)),
                available=Count("pk", filter=available & Q(valid_until__gt=now)),
                expired=Count("pk", filter=Q(status=Coupon.Status.EXPIRED) | (available & Q(valid_until__lte=now))),
            )
        return template._coupon_figures

    @admin.display(description="issued")
    def issued_figure(self, template: CouponTemplate) -> int | str:
        return template.issued_count if template.pk else "-"

    @admin.display(description="used")
    def used_figure(self, template: CouponTemplate) -> int | str:
        return self._figures(template)["used"] if template.pk else "-"

    @admin.display(description="locked on unpaid orders")
    def locked_figure(self, template: CouponTemplate) -> int | str:
        return self._figures(template)["locked"] if template.pk else "-"

    @admin.display(description="available to their holders")
    def available_figure(self, template: CouponTemplate) -> int | str:
        return self._figures(template)["available"] if template.pk else "-"

    @admin.display(description="expired unused")
    def expired_figure(self, template: CouponTemplate) -> int | str:
        return self._figures(template)["expired"] if template.pk else "-"

    @admin.display(description="quota left")
    def quota_left_figure(self, template: CouponTemplate) -> int | str:
        if not template.pk:
            return "-"
        return "no cap" if template.total_cap is None else template.total_cap - template.issued_count

    @admin.action(description="Export issued coupons of the selected templates as CSV", permissions=["view"])
    def export_issued_coupons(self, request, queryset) -> StreamingHttpResponse:
        """Streamed: a template may have issued hundreds of thousands of coupons."""
        template_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        writer = csv.writer(_Echo())
        now = clock.now()

        def lines() -> Iterator[str]:
            yield writer.writerow(CSV_HEADER)
            for row in issued_coupon_rows(template_ids, now):
                yield writer.writerow(row)

        stamp = clock.local_now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="issued-coupons-{stamp}.csv"'
        return response


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    """A coupon moves only through claims, checkout, payment and the sweep."""

    list_display = ("id", "template", "customer", "status", "source", "valid_from", "valid_until", "order_id",
                    "claimed_at", "used_at")  # fmt: skip
    list_filter = ("status", "source", ("template", admin.RelatedOnlyFieldListFilter), "claimed_at")
    list_select_related = ("template", "customer")
    search_fields = ("customer__username", "customer__nickname", "customer__phone", "template__name")
    raw_id_fields = ("customer", "template")
    date_hierarchy = "claimed_at"
    fields = ("template", "customer", "status", "source", "source_id", "valid_from", "valid_until", "order_id",
              "claimed_at", "used_at")  # fmt: skip
    readonly_fields = fields


# --- Packs --------------------------------------------------------------------------------


class CouponPackItemInline(AutocompleteInline):
    model = CouponPackItem
    autocomplete_fields = ("template",)
    fields = ("template", "quantity", "value")
    readonly_fields = ("value",)

    @admin.display(description="value (quantity x amount off)")
    def value(self, item: CouponPackItem) -> str:
        if not item.pk:
            return "-"
        return format_yuan(item.quantity * item.template.amount_off_fen)


def pack_value_fen() -> Coalesce:
    """Sum of quantity x amount off over a pack's items, as a correlated subquery."""
    value = (
        CouponPackItem.objects.filter(pack=OuterRef("pk"))
        .order_by()
        .values("pack")
        .annotate(fen=Sum(F("quantity") * F("template__amount_off_fen")))
        .values("fen")
    )
    return Coalesce(Subquery(value, output_field=IntegerField()), Value(0))


@admin.register(CouponPack)
class CouponPackAdmin(SwitchableAdmin):
    """The new-customer pack is 88 RMB by default: the total value is shown so an edit that
    breaks that promise is seen before it is saved twice."""

    list_display = ("name", "kind", "min_goods", "total_value", "grant_count", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    fields = ("name", "kind", "min_goods_fen", "active", "total_value", "grant_count")
    readonly_fields = ("total_value", "grant_count")
    inlines = (CouponPackItemInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(value_fen=pack_value_fen(), grants_count=count_of(NewCustomerPackGrant.objects.all(), "pack"))
        )

    def duplicate(self, pack: CouponPack) -> CouponPack:
        copy = save_copy(pack, name=copy_name(pack.name, CouponPack._meta.get_field("name").max_length), active=False)
        CouponPackItem.objects.bulk_create(
            CouponPackItem(pack=copy, template_id=item.template_id, quantity=item.quantity) for item in pack.items.all()
        )
        return copy

    @admin.display(description="first order from", ordering="min_goods_fen")
    def min_goods(self, pack: CouponPack) -> str:
        return format_yuan(pack.min_goods_fen)

    @admin.display(description="total value", ordering="value_fen")
    def total_value(self, pack: CouponPack) -> str:
        return format_yuan(pack.value_fen) if pack.pk else "-"

    @admin.display(description="granted to", ordering="grants_count")
    def grant_count(self, pack: CouponPack) -> int | str:
        return pack.grants_count if pack.pk else "-"


@admin.register(NewCustomerPackGrant)
class NewCustomerPackGrantAdmin(ReadOnlyAdmin):
    list_display = ("customer", "pack", "order_id", "granted_at")
    list_filter = ("pack", "granted_at")
    list_select_related = ("customer", "pack")
    search_fields = ("customer__username", "customer__nickname", "customer__phone")
    raw_id_fields = ("customer",)
    date_hierarchy = "granted_at"
    fields = ("customer", "pack", "order_id", "granted_at")
    readonly_fields = fields
