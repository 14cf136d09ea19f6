"""A real Celery worker process (optionally with beat inside it) for integration tests,
pointed at the test database and listening on a queue of its own.

Its own queue: a developer's other test runs (or a local ``make run``) may share the
Redis broker, and their workers must neither take this worker's messages nor hand it
theirs. The worker's output is read as it comes, so a test can wait for a line in it
(a task's "succeeded ... : <return value>").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

from miniprogram_api.celery import app as celery_app


def database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def queue_for_this_run() -> str:
    """One per developer's cache prefix (CI gives every run its own) and pytest-xdist
    process (each has its own test database, so a worker must not take another's
    messages), fixed within them so queues left behind do not pile up in a shared Redis."""
    xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"{settings.CACHE_KEY_PREFIX}-test-worker" + (f"-{xdist_worker}" if xdist_worker else "")


class WorkerProcess:
    def __init__(self, *, queue: str, beat_schedule: Path | None = None, env: dict[str, str] | None = None):
        self.queue = queue
        self.lines: list[str] = []
        purge(queue)
        command = [sys.executable, "-m", "celery", "-A", "miniprogram_api", "worker", "--pool", "solo"]
        command += ["--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        if beat_schedule is not None:
            command += ["--beat", "--schedule", str(beat_schedule)]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            command,
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": database_url_of_the_test_database(),
                "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings",
                "CELERY_QUEUE": queue,
                **(env or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until(self, condition: Callable[[], bool], *, timeout: float = 45, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the worker exited:\n{self.output}"
            assert time.monotonic() < deadline, f"timed out waiting for {what or condition}:\n{self.output}"
            time.sleep(0.2)

    def results_of(self, task_name: str, task_id: str) -> list[str]:
        """What each run of task ``task_id`` returned, as the worker logged it."""
        pattern = re.compile(rf"Task {re.escape(task_name)}\[{re.escape(task_id)}\] succeeded in [\d.e-]+s: (.*)$")
        return [match.group(1) for line in list(self.lines) if (match := pattern.search(line))]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        purge(self.queue)


def purge(queue: str) -> None:
    """Drop what is left in ``queue`` (a stopped run's, or one beat sent as it stopped)."""
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
