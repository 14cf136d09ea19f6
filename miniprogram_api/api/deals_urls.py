"""Placeholder: filled in by the promotions work."""

urlpatterns: list = []
