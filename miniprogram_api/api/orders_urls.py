from django.urls import path

from . import orders_views

urlpatterns = [
    path("baskets/<int:basket_id>/checkout", orders_views.BasketCheckoutView.as_view(), name="basket-checkout"),
    path("orders", orders_views.OrderListView.as_view(), name="order-list"),
    path("orders/<int:order_id>", orders_views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<int:order_id>/exit-pass", orders_views.ExitPassView.as_view(), name="order-exit-pass"),
    path("orders/<int:order_id>/exit-pass.png", orders_views.ExitPassImageView.as_view(), name="order-exit-pass-png"),
]
