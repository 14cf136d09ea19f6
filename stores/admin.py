"""Staff screens for cities, locations, the catalogue, prices and stock.

The catalogue is large (tens of thousands of products, hundreds of locations), so every
foreign key is an autocomplete or a raw id, never a <select> of every row, and change
lists join what they display.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models.functions import Length

from miniprogram_api.core.money import format_yuan

from .barcodes import FORMATS, InvalidBarcode, ProductCode, parse
from .models import Barcode, Brand, Category, City, Location, LocationPrice, Product, Stock


class BrandInUseFilter(admin.SimpleListFilter):
    """Brands with no active product left are the ones to tidy up or archive."""

    title = "active products"
    parameter_name = "in_use"

    def lookups(self, request, model_admin):
        return (("yes", "Has active products"), ("no", "No active products"))

    def queryset(self, request, queryset):
        in_use = Product.objects.filter(active=True).values("brand_id")
        if self.value() == "yes":
            return queryset.filter(pk__in=in_use)
        if self.value() == "no":
            return queryset.exclude(pk__in=in_use)
        return queryset


class BarcodeFormatFilter(admin.SimpleListFilter):
    """The printed form, told apart by its length."""

    title = "format"
    parameter_name = "format"

    def lookups(self, request, model_admin):
        return [(str(length), name) for length, name in FORMATS.items()]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.alias(code_length=Length("code")).filter(code_length=int(self.value()))
        return queryset


@admin.register(City)
class CityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_zh", "service_radius_km", "active")
    list_filter = ("active",)
    search_fields = ("code", "name", "name_zh")
    ordering = ("name",)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "city",
        "opens_at",
        "closes_at",
        "scan_and_go_enabled",
        "has_pickup_station",
        "active",
    )
    list_filter = ("city", "kind", "active", "scan_and_go_enabled", "has_pickup_station")
    list_select_related = ("city",)
    search_fields = ("code", "name", "address")
    autocomplete_fields = ("city",)
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "city", "active")}),
        ("Where", {"fields": ("address", "latitude", "longitude")}),
        ("Service", {"fields": ("opens_at", "closes_at", "scan_and_go_enabled", "has_pickup_station")}),
    )


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ("name", "name_zh")
    search_fields = ("name", "name_zh")
    list_filter = (BrandInUseFilter,)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "name_zh", "slug", "parent")
    list_filter = (("parent", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("parent",)
    search_fields = ("name", "name_zh", "slug")
    autocomplete_fields = ("parent",)
    prepopulated_fields = {"slug": ("name",)}


class BarcodeForm(forms.ModelForm):
    """Staff type the printed code; its check digit is verified and the GTIN derived, so a
    typo cannot become a barcode no scan will ever find."""

    class Meta:
        model = Barcode
        fields = ("product", "code")

    def clean_code(self) -> str:
        try:
            scanned = parse(self.cleaned_data["code"])
        except InvalidBarcode as exc:
            raise forms.ValidationError(exc.message) from None
        if not isinstance(scanned, ProductCode):
            raise forms.ValidationError("This is an in-store label code; set the product's PLU code instead.")
        if Barcode.objects.filter(gtin=scanned.gtin).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another product already has this barcode.")
        self.instance.gtin = scanned.gtin
        return scanned.printed


class BarcodeInline(admin.TabularInline):
    model = Barcode
    form = BarcodeForm
    extra = 0
    fields = ("code", "gtin")
    readonly_fields = ("gtin",)


class LocationPriceInline(admin.TabularInline):
    model = LocationPrice
    extra = 0
    autocomplete_fields = ("location",)


class StockInline(admin.TabularInline):
    model = Stock
    extra = 0
    autocomplete_fields = ("location",)
    fields = ("location", "on_hand", "reserved")
    # Reservations belong to unpaid and undispatched orders; staff restock, they do not
    # release promises by hand.
    readonly_fields = ("reserved",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = (
        "sku",
        "name",
        "brand",
        "category",
        "base_price",
        "sold_by_weight",
        "age_restricted",
        "launch_date",
        "active",
    )
    list_filter = (
        "active",
        "sold_by_weight",
        "age_restricted",
        "launch_date",
        ("category", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("brand", "category")
    search_fields = ("sku", "name", "=plu_code", "=barcodes__code", "brand__name")
    autocomplete_fields = ("brand", "category")
    date_hierarchy = "launch_date"
    readonly_fields = ("created_at",)
    inlines = (BarcodeInline, LocationPriceInline, StockInline)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # image CDNs are https

    @admin.display(description="base price", ordering="base_price_fen")
    def base_price(self, product: Product) -> str:
        suffix = " /kg" if product.sold_by_weight else ""
        return format_yuan(product.base_price_fen) + suffix


@admin.register(Barcode)
class BarcodeAdmin(admin.ModelAdmin):
    list_display = ("code", "gtin", "product")
    list_select_related = ("product",)
    list_filter = (BarcodeFormatFilter,)
    search_fields = ("=code", "=gtin", "product__sku", "product__name")
    raw_id_fields = ("product",)
    form = BarcodeForm
    fields = ("product", "code", "gtin")
    readonly_fields = ("gtin",)


@admin.register(LocationPrice)
class LocationPriceAdmin(admin.ModelAdmin):
    list_display = ("product", "location", "price", "base_price")
    list_select_related = ("product", "location")
    list_filter = ("location__city", "location__kind")
    search_fields = ("product__sku", "product__name", "location__code", "location__name")
    autocomplete_fields = ("location",)
    raw_id_fields = ("product",)

    @admin.display(description="price here", ordering="price_fen")
    def price(self, row: LocationPrice) -> str:
        return format_yuan(row.price_fen)

    @admin.display(description="base price")
    def base_price(self, row: LocationPrice) -> str:
        return format_yuan(row.product.base_price_fen)


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ("product", "location", "on_hand", "reserved", "available")
    list_select_related = ("product", "location")
    list_filter = ("location__city", "location__kind")
    search_fields = ("product__sku", "product__name", "location__code", "location__name")
    autocomplete_fields = ("location",)
    raw_id_fields = ("product",)
    readonly_fields = ("reserved",)

    @admin.display(description="available")
    def available(self, stock: Stock) -> int:
        return stock.available
