"""Running a paid order's after-payment work at least once, and each step of it once.

``record`` writes the order's ``AfterPaymentJob`` in the transaction that marks it paid and
enqueues ``order_paid`` when that transaction commits. The message is only the fast path:
if the broker is down at that moment, the message is lost, or the worker dies holding it,
the row is still there, not done, and ``redrive`` (beat) runs it once it is
``AFTER_PAYMENT_REDRIVE_AFTER_SECONDS`` old, for every channel and kind of order.

A runner first claims the job with a conditional UPDATE that takes a lease
(``leased_until``) and counts the attempt, so the task, a redelivery of it and the redrive
never run one job at the same time; a runner that died leaves a lease that runs out. The
job is marked done only after every step returned. Each step also claims its own work (a
conditional update or a unique row, see ``after_payment``), so a job run again after a
crash between two steps, or after its lease ran out under a slow runner, does nothing
twice. A step that raises leaves its error on the row, and the job waits a backoff before
the redrive tries it again (never given up: the work is owed; staff see ``last_error``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from miniprogram_api.core import clock
from miniprogram_api.core.enqueue import delay_on_commit

from . import after_payment
from .after_payment_models import AfterPaymentJob
from .models import Order

logger = logging.getLogger(__name__)

Outcome = Literal["done", "already_done", "busy", "failed", "not_paid"]

# The steps, in ``after_payment``, in this order: stock first (the goods left the shelf),
# the pass the shopper waits for, what the shopper earned, then the "paid" message.
STEPS = (
    "commit_store_stock",
    "issue_exit_pass",
    "award_campaign_bonuses",
    "grant_new_customer_pack",
    "announce_online_order",
)
MAX_BACKOFF = dt.timedelta(hours=1)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.AFTER_PAYMENT_LEASE_SECONDS)


def redrive_after() -> dt.timedelta:
    return dt.timedelta(seconds=settings.AFTER_PAYMENT_REDRIVE_AFTER_SECONDS)


def record(*, order_id: int) -> None:
    """Note that the order's after-payment work is due, and enqueue it once this commits.

    Called inside the transaction that marks the order paid, so the job and the payment
    are written or rolled back together."""
    from .tasks import order_paid

    AfterPaymentJob.objects.get_or_create(order_id=order_id, defaults={"created_at": clock.now()})
    # The payment is recorded whatever happens to the message: a broker outage is logged
    # (not raised at whoever reported the payment) and the redrive runs the job.
    delay_on_commit(order_paid, order_id, redriven_by="redrive-after-payment")


def run(*, order_id: int) -> Outcome:
    """Do the order's after-payment work unless it is done or someone else is doing it (the
    ``order_paid`` task). An order paid before jobs were recorded gets its job here."""
    if not AfterPaymentJob.objects.filter(order_id=order_id).exists() and not _adopt(order_id):
        return "not_paid"
    now = clock.now()
    claimed = (
        AfterPaymentJob.objects.filter(order_id=order_id, done_at__isnull=True)
        .filter(_free(now))
        .update(leased_until=now + lease(), attempts=F("attempts") + 1)
    )
    if not claimed:
        done = AfterPaymentJob.objects.filter(order_id=order_id, done_at__isnull=False).exists()
        return "already_done" if done else "busy"
    return _work(order_id)


def redrive(*, batch_size: int = 100) -> int:
    """Periodic: run the jobs not done ``redrive_after()`` after payment and held by no one
    (their task was lost, failed or died); the number run. Rows are picked with
    ``select_for_update(skip_locked=True)`` and leased in that transaction, so redrives on
    several workers share the backlog instead of running a job twice; a batch must finish
    within the lease (each job takes milliseconds)."""
    now = clock.now()
    with transaction.atomic():
        due = list(
            AfterPaymentJob.objects.filter(done_at__isnull=True, created_at__lt=now - redrive_after())
            .filter(_free(now))
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("order_id", flat=True)[:batch_size]
        )
        AfterPaymentJob.objects.filter(order_id__in=due).update(leased_until=now + lease(), attempts=F("attempts") + 1)
    for order_id in due:
        _work(order_id)
    return len(due)


def _free(now: dt.datetime) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lte=now)


def _adopt(order_id: int) -> bool:
    if not Order.objects.filter(pk=order_id, state__in=after_payment.EVER_PAID_STATES).exists():
        return False
    try:
        with transaction.atomic():
            AfterPaymentJob.objects.create(order_id=order_id, created_at=clock.now())
    except IntegrityError:
        pass  # a concurrent runner adopted it
    return True


def _work(order_id: int) -> Outcome:
    """Run every step of a job this caller holds, then mark it done (or record the failure).
    Buying or topping up a gift card has no after-payment work (the card was issued with
    the payment): its job is only marked done."""
    kind = Order.objects.values_list("kind", flat=True).get(pk=order_id)
    try:
        if kind == Order.Kind.GOODS:
            for step in STEPS:
                getattr(after_payment, step)(order_id=order_id)
    except Exception as exc:
        logger.exception("order %s: after-payment work failed, will be retried", order_id)
        _failed(order_id, exc)
        return "failed"
    AfterPaymentJob.objects.filter(order_id=order_id, done_at__isnull=True).update(
        done_at=clock.now(), leased_until=None, last_error=""
    )
    return "done"


def _failed(order_id: int, exc: Exception) -> None:
    attempts = AfterPaymentJob.objects.values_list("attempts", flat=True).get(order_id=order_id)
    AfterPaymentJob.objects.filter(order_id=order_id, done_at__isnull=True).update(
        leased_until=clock.now() + backoff(attempts), last_error=f"{type(exc).__name__}: {exc}"[:500]
    )


def backoff(attempts: int) -> dt.timedelta:
    """How long a job that failed its ``attempts``-th run waits: 1, 2, 4 ... minutes, at most
    an hour."""
    return min(dt.timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)
