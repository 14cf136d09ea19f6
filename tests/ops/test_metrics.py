"""Prometheus metrics: what operators alert on is counted where it happens, labelled with
bounded values, and exported at ``/metrics`` only to the scraper, summed over every
process when gunicorn and Celery run several.

Counters are process-global and other tests move them too, so each test compares a value
before and after what it does.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests
from celery import signals
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from checkout import refunds, returns
from checkout.models import Order, Payment, Refund
from checkout.payments.base import RefundStatus, TradeStatus
from checkout.settlement import AmountMismatch, UnknownTrade, apply_trade_status
from checkout.tasks import expire_idle_baskets
from miniprogram_api.celery import app as celery_app
from miniprogram_api.sandbox import wechatpay as sandbox_wechatpay
from miniprogram_api.sandbox.models import WeChatPayTrade
from tests.celery_worker_process import WorkerProcess, queue_for_this_run
from tests.checkout.returned_orders import Item, line_of, lines
from tests.checkout.returned_orders import paid_order as paid_order_with
from tests.checkout.shop import MILK_EAN, make_shop
from tests.factories import CustomerFactory, LocationFactory, ProductFactory, client_for
from tests.gates.gate_shop import exit_pass, gate_client, paid_order, scan
from tests.orders import make_order
from tests.test_settings import GOOD_PRODUCTION, run_python  # noqa: F401 - a fixture

TOKEN = "m3tr1cs-t0k3n-0f-at-l3ast-32-characters"
SCAN_ROUTE = "api/v1/baskets/<int:basket_id>/scan"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scan_requests() -> float:
    return value("http_request_duration_seconds_count", method="POST", route=SCAN_ROUTE, status="2xx")


def payments(outcome: str, provider: str = "wechat_pay") -> float:
    return value("payment_trade_statuses_total", provider=provider, outcome=outcome)


def tasks(task: str, outcome: str) -> float:
    return value("celery_tasks_total", task=task, outcome=outcome)


# --- Request latency ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_scan_is_timed_under_its_url_pattern_never_its_raw_path():
    shop = make_shop()
    client = client_for(CustomerFactory())
    basket_id = client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json").json()["id"]
    before, seconds_before = (
        scan_requests(),
        value("http_request_duration_seconds_sum", method="POST", route=SCAN_ROUTE, status="2xx"),
    )

    response = client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": MILK_EAN}, format="json")

    assert response.status_code == 200, response.content
    assert scan_requests() == before + 1
    assert value("http_request_duration_seconds_sum", method="POST", route=SCAN_ROUTE, status="2xx") > seconds_before
    routes = {
        sample.labels["route"]
        for metric in REGISTRY.collect()
        if metric.name == "http_request_duration_seconds"
        for sample in metric.samples
    }
    assert SCAN_ROUTE in routes
    assert not [route for route in routes if re.search(r"(^|/)\d+(/|$)", route)], routes


@pytest.mark.django_db
def test_errors_unknown_paths_and_made_up_methods_fall_into_bounded_labels(client, auth_client):
    missing_order = {"method": "GET", "route": "api/v1/orders/<int:order_id>", "status": "4xx"}
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "4xx"}
    made_up = {"method": "other", "route": "healthz", "status": "4xx"}
    counts = [value("http_request_duration_seconds_count", **labels) for labels in (missing_order, unmatched, made_up)]

    assert auth_client.get("/api/v1/orders/987654").status_code == 404
    assert client.get("/no/such/page/123456").status_code == 404
    assert client.generic("BREW", "/healthz").status_code == 405

    after = [value("http_request_duration_seconds_count", **labels) for labels in (missing_order, unmatched, made_up)]
    assert after == [count + 1 for count in counts]


# --- Payments, gates, Celery ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_payment_notification_counts_paid_then_already_paid_when_replayed(server):
    shop = make_shop()
    client = client_for(CustomerFactory())
    basket_id = client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json").json()["id"]
    client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": MILK_EAN}, format="json")
    checkout = client.post(f"/api/v1/baskets/{basket_id}/checkout", {"payment_method": "wechat_pay"}, format="json")
    assert checkout.status_code == 201, checkout.content
    order = Order.objects.get(pk=checkout.json()["order"]["id"])
    paid, already_paid = payments("paid"), payments("already_paid")

    assert requests.post(f"{server}/sandbox/payments/{order.number}/confirm", timeout=20).json()["notified"]
    body = sandbox_wechatpay.build_notification(WeChatPayTrade.objects.get(out_trade_no=order.number))
    headers = {"Content-Type": "application/json", **sandbox_wechatpay.platform_signature_headers(body)}
    replay = requests.post(f"{server}/api/payments/wechatpay/notify", data=body, headers=headers, timeout=10)

    assert replay.status_code == 204
    assert Payment.objects.get(order=order).state == Payment.State.PAID
    assert (payments("paid"), payments("already_paid")) == (paid + 1, already_paid + 1)


@pytest.mark.django_db
def test_a_wrong_amount_and_an_unknown_trade_are_counted_as_such():
    order = make_order(
        customer_id=CustomerFactory().pk, store_id=LocationFactory().pk, items=[(ProductFactory(), 1, 1190)]
    )
    mismatch, unknown, paid = payments("amount_mismatch"), payments("unknown_trade"), payments("paid")

    with pytest.raises(AmountMismatch):
        apply_trade_status(
            provider="wechat_pay", status=TradeStatus(order.number, "paid", amount_fen=1), source="notification"
        )
    with pytest.raises(UnknownTrade):
        apply_trade_status(provider="wechat_pay", status=TradeStatus("NOSUCHTRADE", "paid"), source="notification")

    assert (payments("amount_mismatch"), payments("unknown_trade"), payments("paid")) == (
        mismatch + 1,
        unknown + 1,
        paid,
    )
    assert Payment.objects.get(order=order).state == Payment.State.PENDING


@pytest.mark.django_db
def test_gate_decisions_are_counted_by_decision_and_reason():
    store = LocationFactory()
    client, _ = gate_client(store)
    issued = exit_pass(paid_order(store))
    opened = value("gate_decisions_total", decision="open", reason="ok")
    used = value("gate_decisions_total", decision="deny", reason="already_used")
    malformed = value("gate_decisions_total", decision="deny", reason="malformed")

    assert scan(client, issued.token).json()["decision"] == "open"
    assert scan(client, issued.token).json()["reason"] == "already_used"
    assert scan(client, "not-a-pass").json()["reason"] == "malformed"

    assert value("gate_decisions_total", decision="open", reason="ok") == opened + 1
    assert value("gate_decisions_total", decision="deny", reason="already_used") == used + 1
    assert value("gate_decisions_total", decision="deny", reason="malformed") == malformed + 1


@pytest.mark.django_db
def test_refund_statuses_are_counted_by_tender_and_outcome():
    shop = make_shop()
    shopper = CustomerFactory()
    order = paid_order_with(shopper, store=shop.store, items=[Item(shop.milk, 2, 1190)], method="wechat_pay")
    back = returns.create_return(customer_id=shopper.pk, order_id=order.pk, lines=lines((line_of(order, shop.milk), 1)))
    refund = Refund.objects.get(return_request_id=back.pk)
    said = RefundStatus(order.number, refund.out_refund_no, "succeeded", amount_fen=refund.amount_fen)
    outcomes = ("succeeded", "unchanged", "amount_mismatch")
    before = [value("refund_statuses_total", tender="wechat_pay", outcome=outcome) for outcome in outcomes]

    assert refunds.apply_refund_status(provider="wechat_pay", status=said, source="notification") == "succeeded"
    assert refunds.apply_refund_status(provider="wechat_pay", status=said, source="notification") == "unchanged"
    with pytest.raises(refunds.RefundAmountMismatch):
        wrong = RefundStatus(order.number, refund.out_refund_no, "succeeded", amount_fen=refund.amount_fen + 1)
        refunds.apply_refund_status(provider="wechat_pay", status=wrong, source="notification")

    after = [value("refund_statuses_total", tender="wechat_pay", outcome=outcome) for outcome in outcomes]
    assert after == [count + 1 for count in before]


@celery_app.task(bind=True, name="tests.ops.metrics_probe")
def metrics_probe(self, behaviour: str) -> str:
    """A task that succeeds, fails, or is retried once and then succeeds, as told."""
    if behaviour == "fail":
        raise RuntimeError("probe failed as asked")
    if behaviour == "retry_once" and self.request.retries == 0:
        raise self.retry(countdown=60, max_retries=1)
    return "ok"


@pytest.fixture
def eager_like_a_worker():
    """Eager tasks that record failures and retries as a worker does instead of raising
    them (raising skips Celery's failure, retry and postrun signals)."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


@pytest.mark.django_db
def test_celery_signals_count_each_outcome_and_time_every_run(eager_like_a_worker):
    name = metrics_probe.name
    before = {outcome: tasks(name, outcome) for outcome in ("succeeded", "failed", "retried")}
    runs = value("celery_task_duration_seconds_count", task=name)

    assert metrics_probe.delay("succeed").get() == "ok"
    assert metrics_probe.delay("fail").failed()
    assert metrics_probe.delay("retry_once").get() == "ok"  # run again at once when eager

    after = {outcome: tasks(name, outcome) for outcome in ("succeeded", "failed", "retried")}
    assert after == {
        "succeeded": before["succeeded"] + 2,
        "failed": before["failed"] + 1,
        "retried": before["retried"] + 1,
    }
    assert value("celery_task_duration_seconds_count", task=name) == runs + 4


@pytest.mark.django_db
def test_a_real_task_run_eagerly_is_counted_under_its_registered_name():
    succeeded = tasks(expire_idle_baskets.name, "succeeded")

    expire_idle_baskets.delay()

    assert tasks(expire_idle_baskets.name, "succeeded") == succeeded + 1


def test_a_revoked_task_is_counted_under_its_name():
    """A worker revokes a task before it runs (expired, or cancelled by staff); no eager run
    can, so the test sends the signal as the worker does."""

    class Request:
        task = expire_idle_baskets.name

    before = tasks(expire_idle_baskets.name, "revoked")

    signals.task_revoked.send(
        sender=expire_idle_baskets, request=Request(), terminated=False, signum=None, expired=True
    )

    assert tasks(expire_idle_baskets.name, "revoked") == before + 1


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_in_multiprocess_mode_writes_task_outcomes_the_web_side_exports(tmp_path):
    multiproc_dir = tmp_path / "metrics"
    multiproc_dir.mkdir()
    worker = WorkerProcess(queue=queue_for_this_run(), env={"PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)})
    celery_app.conf.task_always_eager = False
    try:
        result = expire_idle_baskets.apply_async(queue=worker.queue)
        worker.wait_until(lambda: worker.results_of(expire_idle_baskets.name, result.id), what="the task to run")
    finally:
        celery_app.conf.task_always_eager = True
        worker.stop()

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiproc_dir))
    labels = {"task": expire_idle_baskets.name, "outcome": "succeeded"}
    assert registry.get_sample_value("celery_tasks_total", labels) == 1
    assert registry.get_sample_value("celery_task_duration_seconds_count", {"task": expire_idle_baskets.name}) == 1


# --- GET /metrics -----------------------------------------------------------------------------


def test_metrics_are_served_to_loopback_in_the_text_format(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    for name in (
        "http_request_duration_seconds histogram",
        "payment_trade_statuses_total counter",
        "gate_decisions_total counter",
        "celery_tasks_total counter",
        "celery_task_duration_seconds histogram",
    ):
        assert f"# TYPE {name}\n" in text
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.parametrize(
    ("request_from", "status"),
    [
        ({"REMOTE_ADDR": "203.0.113.9"}, 403),
        ({"REMOTE_ADDR": "10.1.2.3"}, 200),
        ({"REMOTE_ADDR": "::ffff:10.1.2.3"}, 200),
        # Through a proxy on the same host: the shopper it forwards is not let in...
        ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 403),
        # ...and a forged header cannot make an outsider look like an insider.
        ({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "127.0.0.1"}, 403),
        ({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "10.9.9.9"}, 200),
    ],
    ids=["outsider", "allowed-network", "ipv4-mapped", "proxied-outsider", "forged-forwarded-for", "proxied-insider"],
)
def test_metrics_are_served_only_to_allowed_addresses(client, settings, request_from, status):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "10.0.0.0/8"]

    assert client.get("/metrics", **request_from).status_code == status


