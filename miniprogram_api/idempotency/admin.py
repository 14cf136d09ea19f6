from django.contrib import admin

from .models import IdempotencyRecord


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("key", "scope", "customer", "response_status", "created_at", "completed_at")
    search_fields = ("key", "scope", "customer__username")
    raw_id_fields = ("customer",)
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]
