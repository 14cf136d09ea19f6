"""Festival campaigns, under ``/api/v1/``."""

from django.urls import path

from . import campaigns_views

urlpatterns = [
    path("campaigns/scan", campaigns_views.CampaignScanView.as_view(), name="campaign-scan"),
]
