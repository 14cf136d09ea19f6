"""Gift cards, under ``/api/v1/``."""

from django.urls import path

from . import gift_cards_views

urlpatterns = [
    path("gift-cards", gift_cards_views.GiftCardListView.as_view(), name="gift-card-list"),
    path("gift-cards/denominations", gift_cards_views.GiftCardDenominationsView.as_view(), name="gift-card-amounts"),
    path("gift-cards/claim", gift_cards_views.GiftCardClaimView.as_view(), name="gift-card-claim"),
    path("gift-cards/<int:card_id>", gift_cards_views.GiftCardDetailView.as_view(), name="gift-card-detail"),
    path("gift-cards/<int:card_id>/top-up", gift_cards_views.GiftCardTopUpView.as_view(), name="gift-card-top-up"),
    path("gift-cards/<int:card_id>/share", gift_cards_views.GiftCardShareView.as_view(), name="gift-card-share"),
]
