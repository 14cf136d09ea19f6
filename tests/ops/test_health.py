"""Load-balancer probes: /healthz says the process is alive, /readyz whether it can work."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from miniprogram_api import health


@pytest.fixture(autouse=True)
def _recheck_migrations(monkeypatch):
    monkeypatch.setattr(health, "_migrations_clean", False)


@pytest.mark.django_db
def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ready_when_database_cache_broker_and_migrations_are(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "broker": True,
        "migrations": True,
    }


@pytest.mark.django_db
def test_readyz_checks_migrations_once_per_process_once_clean(client):
    client.get("/readyz")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/readyz").status_code == 200

    assert len(queries) == 1  # SELECT 1 only


@pytest.mark.django_db
@pytest.mark.parametrize("failing", ["_database", "_cache", "_broker", "_migrations"])
def test_readyz_is_503_naming_what_failed(client, monkeypatch, failing):
    def broken():
        raise ConnectionError("down")

    monkeypatch.setattr(health, failing, broken)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    name = failing.lstrip("_")
    assert body["checks"][name] == {"ok": False, "ms": body["checks"][name]["ms"], "error": "ConnectionError"}
    assert all(check["ok"] for other, check in body["checks"].items() if other != name)


@pytest.mark.django_db
def test_readyz_reports_unapplied_migrations(client, monkeypatch):
    class Pending:
        def __init__(self, connection):
            self.loader = type("Loader", (), {"graph": type("Graph", (), {"leaf_nodes": lambda self: []})()})()

        def migration_plan(self, targets):
            return [("checkout", "0099_future")]

    monkeypatch.setattr(health, "MigrationExecutor", Pending)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"]["error"] == "1 migrations not applied"


def test_the_cache_probe_notices_a_cache_that_keeps_nothing(monkeypatch):
    monkeypatch.setattr(cache, "get", lambda key: None)

    assert health._cache() == "cache did not keep a value"
