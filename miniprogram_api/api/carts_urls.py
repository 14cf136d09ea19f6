"""Delivery carts, under ``/api/v1/``."""

from django.urls import path

from . import carts_views

urlpatterns = [
    path("cart", carts_views.CartView.as_view(), name="cart"),
    path("cart/lines", carts_views.CartLinesView.as_view(), name="cart-lines"),
    path("cart/lines/<int:line_id>", carts_views.CartLineView.as_view(), name="cart-line"),
]
