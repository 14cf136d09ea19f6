"""The courier provider of the local run and the tests: no network, no rider.

It numbers waybills itself, from the request's reference, so asking twice for one
reference gives one waybill (as a real provider's idempotent create does), and it keeps
what it was asked (``sent``, ``cancelled``) so tests can read it. Deliveries it books are
driven by posting the webhook's events, signed with ``COURIER_WEBHOOK_SECRET``, as the
real provider would post them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque

from .base import DeliveryRequest

logger = logging.getLogger(__name__)

# Enough to read back in any test; bounded so a long-running local worker does not grow.
KEPT = 1000


class LocalCourierProvider:
    name = "local"

    sent: deque[DeliveryRequest] = deque(maxlen=KEPT)
    cancelled: deque[tuple[str, str]] = deque(maxlen=KEPT)
    _lock = threading.Lock()

    @staticmethod
    def tracking_no_for(reference: str) -> str:
        """``LC`` and 12 digits derived from the reference: stable and unguessable enough."""
        digest = int.from_bytes(hashlib.sha256(reference.encode()).digest()[:8], "big")
        return f"LC{digest % 10**12:012d}"

    def create_delivery(self, request: DeliveryRequest) -> str:
        tracking_no = self.tracking_no_for(request.reference)
        with self._lock:
            self.sent.append(request)
        logger.info(
            "local courier: %s booked for order %s (%s) with %s",
            tracking_no,
            request.order_number,
            request.reference,
            request.courier_ref or "any rider",
        )
        return tracking_no

    def cancel(self, *, tracking_no: str, reason: str) -> None:
        with self._lock:
            self.cancelled.append((tracking_no, reason))
        logger.info("local courier: %s cancelled (%s)", tracking_no, reason)

    @classmethod
    def forget(cls) -> None:
        """Tests start from an empty record."""
        with cls._lock:
            cls.sent.clear()
            cls.cancelled.clear()
