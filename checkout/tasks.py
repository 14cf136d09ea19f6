"""Checkout's Celery tasks: small, idempotent, each a thin wrapper over a service.

Every task is acknowledged late (``CELERY_TASK_ACKS_LATE``; the tasks enqueued for one
object say so again), so a worker that dies mid-task leaves its message to be delivered
again. Each docstring says why a second run, or two at once, does nothing twice.
"""

from __future__ import annotations

from celery import shared_task

from . import after_payment_jobs, baskets, fulfilment, notifications, payment_jobs, refunds


@shared_task(name="checkout.tasks.expire_idle_baskets")
def expire_idle_baskets(batch_size: int = baskets.EXPIRY_BATCH_SIZE) -> int:
    """Periodic (``CELERY_BEAT_SCHEDULE``): expire open baskets idle past
    ``BASKET_IDLE_TIMEOUT``. Running it twice, or late, expires nothing twice."""
    return baskets.expire_idle_baskets(batch_size=batch_size)


@shared_task(name="checkout.tasks.close_expired_orders")
def close_expired_orders(batch_size: int = 100) -> int:
    """Periodic: close orders unpaid past their deadline, at the provider and here. Twice at
    once, each payment is leased by one run (``skip_locked``); run again, the order moves
    only by a conditional transition, so nothing is closed or given back twice."""
    return payment_jobs.close_expired_orders(batch_size=batch_size)


@shared_task(name="checkout.tasks.reconcile_pending_payments")
def reconcile_pending_payments(batch_size: int = 100) -> int:
    """Periodic: ask the provider about payments pending for minutes with no notification.
    Each payment is leased by one run; settling it again finds it paid (``already_paid``)."""
    return payment_jobs.reconcile_pending_payments(batch_size=batch_size)


@shared_task(name="checkout.tasks.order_paid", acks_late=True)
def order_paid(order_id: int) -> str:
    """Enqueued (on commit) when an order becomes paid: its after-payment work. The job row
    is claimed with a lease and marked done at the end, and each step claims its own work,
    so a second delivery finds it done (or held) and does nothing; what the message never
    did, the redrive does."""
    return after_payment_jobs.run(order_id=order_id)


@shared_task(name="checkout.tasks.redrive_after_payment", acks_late=True)
def redrive_after_payment(batch_size: int = 100) -> int:
    """Periodic: run the after-payment jobs their task did not finish (lost, failed, killed).
    Jobs are picked with ``skip_locked`` and leased, so two runs never take the same one; a
    full batch re-queues the task for the rest."""
    ran = after_payment_jobs.redrive(batch_size=batch_size)
    if ran == batch_size:
        redrive_after_payment.delay(batch_size)
    return ran


@shared_task(name="checkout.tasks.send_notification", acks_late=True)
def send_notification(notification_id: int) -> str:
    """Enqueued (on commit) by ``notifications.notify``: send the WeChat message once (the
    row is claimed by a conditional UPDATE; a second delivery finds it claimed or sent).
    WeChat busy or unreachable, a new message tries again after a backoff (the attempts
    are bounded by ``notifications``). A new message rather than ``self.retry``: the
    outcome is recorded on the row, so the task itself ends normally either way."""
    attempt = notifications.deliver(notification_id=notification_id)
    if attempt.outcome == "retry":
        send_notification.apply_async((notification_id,), countdown=attempt.retry_in)
    return attempt.outcome


@shared_task(name="checkout.tasks.redrive_notifications")
def redrive_notifications(batch_size: int = 100) -> int:
    """Periodic: send the notifications whose task was lost. Enqueuing one twice is
    harmless: ``send_notification`` claims the row before sending."""
    return notifications.redrive(batch_size=batch_size)


@shared_task(name="checkout.tasks.build_pick_lists", acks_late=True)
def build_pick_lists(batch_size: int = fulfilment.PICK_LIST_BATCH_SIZE) -> int:
    """Periodic: after each city's cut-off, put tomorrow's paid shipments on pick lists.
    Shipments are locked with ``skip_locked`` and moved only from ``awaiting_pick``, and a
    pick list is one per location, day and slot, so a second run adds nothing twice."""
    return fulfilment.build_pick_lists(batch_size=batch_size)


@shared_task(name="checkout.tasks.dispatch_due_shipments", acks_late=True)
def dispatch_due_shipments(batch_size: int = fulfilment.DISPATCH_BATCH_SIZE) -> int:
    """Periodic: dispatch the shipments whose slot starts within the lead time. A
    redelivered message finds them dispatched already and dispatches nothing."""
    return fulfilment.dispatch_due_shipments(batch_size=batch_size)


@shared_task(name="checkout.tasks.send_refund", acks_late=True)
def send_refund(refund_id: int) -> str:
    """Enqueued (on commit) for each WeChat Pay or Alipay refund a return writes. The
    refund's lease and its ``out_refund_no`` make a second run send nothing twice; a
    provider that did not answer is left to ``poll_refunds``."""
    return refunds.send_refund(refund_id=refund_id)


@shared_task(name="checkout.tasks.poll_refunds")
def poll_refunds(batch_size: int = 100) -> int:
    """Periodic: send pending refunds again and ask about processing ones. Each refund is
    leased by one run, and is sent again under the same ``out_refund_no``, which the
    provider answers with the same refund."""
    return refunds.poll_refunds(batch_size=batch_size)
