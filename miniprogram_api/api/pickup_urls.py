from django.urls import path

from . import pickup_views

urlpatterns = [
    path("orders/<int:order_id>/pickup-code", pickup_views.PickupCodeView.as_view(), name="order-pickup-code"),
    path(
        "orders/<int:order_id>/pickup-code.png",
        pickup_views.PickupCodeImageView.as_view(),
        name="order-pickup-code-png",
    ),
]
