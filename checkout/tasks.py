"""Checkout's Celery tasks: small, idempotent, each a thin wrapper over a service."""

from __future__ import annotations

from celery import shared_task

from . import after_payment, baskets, payment_jobs


@shared_task(name="checkout.tasks.expire_idle_baskets")
def expire_idle_baskets(batch_size: int = baskets.EXPIRY_BATCH_SIZE) -> int:
    """Periodic (``CELERY_BEAT_SCHEDULE``): expire open baskets idle past
    ``BASKET_IDLE_TIMEOUT``. Running it twice, or late, expires nothing twice."""
    return baskets.expire_idle_baskets(batch_size=batch_size)


@shared_task(name="checkout.tasks.close_expired_orders")
def close_expired_orders(batch_size: int = 100) -> int:
    """Periodic: close orders unpaid past their deadline, at the provider and here."""
    return payment_jobs.close_expired_orders(batch_size=batch_size)


@shared_task(name="checkout.tasks.reconcile_pending_payments")
def reconcile_pending_payments(batch_size: int = 100) -> int:
    """Periodic: ask the provider about payments pending for minutes with no notification."""
    return payment_jobs.reconcile_pending_payments(batch_size=batch_size)


@shared_task(name="checkout.tasks.order_paid", acks_late=True)
def order_paid(order_id: int) -> None:
    """Enqueued (on commit) when an order becomes paid; each step runs once however often
    the task does."""
    after_payment.commit_store_stock(order_id=order_id)
    after_payment.issue_exit_pass(order_id=order_id)
    after_payment.award_campaign_bonuses(order_id=order_id)
    after_payment.grant_new_customer_pack(order_id=order_id)


@shared_task(name="checkout.tasks.redrive_after_payment")
def redrive_after_payment(batch_size: int = 100) -> int:
    """Periodic: the after-payment work of paid orders whose task was lost."""
    return after_payment.redrive(batch_size=batch_size)
