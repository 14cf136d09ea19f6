"""Checkout's Celery tasks: small, idempotent, each a thin wrapper over a service."""

from __future__ import annotations

from celery import shared_task

from . import after_payment, baskets, fulfilment, notifications, payment_jobs


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
    after_payment.announce_online_order(order_id=order_id)


@shared_task(name="checkout.tasks.redrive_after_payment")
def redrive_after_payment(batch_size: int = 100) -> int:
    """Periodic: the after-payment work of paid orders whose task was lost."""
    return after_payment.redrive(batch_size=batch_size)


@shared_task(name="checkout.tasks.send_notification", acks_late=True)
def send_notification(notification_id: int) -> str:
    """Enqueued (on commit) by ``notifications.notify``: send the WeChat message once;
    WeChat busy or unreachable, a new message tries again after a backoff (the attempts
    are bounded by ``notifications``). A new message rather than ``self.retry``: the
    outcome is recorded on the row, so the task itself ends normally either way."""
    attempt = notifications.deliver(notification_id=notification_id)
    if attempt.outcome == "retry":
        send_notification.apply_async((notification_id,), countdown=attempt.retry_in)
    return attempt.outcome


@shared_task(name="checkout.tasks.redrive_notifications")
def redrive_notifications(batch_size: int = 100) -> int:
    """Periodic: send the notifications whose task was lost."""
    return notifications.redrive(batch_size=batch_size)


@shared_task(name="checkout.tasks.build_pick_lists", acks_late=True)
def build_pick_lists(batch_size: int = fulfilment.PICK_LIST_BATCH_SIZE) -> int:
    """Periodic: after each city's cut-off, put tomorrow's paid shipments on pick lists."""
    return fulfilment.build_pick_lists(batch_size=batch_size)


@shared_task(name="checkout.tasks.dispatch_due_shipments", acks_late=True)
def dispatch_due_shipments(batch_size: int = fulfilment.DISPATCH_BATCH_SIZE) -> int:
    """Periodic: dispatch the shipments whose slot starts within the lead time. A
    redelivered message finds them dispatched already and dispatches nothing."""
    return fulfilment.dispatch_due_shipments(batch_size=batch_size)
