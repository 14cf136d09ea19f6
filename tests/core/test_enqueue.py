"""``delay_on_commit``: a broker outage at commit time is logged, never raised at the caller
whose data is already committed; any other error still surfaces."""

from __future__ import annotations

import logging

import pytest
from kombu.exceptions import OperationalError

from miniprogram_api.core.enqueue import delay_on_commit


class FakeTask:
    name = "checkout.tasks.send_refund"

    def __init__(self, error: Exception | None = None):
        self.error = error
        self.sent: list[tuple] = []

    def delay(self, *args):
        if self.error is not None:
            raise self.error
        self.sent.append(args)


def test_the_task_is_sent_only_once_the_transaction_commits(django_capture_on_commit_callbacks, db):
    task = FakeTask()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delay_on_commit(task, 7, redriven_by="poll-refunds")
        assert task.sent == []
    assert len(callbacks) == 1
    assert task.sent == [(7,)]


def test_a_broker_that_is_down_is_logged_naming_the_job_that_will_do_the_work(
    django_capture_on_commit_callbacks, db, caplog
):
    task = FakeTask(OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."))
    with (
        caplog.at_level(logging.WARNING, logger="miniprogram_api.core.enqueue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        delay_on_commit(task, 7, redriven_by="poll-refunds")
    assert "could not enqueue checkout.tasks.send_refund(7,); poll-refunds will do it" in caplog.text


def test_an_error_that_is_not_the_brokers_still_surfaces(django_capture_on_commit_callbacks, db):
    task = FakeTask(ValueError("a bug in the task, run eagerly"))
    with pytest.raises(ValueError), django_capture_on_commit_callbacks(execute=True):
        delay_on_commit(task, 7, redriven_by="poll-refunds")
