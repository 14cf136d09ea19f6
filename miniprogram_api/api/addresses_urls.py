"""Delivery addresses, under ``/api/v1/``."""

from django.urls import path

from . import addresses_views

urlpatterns = [
    path("addresses", addresses_views.AddressListView.as_view(), name="address-list"),
    path("addresses/<int:address_id>", addresses_views.AddressDetailView.as_view(), name="address-detail"),
]