def test_the_token_lets_a_scraper_in_from_anywhere_and_a_wrong_one_does_not(client, settings):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 403  # no token set

    settings.METRICS_TOKEN = TOKEN

    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x", **outside).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN, **outside).status_code == 403
    assert client.get("/metrics", **outside).status_code == 403


def test_metrics_only_answer_get(client):
    assert client.post("/metrics").status_code == 405


def test_production_serves_metrics_to_a_scraper_addressing_the_process_by_ip_over_http(run_python):  # noqa: F811
    code = textwrap.dedent(
        """
        import django
        django.setup()
        from django.test import Client
        inside = Client().get("/metrics", HTTP_HOST="10.0.0.5:8000", REMOTE_ADDR="10.0.0.9")
        outside = Client().get("/metrics", HTTP_HOST="10.0.0.5:8000", REMOTE_ADDR="203.0.113.9")
        page = Client().get("/healthz", HTTP_HOST="10.0.0.5:8000", REMOTE_ADDR="10.0.0.9")
        print(inside.status_code, outside.status_code, page.status_code)
        """
    )

    result = run_python(code, **GOOD_PRODUCTION, METRICS_ALLOWED_IPS="10.0.0.0/8")

    assert result.returncode == 0, result.stderr
    # The host check and the HTTPS redirect still hold for everything else.
    assert result.stdout.split() == ["200", "403", "400"]


