"""Redis down: the cache, the throttles and the Celery broker are gone, and scan & pay still
works; the tasks that could not be enqueued meanwhile are re-driven once Redis is back."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from .services import CeleryWorker, wait_until
from .shopper import Shopper

pytestmark = pytest.mark.faults

MILK_FEN = 1190  # at the seeded store


@pytest.fixture
def worker(healthy):
    worker = CeleryWorker(healthy.app.env)
    worker.start()
    yield worker
    worker.stop()


def test_scan_pay_and_return_work_with_redis_down_and_their_lost_tasks_run_when_it_is_back(healthy, worker):
    stack = healthy
    stack.redis.kill()

    # Login (login throttle), scans (lookup throttle), checkout, payment and its notification,
    # the exit pass: all through, with no cache and no broker.
    shopper = Shopper(stack.app.url)
    basket_id = shopper.open_basket(stack.store_id)
    for _ in range(3):
        scan = shopper.scan(basket_id)
        assert scan.status_code == 200, scan.text
    assert scan.json()["lines"][0]["quantity"] == 3
    checkout = shopper.checkout(basket_id, key="redis-down-1")
    assert checkout.status_code == 201, checkout.text
    order = checkout.json()["order"]
    assert shopper.pay(order["payment"]["out_trade_no"])["notified"] is True
    paid = shopper.order(order["id"])
    assert paid["state"] == "paid"
    assert shopper.get(f"/api/v1/orders/{order['id']}/exit-pass").status_code == 200

    # The shopper brings a bottle back: the return and its refund are written and answered,
    # though the refund's task could not be enqueued either.
    line_id = paid["lines"][0]["id"]
    returned = shopper.post(f"/api/v1/orders/{order['id']}/returns", {"lines": [{"line_id": line_id, "quantity": 1}]})
    assert returned.status_code == 201, returned.text

    # Nothing reached the broker: the after-payment job waits undone (stock not committed)
    # and the refund was never sent.
    log = stack.app.log_tail(2000)
    assert "could not enqueue checkout.tasks.order_paid" in log
    assert "could not enqueue checkout.tasks.send_refund" in log
    assert _job_done_at(stack, order["id"]) is None
    assert _stock_commits(stack, order["id"]) == 0
    assert _refunds(stack, order["id"]) == [("pending", MILK_FEN)]

    # Redis is back: the worker reconnects, beat's redrive and refund poll do the work, once.
    stack.redis.start()
    wait_until(
        lambda: _job_done_at(stack, order["id"]) and _refunds(stack, order["id"]) == [("succeeded", MILK_FEN)],
        timeout=30,
        interval=0.2,
        what=lambda: f"the redrive and the refund poll\n{worker.output()[-3000:]}",
    )
    assert _stock_commits(stack, order["id"]) == 1
    assert shopper.order(order["id"])["state"] == "partially_refunded"
    # The cache works again: the shopper's next scan is counted in Redis.
    assert shopper.scan(shopper.open_basket(stack.store_id)).status_code == 200
    assert redis.Redis.from_url(stack.redis.url).keys("faults:*throttle_lookup*")


def test_a_redis_that_stops_answering_slows_requests_down_but_never_hangs_them(healthy):
    """Frozen, not dead (a failover, a stalled host): connections open and nothing answers.
    Every cache call and every publish gives up after its socket timeout."""
    stack = healthy
    shopper = Shopper(stack.app.url)
    basket_id = shopper.open_basket(stack.store_id)
    os.kill(stack.redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        scan = shopper.scan(basket_id)
        scan_took = time.monotonic() - started
        checkout = shopper.checkout(basket_id)
        order = checkout.json()["order"]
        started = time.monotonic()
        shopper.pay(order["payment"]["out_trade_no"])  # the notification waits on the publish
        pay_took = time.monotonic() - started
        state = shopper.order(order["id"])["state"]
    finally:
        os.kill(stack.redis.process.pid, signal.SIGCONT)
    assert scan.status_code == 200, scan.text
    assert scan_took < 5  # the throttle's one cache call: a 2 s socket timeout
    assert checkout.status_code == 201, checkout.text
    assert pay_took < 10  # the sandbox's own wait for our answer (5 s), not gunicorn's 30 s
    assert state == "paid"
    wait_until(
        lambda: "could not enqueue checkout.tasks.order_paid" in stack.app.log_tail(2000),
        timeout=10,
        what="the notification's publish to give up",
    )


def _job_done_at(stack, order_id: int):
    [(done_at,)] = stack.sql("SELECT done_at FROM checkout_afterpaymentjob WHERE order_id = %s", order_id)
    return done_at


def _stock_commits(stack, order_id: int) -> int:
    rows = stack.sql(
        "SELECT count(*) FROM checkout_orderevent WHERE order_id = %s AND type = 'stock_committed'", order_id
    )
    return rows[0][0]


def _refunds(stack, order_id: int) -> list[tuple[str, int]]:
    return stack.sql("SELECT state, amount_fen FROM checkout_refund WHERE order_id = %s ORDER BY id", order_id)
