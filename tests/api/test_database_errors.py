"""A database that cannot be reached is a 503 ``database_unavailable`` (retry), while a query
the database refused stays a 500 (a bug). The real outages are in ``tests/faults``."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import psycopg
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError

from miniprogram_api.api.errors import database_unavailable, exception_handler


def wrapped(driver_error: Exception) -> OperationalError:
    """As Django raises it: its own class, the driver's error as the cause."""
    try:
        raise OperationalError(str(driver_error)) from driver_error
    except OperationalError as exc:
        return exc


def sqlite_error(tmp_path, *, locked: bool) -> sqlite3.OperationalError:
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        if locked:
            holder.execute("BEGIN EXCLUSIVE")
            other.execute("INSERT INTO t VALUES (1)")
        else:
            other.execute("SELECT * FROM no_such_table")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        holder.close()
        other.close()
    raise AssertionError("sqlite did not fail")


@pytest.mark.parametrize(
    "driver_error",
    [
        psycopg.OperationalError("connection failed: Connection refused"),  # no server answered
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.ConnectionFailure("connection failure"),
    ],
)
def test_postgres_not_being_there_is_unavailable(driver_error):
    assert database_unavailable(wrapped(driver_error))


@pytest.mark.parametrize(
    "driver_error",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    ],
)
def test_postgres_refusing_a_query_is_not_unavailable(driver_error):
    assert not database_unavailable(wrapped(driver_error))


def test_a_locked_sqlite_database_is_unavailable_but_a_missing_table_is_a_bug(tmp_path):
    assert database_unavailable(wrapped(sqlite_error(tmp_path, locked=True)))
    assert not database_unavailable(wrapped(sqlite_error(tmp_path, locked=False)))


def test_a_closed_connection_is_unavailable_and_other_database_errors_are_not():
    assert database_unavailable(InterfaceError("connection already closed"))
    assert not database_unavailable(IntegrityError("duplicate key"))
    assert not database_unavailable(RuntimeError("a bug"))


def test_the_answer_is_503_database_unavailable_with_retry_after():
    request = SimpleNamespace(method="GET", path="/api/v1/orders")
    response = exception_handler(wrapped(psycopg.OperationalError("refused")), {"request": request})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.data["error"]["code"] == "database_unavailable"
    assert response.data["error"]["details"] == {"retry_after_seconds": 2}
