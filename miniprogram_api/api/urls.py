"""``/api/v1/``: one urls module per domain, gathered here."""

from django.urls import include, path

from . import auth_views

urlpatterns = [
    # First the busiest route: every scan in every store (Django tries the patterns in order).
    path("", include("miniprogram_api.api.baskets_urls")),
    path("auth/wechat-login", auth_views.WeChatLoginView.as_view(), name="wechat-login"),
    path("auth/logout", auth_views.LogoutView.as_view(), name="logout"),
    path("me", auth_views.MeView.as_view(), name="me"),
    path("", include("miniprogram_api.api.stores_urls")),
    path("", include("miniprogram_api.api.orders_urls")),
    path("", include("miniprogram_api.api.coupons_urls")),
    path("", include("miniprogram_api.api.raffles_urls")),
    path("", include("miniprogram_api.api.deals_urls")),
    path("", include("miniprogram_api.api.campaigns_urls")),
    path("", include("miniprogram_api.api.addresses_urls")),
    path("", include("miniprogram_api.api.carts_urls")),
    path("", include("miniprogram_api.api.delivery_urls")),
    path("", include("miniprogram_api.api.pickup_urls")),
    path("", include("miniprogram_api.api.gift_cards_urls")),
    path("", include("miniprogram_api.api.returns_urls")),
]
