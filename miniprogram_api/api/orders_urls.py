from django.urls import path

from . import orders_views

urlpatterns = [
    path("baskets/<int:basket_id>/checkout", orders_views.BasketCheckoutView.as_view(), name="basket-checkout"),
    path("orders", orders_views.OrderListView.as_view(), name="order-list"),
    path("orders/<int:order_id>", orders_views.OrderDetailView.as_view(), name="order-detail"),
]
