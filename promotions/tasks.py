"""Promotions' Celery tasks: small, idempotent, each a thin wrapper over a service."""

from __future__ import annotations

from celery import shared_task

from . import coupons


@shared_task(name="promotions.tasks.expire_coupons")
def expire_coupons(batch_size: int = coupons.EXPIRY_BATCH_SIZE) -> int:
    """Periodic (``CELERY_BEAT_SCHEDULE``): mark available coupons past their end as
    expired, one batch per transaction. A full batch re-queues the task for the rest rather
    than sweeping a backlog in one long transaction; running it twice expires nothing twice."""
    done = coupons.expire_coupons(batch_size=batch_size)
    if done == batch_size:
        expire_coupons.delay(batch_size)
    return done
