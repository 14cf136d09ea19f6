"""Catalogue deals, under ``/api/v1/``."""

from django.urls import path

from . import deals_views

urlpatterns = [
    path("flash-sales", deals_views.FlashSalesView.as_view(), name="flash-sales"),
    path("brand-of-the-day", deals_views.BrandOfTheDayView.as_view(), name="brand-of-the-day"),
]
