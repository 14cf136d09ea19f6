"""Throttles backed by the cache (Redis in production, so every process shares counts)."""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class LoginThrottle(AnonRateThrottle):
    """Per client IP: logins come before there is a customer to count by."""

    scope = "login"


class LookupThrottle(UserRateThrottle):
    """Per shopper: catalogue and barcode lookups."""

    scope = "lookup"
