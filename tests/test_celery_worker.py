"""A real Celery worker process picks up our tasks from the real broker (Redis when
REDIS_URL is set, as in production; the filesystem broker of the local run otherwise)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from checkout.models import Basket
from checkout.tasks import expire_idle_baskets
from miniprogram_api.celery import app as celery_app
from tests.factories import BasketFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def worker():
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_the_test_database(),
        "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings",
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "miniprogram_api",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    celery_app.conf.task_always_eager = False
    try:
        yield process
    finally:
        celery_app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_a_real_worker_expires_idle_baskets_enqueued_through_the_broker(worker):
    idle = BasketFactory(updated_at=timezone.now() - dt.timedelta(hours=3))
    fresh = BasketFactory(updated_at=timezone.now())

    expire_idle_baskets.delay()

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Basket.objects.get(pk=idle.pk).status != Basket.Status.EXPIRED:
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.3)
    assert Basket.objects.get(pk=idle.pk).status == Basket.Status.EXPIRED
    assert Basket.objects.get(pk=fresh.pk).status == Basket.Status.OPEN
