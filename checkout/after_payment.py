"""What happens once an order is paid, run by a Celery task enqueued on commit.

Each step is idempotent on its own (a conditional update claims it), so the task may run
twice — a redelivered message, a retry — and still do its work once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from miniprogram_api.core import clock
from stores.models import Stock

from . import exitpass, order_states
from .models import Order, OrderLine


def commit_store_stock(*, order_id: int) -> bool:
    """Take what a paid in-store order sold out of the store's stock; False if done before.

    Units for packaged goods, grams for weighed ones (how their stock is kept). The shelf
    already lost the goods, so book stock follows even where it was wrong: it is clamped
    at what is reserved for other orders rather than refusing the sale. Rows are locked in
    product order, as every stock writer does, so two orders never deadlock.
    """
    with transaction.atomic():
        claimed = Order.objects.filter(
            pk=order_id, state=Order.State.PAID, channel=Order.Channel.IN_STORE, stock_committed_at__isnull=True
        ).update(stock_committed_at=clock.now())
        if not claimed:
            return False
        order = Order.objects.only("store_id").get(pk=order_id)
        sold: dict[int, int] = defaultdict(int)
        for line in OrderLine.objects.filter(order_id=order_id).only("product_id", "quantity", "weight_g"):
            sold[line.product_id] += line.weight_g if line.weight_g else line.quantity
        for product_id in sorted(sold):
            Stock.objects.filter(location_id=order.store_id, product_id=product_id).update(
                on_hand=Greatest(F("on_hand") - sold[product_id], F("reserved"))
            )
        order_states.record_event(order_id=order_id, event="stock_committed", data={"lines": len(sold)})
    return True


def issue_exit_pass(*, order_id: int) -> bool:
    """Have the pass ready before the shopper walks to the gate (the shopper's own request
    would issue it too, so this only saves them a wait); False for other channels."""
    if not Order.objects.filter(pk=order_id, channel=Order.Channel.IN_STORE, state=Order.State.PAID).exists():
        return False
    exitpass.issue_exit_pass(order_id=order_id)
    return True


def redrive(*, older_than: dt.timedelta = dt.timedelta(minutes=2), batch_size: int = 100) -> int:
    """Run the after-payment work of paid orders it never reached.

    The task is enqueued on commit; if the broker was down at that moment, or the worker
    died holding it, the work would be lost. This periodic sweep finds paid in-store
    orders whose stock was never committed and does it (each step claims its own work, so
    running alongside a late task does nothing twice).
    """
    due = Order.objects.filter(
        state=Order.State.PAID,
        channel=Order.Channel.IN_STORE,
        stock_committed_at__isnull=True,
        paid_at__lt=clock.now() - older_than,
    ).order_by("pk")
    done = 0
    for order_id in due.values_list("pk", flat=True)[:batch_size]:
        done += commit_store_stock(order_id=order_id)
        issue_exit_pass(order_id=order_id)
    return done
