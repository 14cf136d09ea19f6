from django.urls import path

from . import returns_views

urlpatterns = [
    path("orders/<int:order_id>/returns", returns_views.OrderReturnsView.as_view(), name="order-returns"),
]
