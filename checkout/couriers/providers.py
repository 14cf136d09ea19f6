"""Which courier provider dispatches: ``COURIER_PROVIDER`` (``local`` unless set)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import CourierProvider


def get_courier_provider() -> CourierProvider:
    name = settings.COURIER_PROVIDER
    if name == "local":
        from .local import LocalCourierProvider

        return LocalCourierProvider()
    raise ImproperlyConfigured(f"unknown COURIER_PROVIDER {name!r}")
