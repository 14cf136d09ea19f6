"""The demo pages, under ``/demo/`` (mounted only when the sandbox is on)."""

from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("", views.shopper, name="shopper"),
    path("gate", views.gate, name="gate"),
]
