"""Throttles backed by the cache (Redis in production, so every process shares counts).

When Redis is down the cache ignores the error (``IGNORE_EXCEPTIONS`` in settings), and
so does the lookup throttle's own Redis call: reads find nothing and writes are dropped, so
throttles let requests through rather than fail them. A shopper at the till matters more
than a rate limit for the minutes of an outage.
"""

import logging

from django.core.cache import caches
from django_redis.cache import RedisCache
from redis.exceptions import RedisError
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class LoginThrottle(AnonRateThrottle):
    """Per client IP: logins come before there is a customer to count by."""

    scope = "login"


class LookupThrottle(UserRateThrottle):
    """Per shopper: catalogue and barcode lookups, and scans into a basket.

    A fixed-window counter rather than DRF's sliding log: one counter per shopper per
    window (``rate``'s period, aligned to the epoch), moved with one atomic increment
    (Redis ``INCR``, one round trip) per request, where the log reads and rewrites a
    pickled list of up to ``rate`` timestamps twice per request. It is hot (every scan
    passes it) and needs no precision: it stops a runaway client, not a shopper scanning
    fast. A burst straddling a window boundary may get up to twice the rate through; a
    throttled request waits for the next window (``wait``, which becomes the Retry-After).
    """

    scope = "lookup"

    @property
    def cache(self):
        """The cache itself, not DRF's proxy of it, which hides which backend it is."""
        return caches["default"]

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
        None when the cache is down."""
        if isinstance(self.cache, RedisCache):
            return self._count_in_redis(key)
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's first request (or its counter just expired)
            if self.cache.add(key, 1, timeout=self.duration):
                return 1
            return self.cache.incr(key)  # another process added it first

    def _count_in_redis(self, key: str) -> int | None:
        """``INCR`` and ``EXPIRE`` in one round trip, whatever the request's place in its window.

        Through the cache API a window's first request took two round trips (django-redis's
        ``incr`` is a Lua script that refuses a missing key, then ``add``), and a shopper
        scanning twice a minute sends mostly first requests. Each window has a key of its
        own, so giving it the window's length to live again on every request only keeps a
        busy window's key a little longer. Redis down or frozen: the error is logged and the
        request let through, as the cache's ``IGNORE_EXCEPTIONS`` does for every other call
        (the connection pool's socket timeouts bound the wait).
        """
        try:
            name = self.cache.client.make_key(key)
            pipe = self.cache.client.get_client(write=True).pipeline(transaction=False)
            pipe.incr(name)
            pipe.expire(name, self.duration)
            count, _ = pipe.execute()
        except RedisError:
            logger.warning("Throttle not counted: Redis did not answer", exc_info=True)
            return None
        return count

    def wait(self) -> float:
        return self.window_ends_at - self.now
