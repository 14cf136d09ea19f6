"""Delivery slots and cart checkout, under ``/api/v1/``."""

from django.urls import path

from . import delivery_views

urlpatterns = [
    path("delivery/slots", delivery_views.DeliverySlotsView.as_view(), name="delivery-slots"),
    path("cart/checkout", delivery_views.CartCheckoutView.as_view(), name="cart-checkout"),
]
