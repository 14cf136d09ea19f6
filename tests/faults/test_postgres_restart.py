"""PostgreSQL stopped or restarted under traffic: requests get a clean 503
``database_unavailable`` (never a 500, never a hang), and the app recovers by itself."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from .services import AppServer, wait_until
from .shopper import Shopper

pytestmark = pytest.mark.faults

SLOWEST_ANSWER_SECONDS = 5  # a request that takes longer than this is a hang


@dataclass(frozen=True)
class Answer:
    basket_id: int
    what: str
    at: float
    status: int
    code: str | None
    retry_after: str | None
    seconds: float


class Traffic:
    """Shoppers reading their basket and scanning into it, a request every few tens of
    milliseconds each, recording every answer."""

    def __init__(self, stack, shoppers: int = 4):
        self.baskets = []
        for _ in range(shoppers):
            shopper = Shopper(stack.app.url)
            self.baskets.append((shopper, shopper.basket_with_milk(stack.store_id, bottles=1)))
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=pair, daemon=True) for pair in self.baskets]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, shopper: Shopper, basket_id: int) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            what = "scan" if n % 2 else "read"
            started = time.monotonic()
            status, code, retry_after = 0, None, None  # 0: no answer at all (a hang, a dropped connection)
            try:
                response = shopper.scan(basket_id) if what == "scan" else shopper.get(f"/api/v1/baskets/{basket_id}")
                status, retry_after = response.status_code, response.headers.get("Retry-After")
                code = response.json().get("error", {}).get("code")
            except (requests.RequestException, ValueError):
                pass
            self.answers.append(
                Answer(basket_id, what, started, status, code, retry_after, seconds=time.monotonic() - started)
            )
            time.sleep(0.03)

    def count(self, *, status: int, after: float = 0) -> int:
        return sum(1 for a in list(self.answers) if a.status == status and a.at >= after)


def test_requests_while_postgres_is_down_get_503_and_the_app_recovers_when_it_is_back(healthy):
    stack = healthy
    paying = Shopper(stack.app.url)
    basket_id = paying.basket_with_milk(stack.store_id)

    with Traffic(stack) as traffic:
        wait_until(lambda: traffic.count(status=200) >= 8, timeout=10, what="traffic to flow")
        stopped_at = time.monotonic()
        stack.postgres.stop("fast")  # sessions in flight are terminated
        wait_until(lambda: traffic.count(status=503, after=stopped_at) >= 8, timeout=10, what="503s while down")
        down = paying.checkout(basket_id, key="pg-down-1")
        stack.postgres.start()
        started_at = time.monotonic()
        wait_until(lambda: traffic.count(status=200, after=started_at) >= 8, timeout=10, what="recovery")

    assert down.status_code == 503, down.text
    assert down.json()["error"]["code"] == "database_unavailable"
    answers = traffic.answers
    assert {a.status for a in answers} <= {200, 503}, [a for a in answers if a.status not in (200, 503)]
    for failed in (a for a in answers if a.status == 503):
        assert failed.code == "database_unavailable" and failed.retry_after == "2", failed
    assert max(a.seconds for a in answers) < SLOWEST_ANSWER_SECONDS
    # Every scan answered 200 added its bottle; one answered 503 may have committed before
    # the connection dropped, never more.
    for shopper, traffic_basket in traffic.baskets:
        scans = [a.status for a in answers if a.what == "scan" and a.basket_id == traffic_basket]
        bottles = _bottles(shopper, traffic_basket)
        assert 1 + scans.count(200) <= bottles <= 1 + scans.count(200) + scans.count(503)

    # The checkout refused while the database was down is done now, under the same key,
    # and the basket has exactly one order.
    again = paying.checkout(basket_id, key="pg-down-1")
    assert again.status_code == 201, again.text
    order = again.json()["order"]
    assert paying.pay(order["payment"]["out_trade_no"])["notified"] is True
    assert paying.order(order["id"])["state"] == "paid"
    assert stack.sql("SELECT count(*) FROM checkout_order WHERE basket_id = %s", basket_id) == [(1,)]


def _bottles(shopper: Shopper, basket_id: int) -> int:
    return sum(line["quantity"] for line in shopper.get(f"/api/v1/baskets/{basket_id}").json()["lines"])


def test_after_a_quick_restart_no_request_fails_on_a_stale_connection(healthy):
    """Every web worker keeps its connection between requests (``CONN_MAX_AGE``); after a
    restart those connections are dead, and the health check replaces them before use."""
    stack = healthy
    shopper = Shopper(stack.app.url)
    basket_id = shopper.basket_with_milk(stack.store_id)

    def read_many() -> list[int]:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(lambda _: shopper.get(f"/api/v1/baskets/{basket_id}").status_code, range(24)))

    assert set(read_many()) == {200}  # every worker now holds a connection
    stack.postgres.restart()
    assert set(read_many()) == {200}


def test_a_database_that_never_answers_gets_503_in_seconds_not_a_hang(stack, tmp_path):
    """A host that accepts the connection and then says nothing (a dead server behind a
    live address): the connect timeout, not the kernel's minutes, decides."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes handshakes; nobody ever answers
        port = silent.getsockname()[1]
        env = {
            **stack.app.env,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/nothing",
            "DB_CONNECT_TIMEOUT": "2",
            "VAR_DIR": str(tmp_path),
        }
        env.pop("PUBLIC_BASE_URL")
        app = AppServer(env, workers=1, name="silent-db")
        app.start()
        try:
            started = time.monotonic()
            # Any token: checking it is the request's first query.
            answer = requests.get(f"{app.url}/api/v1/orders", headers={"Authorization": "Bearer x"}, timeout=30)
            took = time.monotonic() - started
        finally:
            app.stop()
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "database_unavailable"
    assert took < 2 + SLOWEST_ANSWER_SECONDS
