"""The admin base for records the system writes and staff only read: orders, payments,
returns, refunds, notifications, after-payment jobs. Every field is read-only and nothing
is added or deleted by hand (history must stay as it happened); staff act through the
admin actions each screen offers, which call the same services the API does."""

from __future__ import annotations

from django.contrib import admin


class RecordAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + list(self.readonly_fields)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
