"""Staff screens for returns and refunds.

Returns are made by shoppers (the API) and change only through the services: staff mark
the goods received (the service desk in store, the warehouse or store for delivery),
which puts them back in stock once, and send a failed or stuck refund again under its
own ``out_refund_no`` (so it can never be paid twice). Nothing else is editable.
"""

from __future__ import annotations

from django.contrib import admin, messages

from miniprogram_api.core.money import format_yuan

from . import refunds, returns
from .admin_records import RecordAdmin
from .returns_models import Refund, Return, ReturnLine


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReturnLineInline(_ReadOnlyInline):
    model = ReturnLine
    fields = ("order_line", "sku", "name", "quantity", "refund_fen")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line")

    @admin.display(description="sku")
    def sku(self, line: ReturnLine) -> str:
        return line.order_line.sku

    @admin.display(description="name")
    def name(self, line: ReturnLine) -> str:
        return line.order_line.name


class RefundInline(_ReadOnlyInline):
    model = Refund
    fk_name = "return_request"
    fields = ("tender", "out_refund_no", "amount_fen", "state", "gift_card", "payment", "failure_code", "data",
              "last_attempt_at", "succeeded_at")  # fmt: skip
    readonly_fields = fields


@admin.register(Return)
class ReturnAdmin(RecordAdmin):
    list_display = ("number", "order", "customer", "amount", "full", "refund_state", "goods_state", "created_at")
    list_filter = ("refund_state", "goods_state", "full", "order__channel", "created_at")
    list_select_related = ("order", "customer")
    search_fields = ("=number", "order__number", "customer__username", "customer__nickname", "customer__phone")
    date_hierarchy = "created_at"
    raw_id_fields = ("order", "customer")
    inlines = (ReturnLineInline, RefundInline)
    actions = ("mark_goods_received",)

    @admin.display(description="amount", ordering="amount_fen")
    def amount(self, return_request: Return) -> str:
        return format_yuan(return_request.amount_fen)

    @admin.action(description="Goods received (back in stock)", permissions=["change"])
    def mark_goods_received(self, request, queryset) -> None:
        """Each return once: one received before (by anyone) is left as it is."""
        staff = request.user.get_username()
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        received = sum(returns.receive_goods(return_id=return_id, staff=staff) for return_id in ids)
        skipped = len(ids) - received
        self.message_user(request, f"{received} return(s) received and back in stock.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} had been received before; nothing changed.", messages.WARNING)


@admin.register(Refund)
class RefundAdmin(RecordAdmin):
    list_display = ("out_refund_no", "tender", "state", "amount", "order", "return_request", "created_at",
                    "succeeded_at")  # fmt: skip
    list_filter = ("state", "tender", "created_at")
    list_select_related = ("order", "return_request")
    search_fields = ("=out_refund_no", "provider_refund_id", "order__number", "return_request__number")
    date_hierarchy = "created_at"
    raw_id_fields = ("order", "return_request", "payment", "gift_card")
    actions = ("retry_selected",)

    @admin.display(description="amount", ordering="amount_fen")
    def amount(self, refund: Refund) -> str:
        return format_yuan(refund.amount_fen)

    @admin.action(description="Send failed or pending refunds again", permissions=["change"])
    def retry_selected(self, request, queryset) -> None:
        """Same ``out_refund_no``: the provider pays a refund once however often it is asked."""
        staff = request.user.get_username()
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        retried = sum(refunds.retry_refund(refund_id=refund_id, staff=staff) for refund_id in ids)
        self.message_user(request, f"{retried} refund(s) sent again.", messages.SUCCESS)
        if len(ids) > retried:
            self.message_user(
                request,
                "Succeeded, processing and gift-card refunds are not sent again.",
                messages.WARNING,
            )
