"""Staff screens for orders and payments.

Orders change only through the services (payments, timeouts, refunds), so staff read them
here: lines, payments and the append-only event log inline, nothing editable.
"""

from __future__ import annotations

from django.contrib import admin

from miniprogram_api.core.money import format_yuan

from .admin_delivery import OrderDeliveryAdminMixin, ShipmentInline
from .admin_pickup import PickupHandoverAdminMixin
from .admin_records import RecordAdmin
from .models import Order, OrderEvent, OrderLine, Payment


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "name", "kind", "barcode", "quantity", "weight_g", "unit_price_fen", "line_total_fen",
              "discount_fen", "age_restricted")  # fmt: skip
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("provider", "out_trade_no", "amount_fen", "state", "provider_trade_id", "created_at", "paid_at")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    """The append-only log: every state change with its source and data."""

    model = OrderEvent
    fields = ("created_at", "type", "from_state", "to_state", "data")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(PickupHandoverAdminMixin, OrderDeliveryAdminMixin, RecordAdmin):
    list_display = ("number", "customer", "channel", "store", "state", "total", "payment_method", "created_at")
    list_filter = ("state", "channel", "payment_method", "store__city", "created_at")
    list_select_related = ("customer", "store")
    search_fields = ("=number", "customer__username", "customer__nickname", "customer__phone", "payments__out_trade_no")
    date_hierarchy = "created_at"
    raw_id_fields = ("customer", "store", "basket")
    inlines = (OrderLineInline, ShipmentInline, PaymentInline, OrderEventInline)

    @admin.display(description="total", ordering="total_fen")
    def total(self, order: Order) -> str:
        return format_yuan(order.total_fen)


@admin.register(Payment)
class PaymentAdmin(RecordAdmin):
    list_display = ("out_trade_no", "provider", "state", "amount", "order", "created_at", "paid_at")
    list_filter = ("provider", "state", "created_at")
    list_select_related = ("order",)
    search_fields = ("=out_trade_no", "provider_trade_id", "order__number")
    raw_id_fields = ("order",)

    @admin.display(description="amount", ordering="amount_fen")
    def amount(self, payment: Payment) -> str:
        return format_yuan(payment.amount_fen)
