"""``/api/gate/v1/``: the exit gate devices' API (gate credentials, not shopper tokens)."""

from django.urls import path

from . import gate_offline_views, gate_views

urlpatterns = [
    path("verify", gate_views.VerifyView.as_view(), name="gate-verify"),
    path("audits/<int:audit_id>/resolve", gate_views.ResolveAuditView.as_view(), name="gate-audit-resolve"),
    path("keys", gate_offline_views.GateKeysView.as_view(), name="gate-keys"),
    path("offline-events", gate_offline_views.OfflineEventsView.as_view(), name="gate-offline-events"),
]