def test_production_refuses_a_short_metrics_token_and_any_setting_refuses_a_bad_address(run_python):  # noqa: F811
    short = run_python("import django; django.setup()", **GOOD_PRODUCTION, METRICS_TOKEN="short")
    bad = run_python("import django; django.setup()", METRICS_ALLOWED_IPS="127.0.0.1,localhost")

    assert short.returncode != 0 and "METRICS_TOKEN must be at least 32" in short.stderr
    assert bad.returncode != 0 and "METRICS_ALLOWED_IPS: 'localhost' is not an address" in bad.stderr


# --- Several processes ---------------------------------------------------------------------------

FORKED_PROCESSES = """
import os
import django
django.setup()
from django.test import Client
from miniprogram_api.core import metrics

for _ in range(3):
    pid = os.fork()
    if pid == 0:
        Client().get("/healthz")
        metrics.GATE_DECISIONS.labels(decision="deny", reason="already_used").inc()
        os._exit(0)
    os.waitpid(pid, 0)
# This process counted nothing itself: what it exports is what the others wrote.
print(Client().get("/metrics").content.decode())
"""


def _multiprocess_env(multiproc_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
        "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings",
    }


def _sample(text: str, line_start: str) -> float:
    match = re.search(rf"^{re.escape(line_start)} (\S+)$", text, re.MULTILINE)
    assert match, f"no {line_start} in:\n{text}"
    return float(match.group(1))


