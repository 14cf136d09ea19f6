"""Staff screens for exit gates, exit passes and the gate event log.

Gates are registered here (the secret is generated and shown once, in a message) and
switched off with an action. Passes and gate events are written only by the services and
the gates: staff read them, nothing more. The event log is append-only, so it has no add,
change or delete at all; a pending audit is an ``audit`` event without a resolution.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from miniprogram_api.core import clock
from miniprogram_api.core.money import format_yuan

from . import gates
from .models import ExitPass, Gate, GateEvent

# --- Gates --------------------------------------------------------------------------------


class GateAddForm(forms.ModelForm):
    class Meta:
        model = Gate
        fields = ("store", "name")

    def clean_store(self):
        store = self.cleaned_data["store"]
        if store.kind != store.Kind.STORE:
            raise forms.ValidationError("Gates stand at stores, not warehouses.")
        return store


@admin.register(Gate)
class GateAdmin(admin.ModelAdmin):
    list_display = ("name", "store", "key_id", "active", "last_seen_at", "created_at")
    list_filter = ("active", "store")
    list_select_related = ("store",)
    search_fields = ("name", "=key_id", "store__code", "store__name")
    ordering = ("store__code", "name")
    raw_id_fields = ("store",)
    actions = ("disable_selected",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = GateAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("store", "name")
        return ("store", "name", "key_id", "active", "created_at", "last_seen_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("store", "key_id", "created_at", "last_seen_at")

    def save_model(self, request, obj, form, change) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key_id, secret = gates.new_credential()
        obj.key_id, obj.secret_hash = key_id, gates.hash_secret(secret)
        super().save_model(request, obj, form, change)
        self.message_user(
            request,
            format_html(
                "Gate {} registered. Its secret is shown only now: put this header in the gate's configuration: "
                "<code>{}</code>",
                obj.name,
                gates.authorization_header(key_id, secret),
            ),
            messages.WARNING,
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # gate events point at gates; a gate ends by being disabled

    @admin.action(description="Disable selected gates (their credential stops working)", permissions=["change"])
    def disable_selected(self, request, queryset) -> None:
        count = gates.disable_gates(gate_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"Disabled {count} gate(s).", messages.SUCCESS)


# --- Exit passes --------------------------------------------------------------------------


class UsedFilter(admin.SimpleListFilter):
    title = "used"
    parameter_name = "used"

    def lookups(self, request, model_admin):
        return (("yes", "Used"), ("no", "Not used"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(used_at__isnull=self.value() == "no")
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return (("yes", "Expired"), ("no", "Not expired"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=clock.now())
        if self.value() == "no":
            return queryset.filter(expires_at__gt=clock.now())
        return queryset


class GateEventInline(admin.TabularInline):
    model = GateEvent
    fk_name = "exit_pass"
    extra = 0
    can_delete = False
    fields = ("occurred_at", "gate", "decision", "reason", "offline", "resolves", "data")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("gate")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record written only by the services: staff look, nobody edits or deletes."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ExitPass)
class ExitPassAdmin(ReadOnlyAdmin):
    """The token itself is left out: it is the shopper's permission to leave."""

    list_display = ("id", "order", "store", "total", "item_count", "audit", "issued_at", "expires_at", "used_at",
                    "used_gate", "superseded_at")  # fmt: skip
    list_filter = (UsedFilter, ExpiredFilter, "audit", "store")
    list_select_related = ("order", "store", "used_gate")
    search_fields = ("=order__number",)
    date_hierarchy = "issued_at"
    fields = ("order", "store", "key_id", "item_count", "total_fen", "audit", "audit_reasons", "age_restricted_items",
              "issued_at", "expires_at", "superseded_at", "used_at", "used_gate")  # fmt: skip
    readonly_fields = fields
    inlines = (GateEventInline,)

    @admin.display(description="total", ordering="total_fen")
    def total(self, exit_pass: ExitPass) -> str:
        return format_yuan(exit_pass.total_fen)


# --- Gate events --------------------------------------------------------------------------


class PendingAuditFilter(admin.SimpleListFilter):
    title = "audit"
    parameter_name = "audit"

    def lookups(self, request, model_admin):
        return (("pending", "Pending"), ("resolved", "Resolved"))

    def queryset(self, request, queryset):
        if self.value() in ("pending", "resolved"):
            return queryset.filter(decision=GateEvent.Decision.AUDIT, resolution__isnull=self.value() == "pending")
        return queryset


@admin.register(GateEvent)
class GateEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "decision", "reason", "gate", "store", "order", "offline", "resolves_link")
    list_filter = ("decision", PendingAuditFilter, ("gate__store", admin.RelatedOnlyFieldListFilter), "gate",
                   "offline", "reason")  # fmt: skip
    list_select_related = ("gate__store", "exit_pass__order")
    search_fields = ("=exit_pass__order__number",)
    date_hierarchy = "occurred_at"
    fields = ("occurred_at", "recorded_at", "gate", "decision", "reason", "exit_pass", "offline", "resolves", "data")
    readonly_fields = fields

    @admin.display(description="store", ordering="gate__store__code")
    def store(self, event: GateEvent) -> str:
        return event.gate.store.code

    @admin.display(description="order")
    def order(self, event: GateEvent) -> str:
        return event.exit_pass.order.number if event.exit_pass_id else ""

    @admin.display(description="resolves")
    def resolves_link(self, event: GateEvent) -> str:
        return f"audit {event.resolves_id}" if event.resolves_id else ""
