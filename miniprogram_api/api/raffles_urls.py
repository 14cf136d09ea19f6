"""The raffle, under ``/api/v1/``."""

from django.urls import path

from . import raffles_views

urlpatterns = [
    path("raffles", raffles_views.RaffleListView.as_view(), name="raffle-list"),
    path("raffles/<int:raffle_id>/enter", raffles_views.RaffleEnterView.as_view(), name="raffle-enter"),
]