def test_multiprocess_mode_exports_the_sum_of_every_process(tmp_path):
    multiproc_dir = tmp_path / "metrics"
    multiproc_dir.mkdir()

    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", FORKED_PROCESSES],
        cwd=settings.BASE_DIR,
        env=_multiprocess_env(multiproc_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert _sample(text, 'gate_decisions_total{decision="deny",reason="already_used"}') == 3
    assert _sample(text, 'http_request_duration_seconds_count{method="GET",route="healthz",status="2xx"}') == 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_workers_recycled_after_every_request_still_add_up(tmp_path):
    """Each worker serves one request and exits: the counts of workers long gone are still
    in what a brand-new worker exports."""
    multiproc_dir = tmp_path / "metrics"
    multiproc_dir.mkdir()
    port = _free_port()
    env = {
        **_multiprocess_env(multiproc_dir),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_MAX_REQUESTS": "1",
        "GUNICORN_MAX_REQUESTS_JITTER": "0",
        "GUNICORN_ACCESS_LOG": "-",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    gunicorn = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "miniprogram_api.wsgi"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, gunicorn)
        for _ in range(4):
            assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
        text = requests.get(f"{base}/metrics", timeout=30).text
    finally:
        gunicorn.terminate()
        output = gunicorn.communicate(timeout=30)[0]

    assert _sample(text, 'http_request_duration_seconds_count{method="GET",route="healthz",status="2xx"}') == 5, output
    processes = {name.rsplit("_", 1)[-1] for name in os.listdir(multiproc_dir)}
    assert len(processes) >= 5  # one per request: every one was served by a fresh worker


def _wait_for(base: str, process: subprocess.Popen) -> None:
    """Until gunicorn answers (the probe itself is the first request counted)."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            requests.get(f"{base}/healthz", timeout=5)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
