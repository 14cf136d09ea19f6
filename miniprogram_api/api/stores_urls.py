"""Stores and the catalogue, under ``/api/v1/``."""

from django.urls import path

from . import stores_views

urlpatterns = [
    path("stores", stores_views.StoreListView.as_view(), name="store-list"),
    path("stores/<int:store_id>", stores_views.StoreDetailView.as_view(), name="store-detail"),
    path(
        "stores/<int:store_id>/products/lookup",
        stores_views.ProductLookupView.as_view(),
        name="store-product-lookup",
    ),
    path("products", stores_views.ProductListView.as_view(), name="product-list"),
    path("products/<int:product_id>", stores_views.ProductDetailView.as_view(), name="product-detail"),
]
