"""The after-payment outbox: one row per paid order, written in the transaction that marks
it paid, until everything that must follow the payment has been done.

The row, not the Celery message, is the record that the work is due: a message can be lost
(the broker down at commit, a worker killed holding it), the row cannot, since it commits or
rolls back with the payment itself. ``checkout.after_payment_jobs`` runs and re-drives it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class AfterPaymentJob(models.Model):
    """The order's after-payment work (stock, exit pass, bonuses, pack, "paid" message).

    ``leased_until`` is set by whoever runs it (the ``order_paid`` task or the redrive):
    no one else takes it before then; a runner that died leaves a lease that runs out. After
    a failure it is also when the next attempt may start. ``done_at`` is set once every
    step returned; ``last_error`` keeps the last failure for staff.
    """

    order = models.OneToOneField("checkout.Order", on_delete=models.CASCADE, related_name="after_payment_job")
    created_at = models.DateTimeField(help_text="When the order was marked paid (the same transaction).")
    attempts = models.PositiveIntegerField(default=0, help_text="Runs started, by the task or the redrive.")
    leased_until = models.DateTimeField(
        null=True, blank=True, help_text="Held by a runner (or waiting after a failure) until then."
    )
    done_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], condition=Q(done_at__isnull=True), name="after_payment_job_due")]

    def __str__(self) -> str:
        return f"After payment of order {self.order_id} ({'done' if self.done_at else 'due'})"
