"""Enqueueing a Celery task once the caller's transaction commits, without making a broker
outage the caller's failure.

Every task enqueued this way is a fast path: its work is recorded in a row first, and a
periodic job does it if the message never comes (``redrive-notifications``, ``poll-refunds``,
``redrive-after-payment``). When the broker is down at commit time the data is already
committed, so raising would only turn a request that succeeded into a 500 (and the
client's retry into a conflict). The failure is logged and the periodic job catches up.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def delay_on_commit(task: Any, *args: Any, redriven_by: str) -> None:
    """``task.delay(*args)`` after the commit; a failed publish is logged, naming the
    periodic job (``redriven_by``) that will do the work instead."""

    def enqueue() -> None:
        try:
            task.delay(*args)
        except BrokerUnavailable:  # what Celery raises for any broker connection failure
            logger.warning("could not enqueue %s%r; %s will do it", task.name, args, redriven_by, exc_info=True)

    transaction.on_commit(enqueue)
