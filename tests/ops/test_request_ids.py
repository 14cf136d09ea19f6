"""Every log line carries the request id, in the web process and in the Celery tasks the
request enqueued; secrets never reach a log line."""

from __future__ import annotations

import json
import logging

import pytest

from checkout.tasks import expire_idle_baskets
from miniprogram_api import request_context
from miniprogram_api.celery import app as celery_app
from tests.celery_worker_process import WorkerProcess, queue_for_this_run


@pytest.mark.django_db
def test_a_response_names_its_request_id_fresh_or_the_callers(client):
    fresh = client.get("/healthz")
    offered = client.get("/healthz", HTTP_X_REQUEST_ID="mp-7f3a-01")
    hostile = client.get("/healthz", HTTP_X_REQUEST_ID="a b\nc" * 20)

    assert len(fresh["X-Request-ID"]) == 32
    assert offered["X-Request-ID"] == "mp-7f3a-01"
    assert hostile["X-Request-ID"] != "a b\nc" * 20 and len(hostile["X-Request-ID"]) == 32


def record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("checkout.test", logging.WARNING, __file__, 1, message, args, None)


def test_the_filter_stamps_the_current_request_id_and_the_json_formatter_prints_it():
    token = request_context._request_id.set("req-42")
    try:
        entry = record("paid %s", "S20261122000000000001")
        request_context.RequestIdFilter().filter(entry)
    finally:
        request_context._request_id.reset(token)

    line = json.loads(request_context.JsonFormatter().format(entry))
    assert (line["request_id"], line["level"], line["logger"]) == ("req-42", "WARNING", "checkout.test")
    assert line["message"] == "paid S20261122000000000001"  # order numbers are not secrets


@pytest.mark.parametrize(
    ("message", "leaked"),
    [
        ("auth header Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
        ("gate says Gate k1:supersecret", "k1:supersecret"),
        ("card 6234123412341234 topped up", "623412341234"),
        ("token EP1.eyJvIjoxfQ.c2ln rejected", "eyJvIjoxfQ"),
        ("share GS1.17.abcdefghijkl claimed", "abcdefghijkl"),
    ],
)
def test_secrets_are_redacted_from_every_line(message, leaked):
    entry = record(message)
    request_context.RequestIdFilter().filter(entry)

    assert leaked not in entry.getMessage()
    assert leaked not in request_context.JsonFormatter().format(entry)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_the_request_id_follows_an_enqueued_task_into_a_real_worker():
    worker = WorkerProcess(queue=queue_for_this_run())
    celery_app.conf.task_always_eager = False
    token = request_context._request_id.set("req-follow-me")
    try:
        result = expire_idle_baskets.apply_async(queue=worker.queue)
        worker.wait_until(
            lambda: any(result.id in line and "succeeded" in line for line in worker.lines),
            what="the task to run in the worker",
        )
    finally:
        request_context._request_id.reset(token)
        celery_app.conf.task_always_eager = True
        worker.stop()

    (line,) = [line for line in worker.lines if result.id in line and "succeeded" in line]
    assert "[req-follow-me]" in line
