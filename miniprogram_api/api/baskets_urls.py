"""Scan & pay baskets, under ``/api/v1/``."""

from django.urls import path

from . import baskets_views

urlpatterns = [
    path("baskets", baskets_views.BasketOpenView.as_view(), name="basket-open"),
    path("baskets/<int:basket_id>", baskets_views.BasketDetailView.as_view(), name="basket-detail"),
    path("baskets/<int:basket_id>/scan", baskets_views.BasketScanView.as_view(), name="basket-scan"),
    path(
        "baskets/<int:basket_id>/lines/<int:line_id>",
        baskets_views.BasketLineView.as_view(),
        name="basket-line",
    ),
]
