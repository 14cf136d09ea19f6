"""The after-payment work with real Celery workers on the real broker (Redis when REDIS_URL
is set, the filesystem broker of the local run otherwise), against the test database:
the same message delivered twice, the beat redrive after the message was never sent, and
(Redis and PostgreSQL only) a worker killed in the middle of the task.

Workers run in their own processes on the real clock, so nothing there is patched: the
task is made to block by a row lock this test holds, and the redrive is made quick by the
settings' environment variables.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from django.db import connection

from checkout import settlement, tasks
from checkout.models import AfterPaymentJob, ExitPass, Order, OrderEvent
from checkout.payments.base import TradeStatus
from miniprogram_api.celery import app as celery_app
from stores.models import Stock
from tests.celery_worker_process import WorkerProcess, database_url_of_the_test_database, queue_for_this_run
from tests.factories import CustomerFactory, LocationFactory, ProductFactory, StockFactory
from tests.orders import make_order

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
ORDER_PAID = "checkout.tasks.order_paid"


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    started: list[WorkerProcess] = []

    def start(*, beat: bool = False, env: dict[str, str] | None = None) -> WorkerProcess:
        worker = WorkerProcess(
            queue=queue_for_this_run(), beat_schedule=tmp_path / "beat-schedule" if beat else None, env=env
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def paid_order(monkeypatch) -> tuple[Order, Stock]:
    """An in-store order of 2 from a stock of 10, paid here while its own message got lost
    (this process runs tasks in place; the tests send the message to the worker themselves)."""
    store, product = LocationFactory(), ProductFactory(base_price_fen=5000)
    stock = StockFactory(location=store, product=product, on_hand=10)
    order = make_order(customer_id=CustomerFactory().pk, store_id=store.pk, items=[(product, 2, 5000)])
    with monkeypatch.context() as patch:
        patch.setattr(tasks.order_paid, "delay", lambda *args: None)
        status = TradeStatus(out_trade_no=order.number, state="paid", amount_fen=order.total_fen)
        settlement.apply_trade_status(provider="wechat_pay", status=status, source="notification")
    assert AfterPaymentJob.objects.get(order=order).done_at is None
    return order, stock


def send_order_paid(order: Order, worker: WorkerProcess, *, task_id: str, times: int = 1) -> None:
    celery_app.conf.task_always_eager = False
    try:
        for _ in range(times):
            tasks.order_paid.apply_async((order.pk,), task_id=task_id, queue=worker.queue)
    finally:
        celery_app.conf.task_always_eager = True


def work_done(order: Order, stock: Stock) -> tuple[int, int, int]:
    return (
        Stock.objects.get(pk=stock.pk).on_hand,
        OrderEvent.objects.filter(order=order, type="stock_committed").count(),
        ExitPass.objects.filter(order=order).count(),
    )


def test_the_order_paid_message_delivered_twice_does_the_work_once(start_worker, paid_order):
    order, stock = paid_order
    worker = start_worker()
    task_id = str(uuid.uuid4())

    # The same message twice, as a broker redelivers it after a worker lost it unacked.
    send_order_paid(order, worker, task_id=task_id, times=2)
    worker.wait_until(lambda: len(worker.results_of(ORDER_PAID, task_id)) == 2, what="both deliveries to run")

    assert worker.results_of(ORDER_PAID, task_id) == ["'done'", "'already_done'"]
    assert work_done(order, stock) == (8, 1, 1)
    assert AfterPaymentJob.objects.get(order=order).attempts == 1


def test_beat_redrives_the_work_whose_message_was_never_sent(start_worker, paid_order):
    order, stock = paid_order

    worker = start_worker(
        beat=True, env={"AFTER_PAYMENT_REDRIVE_EVERY_SECONDS": "1", "AFTER_PAYMENT_REDRIVE_AFTER_SECONDS": "1"}
    )
    worker.wait_until(
        lambda: AfterPaymentJob.objects.filter(order=order, done_at__isnull=False).exists(),
        what="the beat redrive to run the job",
    )

    assert work_done(order, stock) == (8, 1, 1)
    assert AfterPaymentJob.objects.get(order=order).attempts == 1


def _backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.redis  # the filesystem broker forgets a message once a worker took it
@pytest.mark.postgres  # the task is held mid-way by a row lock
def test_a_worker_killed_mid_task_leaves_its_message_to_a_new_worker_and_the_work_is_done_once(
    start_worker, paid_order
):
    order, stock = paid_order
    task_id = str(uuid.uuid4())
    # The stock row locked elsewhere: the task claims its job, then waits inside the stock step.
    locker = psycopg.connect(database_url_of_the_test_database())
    try:
        locker.execute("SELECT on_hand FROM stores_stock WHERE id = %s FOR UPDATE", [stock.pk])
        first = start_worker(env={"AFTER_PAYMENT_LEASE_SECONDS": "1"})
        send_order_paid(order, first, task_id=task_id)
        first.wait_until(lambda: _backends_waiting_for_a_lock() == 1, what="the task to block on the stock row")

        first.process.kill()  # SIGKILL: no warm shutdown, nothing acknowledged or handed back
        first.process.wait(timeout=10)
    finally:
        locker.rollback()
        locker.close()

    assert f"{ORDER_PAID}[{task_id}]" in first.output and not first.results_of(ORDER_PAID, task_id)
    assert work_done(order, stock) == (10, 0, 0)  # its stock step died with its transaction
    job = AfterPaymentJob.objects.get(order=order)
    assert (job.attempts, job.done_at) == (1, None)

    # Redis hands an unacknowledged message to another worker once the visibility timeout
    # has passed (an hour in production; a second here) and that worker restores it.
    time.sleep(1.5)
    second = start_worker(env={"CELERY_VISIBILITY_TIMEOUT": "1"})
    second.wait_until(lambda: second.results_of(ORDER_PAID, task_id), what="the message to be delivered again")

    assert second.results_of(ORDER_PAID, task_id) == ["'done'"]
    assert work_done(order, stock) == (8, 1, 1)
    job = AfterPaymentJob.objects.get(order=order)
    assert (job.attempts, job.done_at is not None) == (2, True)
