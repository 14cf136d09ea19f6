"""Staff screen for the after-payment outbox: which paid orders still have work due (a
job not done, with its attempts and last error) and which are done. Written only by
``checkout.after_payment_jobs``; staff may let a failing job be tried at the next redrive
instead of waiting for its backoff."""

from __future__ import annotations

from django.contrib import admin, messages

from .admin_records import RecordAdmin
from .after_payment_models import AfterPaymentJob


class DoneFilter(admin.SimpleListFilter):
    title = "done"
    parameter_name = "done"

    def lookups(self, request, model_admin):
        return (("no", "Not done"), ("yes", "Done"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(done_at__isnull=self.value() == "no")
        return queryset


@admin.register(AfterPaymentJob)
class AfterPaymentJobAdmin(RecordAdmin):
    list_display = ("order", "created_at", "attempts", "leased_until", "done_at", "last_error")
    list_filter = (DoneFilter, "created_at")
    list_select_related = ("order",)
    search_fields = ("=order__number",)
    raw_id_fields = ("order",)
    date_hierarchy = "created_at"
    actions = ("try_at_next_redrive",)

    @admin.action(description="Try the selected failing jobs at the next redrive", permissions=["change"])
    def try_at_next_redrive(self, request, queryset) -> None:
        # Jobs that failed: were one being retried at this moment, a second run alongside it
        # would find each step's work claimed.
        waiting = queryset.filter(done_at__isnull=True).exclude(last_error="")
        count = waiting.update(leased_until=None)
        self.message_user(request, f"{count} jobs will be tried at the next redrive.", messages.SUCCESS)
