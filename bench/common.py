"""What the benchmarks share: the environment, a fresh seeded database, gunicorn on a
loopback port, and ``wrk``'s figures.

The scripts are run as ``python bench/<name>.py``, which puts ``bench/`` first on
``sys.path``, so they import this module as ``import common``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def configure_environment(*, base: str, var_dir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for manage.py and gunicorn, also applied to this process so that
    ``django.setup()`` here reads the same database and settings as the server."""
    env = {
        **os.environ,
        "VAR_DIR": var_dir,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PUBLIC_BASE_URL": base,
        **(extra or {}),
        "DJANGO_SETTINGS_MODULE": "miniprogram_api.settings",
    }
    os.environ.update(env)
    return env


def recreate_database(url: str) -> None:
    """Drop and recreate the PostgreSQL database named in ``url``, so every run starts from
    the same seed rather than from what the last run left; SQLite (no URL) is left alone."""
    if not url.startswith("postgres"):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate_and_seed(env: dict[str, str]) -> None:
    """Migrate and load the demo data in subprocesses, as a deployment would, before this
    process sets Django up."""
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "manage.py", "seed_demo", "-v0"], cwd=ROOT, env=env, check=True)
    analyze(env.get("DATABASE_URL", ""))


def analyze(url: str) -> None:
    """Give PostgreSQL's planner statistics of the fresh data, as autovacuum would soon after a
    bulk load, and the cost of a random read docs/operations.md recommends for SSDs (the
    setting applies to connections opened from now on): without them it guesses row counts,
    and with the demo's small catalogue it scans whole tables where an index serves."""
    if not url.startswith("postgres"):
        return
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
        conn.execute("ANALYZE")


@contextmanager
def gunicorn(*, port: int, workers: int, env: dict[str, str], threads: int = 1) -> Iterator[int]:
    """Run gunicorn (sync workers; threaded ones with ``threads`` above 1) on
    127.0.0.1:``port`` for the block, entered once the server answers with the master's
    process id; the server is stopped even if the block fails."""
    base = f"http://127.0.0.1:{port}"
    # No access log (it costs every endpoint the same, and is not the code being measured),
    # and no worker recycling mid-run (a restarting worker is seconds of lost capacity).
    env = {"GUNICORN_ACCESS_LOG": "", "GUNICORN_MAX_REQUESTS": "0", **env}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "miniprogram_api.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            *(("--threads", str(threads)) if threads > 1 else ()),
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_up(base)
        yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_until_up(base: str) -> None:
    """Poll ``/healthz``: gunicorn's workers take a few seconds to import Django, and load
    sent before then would be measured as connection errors. (Not the schema, which is
    slow to build: on a loaded machine a poll timing out and retrying would build it twice
    at once in a threaded server, which drf-spectacular does not survive.)"""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/healthz", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start within 30 s")


def process_ids(*, name: str = "", parent: int = 0) -> list[int]:
    """Linux processes by command name, or by parent (a gunicorn master's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:  # it ended meanwhile
            continue
        if (name and comm.split("(", 1)[1] == name) or (parent and int(rest.split()[1]) == parent):
            found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system CPU seconds each process has used so far (one that has ended is
    left out: compare per process, or it would count as negative)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def lua_list(values: list[str]) -> str:
    """A Lua table literal of strings, for the values a ``wrk`` script picks from."""
    return "{" + ",".join(json.dumps(v) for v in values) + "}"


def run_wrk(base: str, script: Path, *, threads: int, connections: int, duration: int) -> dict:
    """Drive ``base`` with ``wrk`` and the Lua ``script``; returns requests per second, p50
    and p99 in ms, the number of requests, the seconds they took and the non-2xx/3xx answers."""
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests_done, took, unit = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out).groups()
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    return {
        "rps": rps,
        "p50": _ms(out, "50%"),
        "p99": _ms(out, "99%"),
        "requests": int(requests_done),
        "seconds": float(took) * {"ms": 0.001, "s": 1, "m": 60}[unit],
        "errors": errors,
    }


def _ms(out: str, label: str) -> float:
    """wrk prints each percentile in its own unit (us, ms or s); this gives milliseconds."""
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
