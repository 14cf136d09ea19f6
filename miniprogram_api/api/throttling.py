"""Throttles backed by the cache (Redis in production, so every process shares counts).

When Redis is down the cache ignores the error (``IGNORE_EXCEPTIONS`` in settings): reads
find nothing and writes are dropped, so throttles let requests through rather than fail
them. A shopper at the till matters more than a rate limit for the minutes of an outage.
"""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class LoginThrottle(AnonRateThrottle):
    """Per client IP: logins come before there is a customer to count by."""

    scope = "login"


class LookupThrottle(UserRateThrottle):
    """Per shopper: catalogue and barcode lookups, and scans into a basket.

    A fixed-window counter rather than DRF's sliding log: one counter per shopper per
    window (``rate``'s period, aligned to the epoch), moved with one atomic increment
    (Redis ``INCRBY``) per request, where the log reads and rewrites a pickled list of up
    to ``rate`` timestamps twice per request. It is hot (every scan passes it) and needs
    no precision: it stops a runaway client, not a shopper scanning fast. A burst straddling
    a window boundary may get up to twice the rate through; a throttled request waits for
    the next window (``wait``, which becomes the Retry-After).
    """

    scope = "lookup"

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        count = self._count(f"{key}_{window}")
        return count is None or count <= self.num_requests

    def _count(self, key: str) -> int | None:
        """This request's number in its window: an atomic increment of the window's counter;
        None when the cache is down (django-redis answers None to an ignored error)."""
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter just expired)
            if self.cache.add(key, 1, timeout=self.duration):
                return 1
            return self.cache.incr(key)  # another process added it first

    def wait(self) -> float:
        return self.window_ends_at - self.now
