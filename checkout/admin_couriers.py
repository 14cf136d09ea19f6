"""Staff screens for couriers, pick lists and what couriers reported.

Couriers are edited here (name, city, capacity per slot); pick lists and courier events are
written by the fulfilment jobs and the webhook, so staff read them.
"""

from __future__ import annotations

from django.contrib import admin

from .models import Courier, CourierEvent, PickList, Shipment


@admin.register(Courier)
class CourierAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "phone", "slot_capacity", "active")
    list_filter = ("active", "city")
    list_select_related = ("city",)
    search_fields = ("name", "phone", "provider_ref")


class PickListShipmentInline(admin.TabularInline):
    model = Shipment
    fields = ("order", "status", "courier", "tracking_no", "distance_m")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "courier")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PickList)
class PickListAdmin(ReadOnlyAdmin):
    list_display = ("location", "slot_date", "slot", "created_at")
    list_filter = ("slot_date", "slot", "location__city")
    list_select_related = ("location",)
    date_hierarchy = "slot_date"
    inlines = (PickListShipmentInline,)


@admin.register(CourierEvent)
class CourierEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "kind", "shipment", "occurred_at", "received_at")
    list_filter = ("kind",)
    search_fields = ("=event_id", "shipment__tracking_no")
    list_select_related = ("shipment",)
