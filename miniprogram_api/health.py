"""``/healthz`` and ``/readyz`` for load balancers and orchestrators.

``/healthz`` answers 200 as long as the process serves requests: it touches nothing, so a
database outage never gets healthy web processes killed. ``/readyz`` answers 200 only when
this process can do useful work: the database and the cache answer, the broker accepts a
connection, and no migration is unapplied; otherwise 503 with what failed. Both are cheap
enough to call every second: a ``SELECT 1``, one cache round trip, one broker connection
check, and the migration plan, which is computed once per process once it is clean
(migrations are applied before a release's processes start, never while they run).
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

_migrations_clean = False


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    checks = {
        "database": _check(_database),
        "cache": _check(_cache),
        "broker": _check(_broker),
        "migrations": _check(_migrations),
    }
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503)


def _check(probe) -> dict:
    started = time.perf_counter()
    try:
        problem = probe()
    except Exception as exc:  # a probe must report, never raise
        problem = type(exc).__name__
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    if problem:
        logger.warning("readiness check failed: %s", problem)
        return {"ok": False, "ms": elapsed_ms, "error": problem}
    return {"ok": True, "ms": elapsed_ms}


def _database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _cache() -> str | None:
    cache.set("readyz", "1", timeout=10)
    return None if cache.get("readyz") == "1" else "cache did not keep a value"


def _broker() -> str | None:
    from miniprogram_api.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)
    return None


def _migrations() -> str | None:
    global _migrations_clean
    if _migrations_clean:
        return None
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return type(exc).__name__
    if pending:
        return f"{len(pending)} migrations not applied"
    _migrations_clean = True
    return None
