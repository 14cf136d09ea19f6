"""Every Prometheus metric the backend exports, defined once so each name and label set is
in one place (``docs/operations.md`` lists them with example alerts).

Domain code counts with one line (``metrics.GATE_DECISIONS.labels(...).inc()``); the HTTP
middleware, the Celery signal handlers and ``GET /metrics`` live at the edge
(``miniprogram_api.metrics``, ``miniprogram_api.task_metrics``). This module imports only
``prometheus_client``, so any app may use it without breaking the dependency direction.

Label values come from fixed vocabularies (a URL pattern, a task's registered name, an
outcome from a ``Literal``), never from what a client sends: every distinct value is a
series kept forever, so an id or a raw path in a label is a memory leak.

With ``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts), ``prometheus_client``
keeps every value in a file of that directory per process, and ``registry()`` reads all of
them: what gunicorn's workers and Celery's processes counted, including workers since
recycled, is exported as one sum.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL pattern and status class (2xx, 4xx, 5xx).",
    ["method", "route", "status"],
)
PAYMENT_TRADE_STATUSES = Counter(
    "payment_trade_statuses",
    "What a provider said about a trade (notification, query, close) and what it did to the payment.",
    ["provider", "outcome"],
)
GATE_DECISIONS = Counter(
    "gate_decisions",
    "Exit-gate decisions (open, deny, audit) by reason.",
    ["decision", "reason"],
)
REFUND_STATUSES = Counter(
    "refund_statuses",
    "What a provider said about a refund (call, query, notification) and what it did to the refund.",
    ["tender", "outcome"],
)
CELERY_TASKS = Counter(
    "celery_tasks",
    "Celery task runs by task name and outcome (succeeded, failed, retried, revoked).",
    ["task", "outcome"],
)
CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds",
    "Time a Celery task ran, by task name, whatever its outcome.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, float("inf")),
)


def multiprocess_dir() -> str:
    return os.environ.get(MULTIPROC_DIR_ENV, "")


def registry() -> CollectorRegistry:
    """What ``GET /metrics`` exports: the sum over every process's files in multiprocess
    mode (a fresh registry per call, as ``prometheus_client`` requires, since this
    process's own registry holds only its own values), this process's registry otherwise."""
    if not multiprocess_dir():
        return REGISTRY
    collected = CollectorRegistry()
    MultiProcessCollector(collected)
    return collected
