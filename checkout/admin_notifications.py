"""Staff screens for shopper notifications (WeChat subscribe messages): what was sent,
refused or failed and why. Rows are written by ``checkout.notifications`` only; staff may
send a failed one again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from .admin_records import RecordAdmin
from .delivery_models import Notification


@admin.register(Notification)
class NotificationAdmin(RecordAdmin):
    list_display = ("id", "order", "kind", "status", "attempts", "error", "created_at", "sent_at")
    list_filter = ("status", "kind", "created_at")
    list_select_related = ("order",)
    search_fields = ("=order__number",)
    raw_id_fields = ("order",)
    date_hierarchy = "created_at"
    actions = ("send_again",)

    @admin.action(description="Send the selected failed notifications again", permissions=["change"])
    def send_again(self, request, queryset) -> None:
        from .tasks import send_notification

        ids = list(queryset.filter(status=Notification.Status.FAILED).values_list("pk", flat=True))
        with transaction.atomic():
            Notification.objects.filter(pk__in=ids, status=Notification.Status.FAILED).update(
                status=Notification.Status.PENDING, attempts=0, attempted_at=None, error=""
            )
            for notification_id in ids:
                transaction.on_commit(lambda notification_id=notification_id: send_notification.delay(notification_id))
        self.message_user(request, f"{len(ids)} notifications queued to be sent again.", messages.SUCCESS)
