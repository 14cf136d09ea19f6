"""Coupon offers and the shopper's coupons, under ``/api/v1/``."""

from django.urls import path

from . import coupons_views

urlpatterns = [
    path("coupon-offers", coupons_views.CouponOfferListView.as_view(), name="coupon-offer-list"),
    path("coupon-offers/<int:offer_id>/claim", coupons_views.CouponOfferClaimView.as_view(), name="coupon-offer-claim"),
    path("coupons", coupons_views.CouponListView.as_view(), name="coupon-list"),
]
