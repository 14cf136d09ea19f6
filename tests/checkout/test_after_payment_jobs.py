"""No lost work after a payment: the after-payment job is written in the transaction that
marks the order paid, the task marks it done, and the redrive runs whatever the task did not
(broker down at commit, task failed, worker died) once it is a minute old. However the task
and the redrive interleave, each step is done once: stock leaves the shelf once, one exit
pass, one pack."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import transaction
from kombu.exceptions import OperationalError

from checkout import after_payment, after_payment_jobs, order_states, settlement, tasks
from checkout.models import AfterPaymentJob, ExitPass, Order, OrderEvent
from checkout.payments.base import TradeStatus
from miniprogram_api.celery import app as celery_app
from miniprogram_api.core import clock
from promotions.models import GiftCard, NewCustomerPackGrant
from stores.models import Stock
from tests.factories import CustomerFactory, LocationFactory, ProductFactory, StockFactory
from tests.orders import make_order
from tests.parallel import run_in_parallel
from tests.promotions.gift_card_setup import default_denominations
from tests.promotions.test_new_customer_pack import default_pack

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("checkout.migrations.0007_after_payment_jobs")
T0 = clock.now()


@pytest.fixture
def shop(db):
    """A store with 10 of a product in stock, the new-customer pack on offer, a new shopper."""
    default_pack()
    store = LocationFactory()
    product = ProductFactory(base_price_fen=5000)
    stock = StockFactory(location=store, product=product, on_hand=10)
    return store, product, stock, CustomerFactory()


def in_store_order(shop) -> Order:
    store, product, _, customer = shop
    return make_order(customer_id=customer.pk, store_id=store.pk, items=[(product, 2, 5000)])


def pay(order: Order) -> str:
    status = TradeStatus(out_trade_no=order.number, state="paid", amount_fen=order.total_fen)
    return settlement.apply_trade_status(provider="wechat_pay", status=status, source="notification").outcome


def at(moment: dt.datetime, monkeypatch) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


@pytest.fixture
def broker_down(monkeypatch) -> list[tuple]:
    """Publishing ``order_paid`` fails as it does with the broker unreachable at commit."""
    attempts: list[tuple] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.order_paid, "delay", refuse)
    monkeypatch.setattr(tasks.order_paid, "apply_async", refuse)
    return attempts


def work_done(order: Order, stock: Stock) -> tuple:
    """What the shopper and the store notice: stock, stock events, passes, packs."""
    return (
        Stock.objects.get(pk=stock.pk).on_hand,
        OrderEvent.objects.filter(order=order, type="stock_committed").count(),
        ExitPass.objects.filter(order=order).count(),
        NewCustomerPackGrant.objects.filter(order_id=order.pk).count(),
    )


NOTHING = (10, 0, 0, 0)
ONCE = (8, 1, 1, 1)


def job_of(order: Order) -> AfterPaymentJob:
    return AfterPaymentJob.objects.get(order=order)


# --- Recorded with the payment --------------------------------------------------------------


def test_paying_records_the_job_and_the_task_does_the_work_and_marks_it_done(
    shop, monkeypatch, django_capture_on_commit_callbacks
):
    at(T0, monkeypatch)
    order = in_store_order(shop)

    with django_capture_on_commit_callbacks(execute=True):
        assert pay(order) == "paid"

    job = job_of(order)
    assert (job.created_at, job.done_at, job.attempts, job.leased_until, job.last_error) == (T0, T0, 1, None, "")
    assert work_done(order, shop[2]) == ONCE


def test_a_payment_rolled_back_leaves_no_job_and_enqueues_nothing(shop, django_capture_on_commit_callbacks):
    order = in_store_order(shop)

    with django_capture_on_commit_callbacks() as enqueued, pytest.raises(RuntimeError), transaction.atomic():
        pay(order)
        raise RuntimeError("the caller failed after recording the payment")

    assert not AfterPaymentJob.objects.exists() and enqueued == []
    assert Order.objects.get(pk=order.pk).state == "pending_payment"
    assert work_done(order, shop[2]) == NOTHING


def test_an_order_paid_with_nothing_left_to_pay_gets_its_job_too(shop, django_capture_on_commit_callbacks):
    order = in_store_order(shop)

    with django_capture_on_commit_callbacks(execute=True):
        settlement.settle_without_payment(order_id=order.pk, basket_id=None, data={"source": "raffle"})

    assert job_of(order).done_at is not None
    assert work_done(order, shop[2]) == ONCE


# --- Lost on the way: the redrive -----------------------------------------------------------


def test_a_broker_outage_at_commit_loses_nothing_and_the_redrive_does_the_work_once(
    shop, monkeypatch, broker_down, django_capture_on_commit_callbacks
):
    at(T0, monkeypatch)
    order = in_store_order(shop)

    with django_capture_on_commit_callbacks(execute=True):
        assert pay(order) == "paid"  # the notification is answered: the payment is recorded

    assert broker_down == [(order.pk,)]
    assert Order.objects.get(pk=order.pk).state == "paid"
    assert job_of(order).done_at is None and work_done(order, shop[2]) == NOTHING
    at(T0 + after_payment_jobs.redrive_after() - dt.timedelta(seconds=1), monkeypatch)
    assert after_payment_jobs.redrive() == 0  # too recent: its task may still be on its way

    at(T0 + after_payment_jobs.redrive_after() + dt.timedelta(seconds=1), monkeypatch)
    assert after_payment_jobs.redrive() == 1
    assert after_payment_jobs.redrive() == 0

    assert work_done(order, shop[2]) == ONCE
    job = job_of(order)
    assert (job.attempts, job.leased_until, job.done_at is not None) == (1, None, True)
    monkeypatch.undo()  # the broker is back and the message turns up after all
    assert tasks.order_paid(order.pk) == "already_done"
    assert work_done(order, shop[2]) == ONCE and job_of(order).attempts == 1


def test_a_redrive_racing_a_late_task_does_nothing_twice(shop, monkeypatch, broker_down):
    at(T0, monkeypatch)
    order = in_store_order(shop)
    with transaction.atomic():
        pay(order)  # its on_commit never runs here: the message is lost
    at(T0 + dt.timedelta(minutes=2), monkeypatch)
    late_task: list[str] = []
    issue_pass = after_payment.issue_exit_pass

    def task_arrives_mid_redrive(*, order_id: int) -> bool:
        late_task.append(tasks.order_paid(order_id))  # the redrive has run the stock step
        return issue_pass(order_id=order_id)

    monkeypatch.setattr(after_payment, "issue_exit_pass", task_arrives_mid_redrive)

    assert after_payment_jobs.redrive() == 1

    assert late_task == ["busy"]
    assert tasks.order_paid(order.pk) == "already_done"
    assert work_done(order, shop[2]) == ONCE
    assert job_of(order).attempts == 1


def test_a_redrive_leaves_alone_a_job_its_task_is_running(shop, monkeypatch, broker_down):
    at(T0, monkeypatch)
    order = in_store_order(shop)
    with transaction.atomic():
        pay(order)
    slow_task_sees: list[int] = []
    grant_pack = after_payment.grant_new_customer_pack

    def redrive_while_the_task_runs(*, order_id: int) -> bool:
        at(T0 + after_payment_jobs.redrive_after() * 2, monkeypatch)  # a slow task, well within its lease
        slow_task_sees.append(after_payment_jobs.redrive())
        return grant_pack(order_id=order_id)

    monkeypatch.setattr(after_payment, "grant_new_customer_pack", redrive_while_the_task_runs)

    assert tasks.order_paid(order.pk) == "done"

    assert slow_task_sees == [0]
    assert after_payment_jobs.redrive() == 0
    assert work_done(order, shop[2]) == ONCE and job_of(order).attempts == 1


def test_a_job_whose_runner_died_mid_way_is_finished_once_its_lease_ran_out(shop, monkeypatch, broker_down):
    at(T0, monkeypatch)
    order = in_store_order(shop)
    with transaction.atomic():
        pay(order)
    # A worker claimed the job and committed the stock, then was killed before the pass.
    AfterPaymentJob.objects.filter(order=order).update(leased_until=T0 + after_payment_jobs.lease(), attempts=1)
    assert after_payment.commit_store_stock(order_id=order.pk)

    at(T0 + after_payment_jobs.lease() - dt.timedelta(seconds=1), monkeypatch)
    assert after_payment_jobs.redrive() == 0
    assert tasks.order_paid(order.pk) == "busy"  # a redelivered message waits for the lease too
    at(T0 + after_payment_jobs.lease(), monkeypatch)
    assert after_payment_jobs.redrive() == 1

    assert work_done(order, shop[2]) == ONCE
    assert job_of(order).attempts == 2 and job_of(order).done_at is not None


def test_a_failing_step_is_recorded_and_the_job_tried_again_after_a_backoff(shop, monkeypatch, broker_down):
    at(T0, monkeypatch)
    order = in_store_order(shop)
    with transaction.atomic():
        pay(order)
    grant_pack = after_payment.grant_new_customer_pack
    failures = iter([RuntimeError("coupon service hiccup")])

    def flaky(*, order_id: int) -> bool:
        if (error := next(failures, None)) is not None:
            raise error
        return grant_pack(order_id=order_id)

    monkeypatch.setattr(after_payment, "grant_new_customer_pack", flaky)
    first_try = T0 + dt.timedelta(minutes=2)
    at(first_try, monkeypatch)

    assert after_payment_jobs.redrive() == 1

    job = job_of(order)
    assert (job.done_at, job.attempts, job.last_error) == (None, 1, "RuntimeError: coupon service hiccup")
    assert job.leased_until == first_try + after_payment_jobs.backoff(1) == first_try + dt.timedelta(minutes=1)
    assert work_done(order, shop[2]) == (8, 1, 1, 0)  # the steps before it are done, and stay done
    at(first_try + dt.timedelta(seconds=59), monkeypatch)
    assert after_payment_jobs.redrive() == 0
    at(first_try + dt.timedelta(minutes=1), monkeypatch)
    assert after_payment_jobs.redrive() == 1

    job = job_of(order)
    assert (job.done_at is not None, job.attempts, job.last_error) == (True, 2, "")
    assert work_done(order, shop[2]) == ONCE


def test_backoff_doubles_up_to_an_hour():
    assert [after_payment_jobs.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 6, 7, 20)] == [1, 2, 4, 32, 60, 60]


# --- Every kind and channel ------------------------------------------------------------------


def test_a_gift_card_order_has_no_after_payment_work_but_its_job_is_done(monkeypatch, broker_down):
    default_denominations()
    shopper = CustomerFactory()
    monkeypatch.setattr("checkout.scan_and_pay.create_at_provider", lambda payment: {})
    from checkout import gift_card_orders

    order = gift_card_orders.buy_gift_card(customer_id=shopper.pk, amount_fen=10_000, payment_method="wechat_pay").order
    at(T0, monkeypatch)
    with transaction.atomic():
        pay(order)
    at(T0 + dt.timedelta(minutes=2), monkeypatch)

    assert after_payment_jobs.redrive() == 1

    assert job_of(order).done_at is not None
    assert GiftCard.objects.filter(owner=shopper).count() == 1  # issued with the payment, not again
    assert not ExitPass.objects.exists() and not NewCustomerPackGrant.objects.exists()


def test_a_delivery_order_lost_after_payment_gets_its_paid_message_from_the_redrive(
    shop, monkeypatch, broker_down, settings
):
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(after_payment.notifications, "notify", lambda order_id, kind: sent.append((order_id, kind)))
    order = in_store_order(shop)
    Order.objects.filter(pk=order.pk).update(channel=Order.Channel.DELIVERY, store=None)
    at(T0, monkeypatch)
    with transaction.atomic():
        pay(order)
    at(T0 + dt.timedelta(minutes=2), monkeypatch)

    assert after_payment_jobs.redrive() == 1
    assert after_payment_jobs.redrive() == 0

    assert sent == [(order.pk, "paid")]
    assert job_of(order).done_at is not None
    assert Stock.objects.get(pk=shop[2].pk).on_hand == 10  # an online order's stock moves with its shipments


def test_an_order_paid_before_jobs_were_recorded_is_adopted_by_its_task(shop):
    order = in_store_order(shop)
    order_states.transition(order_id=order.pk, from_state="pending_payment", to_state="paid", event="paid")

    assert tasks.order_paid(order.pk) == "done"
    assert tasks.order_paid(order.pk) == "already_done"
    assert tasks.order_paid(in_store_order(shop).pk) == "not_paid"  # still pending: nothing to do

    assert work_done(order, shop[2]) == ONCE
    assert AfterPaymentJob.objects.count() == 1


def test_the_migration_hands_the_old_sweeps_unfinished_orders_to_the_redrive(shop, monkeypatch):
    unfinished, finished, unpaid = in_store_order(shop), in_store_order(shop), in_store_order(shop)
    for order in (unfinished, finished):
        order_states.transition(order_id=order.pk, from_state="pending_payment", to_state="paid", event="paid")
    after_payment.commit_store_stock(order_id=finished.pk)

    MIGRATION.adopt_unfinished_orders(apps, None)

    job = job_of(unfinished)
    assert job.done_at is None and job.created_at == Order.objects.get(pk=unfinished.pk).paid_at
    assert list(AfterPaymentJob.objects.values_list("order_id", flat=True)) == [unfinished.pk]
    at(clock.now() + dt.timedelta(minutes=2), monkeypatch)
    assert after_payment_jobs.redrive() == 1
    assert OrderEvent.objects.filter(order=unfinished, type="stock_committed").count() == 1
    assert not AfterPaymentJob.objects.filter(order=unpaid).exists()


# --- Tasks: acknowledged late, and idempotent ---------------------------------------------------


def test_every_task_of_ours_is_acknowledged_late_so_a_dead_worker_leaves_its_message(settings):
    celery_app.loader.import_default_modules()  # every app's tasks, as a worker loads them
    ours = [
        task
        for name, task in celery_app.tasks.items()
        if name.startswith(("checkout.", "promotions.", "miniprogram_api."))
    ]

    names = {task.name for task in ours}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled | {"checkout.tasks.order_paid", "checkout.tasks.send_notification"} <= names
    assert [task.name for task in ours if not task.acks_late] == []


def test_the_order_paid_task_delivered_twice_does_the_work_once(shop):
    order = in_store_order(shop)
    with transaction.atomic():
        pay(order)  # in a test transaction: its own message is never sent

    assert [tasks.order_paid(order.pk), tasks.order_paid(order.pk)] == ["done", "already_done"]
    assert work_done(order, shop[2]) == ONCE


def test_the_redrive_task_requeues_itself_when_its_batch_was_full(shop, monkeypatch, broker_down):
    orders = [in_store_order(shop) for _ in range(3)]
    at(T0, monkeypatch)
    with transaction.atomic():
        for order in orders:
            pay(order)
    at(T0 + dt.timedelta(minutes=2), monkeypatch)
    requeued: list[tuple] = []
    monkeypatch.setattr(tasks.redrive_after_payment, "delay", lambda *args: requeued.append(args))

    assert tasks.redrive_after_payment(batch_size=2) == 2
    assert requeued == [(2,)]
    assert tasks.redrive_after_payment(batch_size=2) == 1
    assert requeued == [(2,)]
    assert AfterPaymentJob.objects.filter(done_at__isnull=True).count() == 0


# --- Real parallel runners (PostgreSQL) --------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_redrives_and_late_tasks_racing_for_one_job_do_each_step_once(shop, monkeypatch):
    monkeypatch.setattr(tasks.order_paid, "delay", lambda *args: None)  # the message is lost
    order = in_store_order(shop)
    pay(order)
    AfterPaymentJob.objects.filter(order=order).update(created_at=clock.now() - dt.timedelta(minutes=5))

    def runner(index: int) -> int:
        if index % 2:
            return int(tasks.order_paid(order.pk) == "done")
        return after_payment_jobs.redrive()

    assert sum(run_in_parallel(runner, 8)) == 1

    assert work_done(order, shop[2]) == ONCE
    job = job_of(order)
    assert (job.attempts, job.done_at is not None) == (1, True)
