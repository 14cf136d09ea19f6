"""Staff screens for checkout: scan & pay baskets (orders and payments join them here).

Baskets are the shopper's own record of a trip, written only by the API: staff read them
(to answer "what did I scan?") and may expire an abandoned one, nothing more. Foreign keys
are raw ids and change lists join what they show, as in the stores admin.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from miniprogram_api.core.money import format_yuan

from . import (
    admin_after_payment,  # noqa: F401 - registers the after-payment job screen
    admin_couriers,  # noqa: F401 - registers the courier, pick list and courier event screens
    admin_delivery,  # noqa: F401 - registers the address, cart, slot capacity and shipment screens
    admin_gates,  # noqa: F401 - registers the gate, exit pass and gate event screens
    admin_notifications,  # noqa: F401 - registers the notification screen
    admin_orders,  # noqa: F401 - registers the order and payment screens
    admin_returns,  # noqa: F401 - registers the return and refund screens
)
from .models import Basket, BasketLine

# --- Baskets ------------------------------------------------------------------------------


class BasketLineInline(admin.TabularInline):
    model = BasketLine
    extra = 0
    can_delete = False
    fields = ("product", "kind", "barcode", "quantity", "weight_g", "label_price", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="label price")
    def label_price(self, line: BasketLine) -> str:
        return "" if line.label_price_fen is None else format_yuan(line.label_price_fen)


@admin.register(Basket)
class BasketAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "store", "status", "line_count", "created_at", "updated_at")
    list_filter = ("status", "store__city", "created_at")
    list_select_related = ("customer", "store")
    search_fields = ("=id", "customer__username", "customer__nickname", "customer__phone", "store__code")
    date_hierarchy = "created_at"
    ordering = ("-updated_at",)
    fields = ("customer", "store", "status", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (BasketLineInline,)
    actions = ("expire_selected",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(line_count=Count("lines"))

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders point at baskets; a basket ends by expiring, not by deletion

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, basket: Basket) -> int:
        return basket.line_count

    @admin.action(description="Expire selected open baskets", permissions=["change"])
    def expire_selected(self, request, queryset) -> None:
        """Only open ones: a frozen basket's order is being paid for. The status is the
        UPDATE's condition, so a basket frozen since the page loaded is left as it is."""
        count = queryset.filter(status=Basket.Status.OPEN).update(status=Basket.Status.EXPIRED)
        self.message_user(request, f"Expired {count} open basket(s).", messages.SUCCESS)
