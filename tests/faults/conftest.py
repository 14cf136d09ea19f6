"""One private stack per test session: PostgreSQL, Redis, the app (gunicorn) and a payment
provider front, all started here and never the shared services.

Building it takes a few seconds (most of it ``migrate``), so it is built once; each test
gets it healthy (Redis and PostgreSQL running, the provider answering) and works with its
own shopper and basket. Without the binaries the tests are skipped, except under
``CI=true``, where a missing binary is a broken run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from .services import (
    AppServer,
    PrivatePostgres,
    PrivateRedis,
    ProviderFront,
    PythonProcess,
    app_environment,
    missing_binaries,
)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Short enough that a provider that never answers costs a test two seconds, long enough for
# the sandbox behind the front to answer under load.
PAYMENT_READ_TIMEOUT_SECONDS = 2

SEED = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from tests.checkout.shop import make_shop
print(make_shop().store.pk)
"""


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    app: AppServer
    provider: ProviderFront
    store_id: int

    def sql(self, query: str, *params) -> list[tuple]:
        """Read the app's database directly (what was written, not what the API says)."""
        with psycopg.connect(self.postgres.url(), connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    def make_healthy(self) -> None:
        if not self.redis.answers():
            self.redis.start()
        if not self.postgres.running:
            self.postgres.start()
        self.provider.reset()


@pytest.fixture(scope="session")
def stack():
    reason = missing_binaries()
    if reason:
        message = f"fault tests need private PostgreSQL and Redis processes: {reason}"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: the binaries must be installed)")
        pytest.skip(message)

    var_dir = Path(tempfile.mkdtemp(prefix="faults-app-"))
    postgres, redis, provider, app, seed = PrivatePostgres(), PrivateRedis(), ProviderFront(), None, None
    try:
        postgres.init()
        redis.start()
        env = app_environment(
            database_url=postgres.url(),
            redis_url=redis.url,
            var_dir=var_dir,
            WECHATPAY_BASE_URL=f"{provider.url}/sandbox/wechatpay",
            PAYMENT_READ_TIMEOUT=str(PAYMENT_READ_TIMEOUT_SECONDS),
            # The worker's beat re-drives lost after-payment work within seconds, not a minute.
            AFTER_PAYMENT_REDRIVE_EVERY_SECONDS="1",
            AFTER_PAYMENT_REDRIVE_AFTER_SECONDS="1",
            REFUND_POLL_EVERY_SECONDS="1",
            REFUND_POLL_AFTER_SECONDS="1",
        )
        seed = PythonProcess(SEED, env)
        app = AppServer(env)
        provider.target = app.url
        app.start()  # meanwhile: nothing it serves before the tests needs the tables
        store_id = int(seed.result().split()[-1])
        yield Stack(postgres=postgres, redis=redis, app=app, provider=provider, store_id=store_id)
    finally:
        if seed is not None and seed.process.poll() is None:
            seed.process.kill()
        if app is not None:
            app.stop()
        provider.close()
        redis.destroy()
        postgres.destroy()
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture
def healthy(stack):
    """The stack with everything up, before and after the test (a failed test may leave a
    service stopped)."""
    stack.make_healthy()
    yield stack
    stack.make_healthy()
