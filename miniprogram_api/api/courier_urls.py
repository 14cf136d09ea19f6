"""``/api/couriers/v1/``: the courier provider's webhook (signed, no shopper token)."""

from django.urls import path

from . import courier_views

urlpatterns = [
    path("events", courier_views.CourierEventsView.as_view(), name="courier-events"),
]
