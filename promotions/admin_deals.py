"""Staff screens for catalogue deals (flash sales, the Brand of the Day) and delivery fees.

A flash-sale item's ``sold`` moves only under its row lock at checkout and payment
timeouts, so staff set the quota and see ``sold``; they never type it. Reservations are
the per-order record of that spending, read-only here.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count, Sum

from miniprogram_api.core import clock
from miniprogram_api.core.money import format_yuan

from .admin_base import AutocompleteInline, ReadOnlyAdmin, SwitchableAdmin, copy_name, save_copy
from .admin_filters import STATUS_LABELS, DayStatusFilter, LiveStatusFilter, status_of
from .models import BrandOfTheDay, DeliveryFeeRule, FlashSale, FlashSaleItem, FlashSaleReservation

# --- Flash sales --------------------------------------------------------------------------


class FlashSaleItemForm(forms.ModelForm):
    class Meta:
        model = FlashSaleItem
        fields = ("product", "flash_price_fen", "quota", "per_customer_limit")

    def clean_quota(self) -> int:
        """Units already held or sold stay so: the quota can shrink to them, not below."""
        quota = self.cleaned_data["quota"]
        if quota < self.instance.sold:
            raise forms.ValidationError(f"{self.instance.sold} units are held or sold; the quota cannot be lower.")
        return quota


class FlashSaleItemInline(AutocompleteInline):
    model = FlashSaleItem
    form = FlashSaleItemForm
    autocomplete_fields = ("product",)
    fields = ("product", "base_price", "flash_price_fen", "quota", "sold", "remaining", "per_customer_limit")
    readonly_fields = ("base_price", "sold", "remaining")

    @admin.display(description="base price")
    def base_price(self, item: FlashSaleItem) -> str:
        return format_yuan(item.product.base_price_fen) if item.product_id else "-"

    @admin.display(description="remaining")
    def remaining(self, item: FlashSaleItem) -> int | str:
        return item.remaining if item.pk else "-"


@admin.register(FlashSale)
class FlashSaleAdmin(SwitchableAdmin):
    list_display = ("name", "status", "channels", "starts_at", "ends_at", "item_count", "units_sold", "active")
    list_filter = (LiveStatusFilter, "channels", "active")
    search_fields = ("name",)
    date_hierarchy = "starts_at"
    fields = ("name", "channels", "active", "starts_at", "ends_at", "units_sold")
    readonly_fields = ("units_sold",)
    inlines = (FlashSaleItemInline,)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(item_count=Count("items"), sold_units=Sum("items__sold"), quota_units=Sum("items__quota"))
        )

    def duplicate(self, sale: FlashSale) -> FlashSale:
        """The copy sells the same products at the same prices and quotas, none sold yet."""
        copy = save_copy(sale, name=copy_name(sale.name, FlashSale._meta.get_field("name").max_length), active=False)
        FlashSaleItem.objects.bulk_create(
            FlashSaleItem(
                sale=copy,
                product_id=item.product_id,
                flash_price_fen=item.flash_price_fen,
                quota=item.quota,
                per_customer_limit=item.per_customer_limit,
            )
            for item in sale.items.all()
        )
        return copy

    @admin.display(description="status")
    def status(self, sale: FlashSale) -> str:
        return STATUS_LABELS[status_of(sale, clock.now())]

    @admin.display(description="items", ordering="item_count")
    def item_count(self, sale: FlashSale) -> int:
        return sale.item_count

    @admin.display(description="units sold / quota")
    def units_sold(self, sale: FlashSale) -> str:
        if not sale.pk:
            return "-"
        return f"{sale.sold_units or 0} / {sale.quota_units or 0}"


@admin.register(FlashSaleReservation)
class FlashSaleReservationAdmin(ReadOnlyAdmin):
    list_display = ("id", "sale", "product", "customer", "order_id", "quantity", "status", "created_at")
    list_filter = ("status", ("item__sale", admin.RelatedOnlyFieldListFilter), "created_at")
    list_select_related = ("item__sale", "item__product", "customer")
    search_fields = ("customer__username", "customer__nickname", "customer__phone", "item__product__sku")
    raw_id_fields = ("customer", "item")
    date_hierarchy = "created_at"
    fields = ("item", "customer", "order_id", "quantity", "status", "created_at")
    readonly_fields = fields

    @admin.display(description="flash sale", ordering="item__sale__name")
    def sale(self, reservation: FlashSaleReservation) -> str:
        return reservation.item.sale.name

    @admin.display(description="product", ordering="item__product__sku")
    def product(self, reservation: FlashSaleReservation) -> str:
        return str(reservation.item.product)


# --- Brand of the Day ---------------------------------------------------------------------


@admin.register(BrandOfTheDay)
class BrandOfTheDayAdmin(SwitchableAdmin):
    """One row per Shanghai date (the date is unique), so there is no duplicate action:
    a copy would need a new date, which is what "add" is for."""

    list_display = ("date", "brand", "percent", "label", "is_today", "active")
    list_filter = (DayStatusFilter, "active")
    list_select_related = ("brand",)
    search_fields = ("brand__name", "brand__name_zh", "label")
    autocomplete_fields = ("brand",)
    date_hierarchy = "date"
    fields = ("date", "brand", "percent_off", "label", "active")
    actions = ("activate_selected", "deactivate_selected")

    @admin.display(description="off", ordering="percent_off")
    def percent(self, deal: BrandOfTheDay) -> str:
        return f"{deal.percent_off}%"

    @admin.display(description="today", boolean=True)
    def is_today(self, deal: BrandOfTheDay) -> bool:
        return deal.date == clock.local_today()


# --- Delivery fees ------------------------------------------------------------------------


@admin.register(DeliveryFeeRule)
class DeliveryFeeRuleAdmin(admin.ModelAdmin):
    """The rule without a city is the default for every city without its own."""

    list_display = ("city_name", "fee", "free_from", "label")
    list_select_related = ("city",)
    search_fields = ("city__name", "city__name_zh", "city__code")
    autocomplete_fields = ("city",)
    fields = ("city", "fee_fen", "free_from_fen", "label")

    @admin.display(description="city", ordering="city__name")
    def city_name(self, rule: DeliveryFeeRule) -> str:
        return rule.city.name if rule.city_id else "Default (cities without a rule)"

    @admin.display(description="fee", ordering="fee_fen")
    def fee(self, rule: DeliveryFeeRule) -> str:
        return format_yuan(rule.fee_fen)

    @admin.display(description="free from", ordering="free_from_fen")
    def free_from(self, rule: DeliveryFeeRule) -> str:
        return format_yuan(rule.free_from_fen)
