"""What ``bench/scaleout.py`` measures besides the shoppers' timings: CPU seconds of each
process group and of the PostgreSQL backends serving the run's database (from ``/proc``,
Linux only), how busy the whole machine was, PostgreSQL connections, the Redis keys the run
left, and the tasks each Celery worker reports."""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tasks_run(log: Path) -> Counter:
    """Tasks the worker reports as succeeded (or failed), by name."""
    runs: Counter = Counter()
    for match in re.finditer(r"Task ([\w.]+)\[[\w-]+\] (succeeded|raised|retry)", log.read_text(errors="replace")):
        name = match.group(1).rsplit(".", 1)[-1]
        runs[name if match.group(2) == "succeeded" else f"{name} ({match.group(2)})"] += 1
    return runs


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        frontier = [kid for parent in frontier for kid in children(parent)]
        pids += frontier
    return pids


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of every core since boot, from ``/proc/stat``."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Sampler(threading.Thread):
    """Once a second during the load: CPU seconds of each process group (a process and its
    children) and of the PostgreSQL backends serving this database, and how many
    connections it has. Backends that come and go between samples are undercounted."""

    def __init__(self, database: str, groups: dict[str, list[int]]):
        super().__init__(daemon=True)
        self.database, self.groups = database, groups
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.group_of: dict[int, str] = {}
        self.connections: list[int] = []
        self.machine = (0.0, 0.0)  # (busy, available) core-seconds while sampling
        self._done = threading.Event()

    def run(self) -> None:
        import psycopg
        from django.conf import settings

        db = settings.DATABASES["default"]
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname=self.database,
            autocommit=True,
        ) as conn:
            started = _machine_ticks()
            self._sample(conn, first=True)
            while not self._done.wait(1.0):
                self._sample(conn, first=False)
            self._sample(conn, first=False)
            ended = _machine_ticks()
            self.machine = tuple((end - start) / CLOCK_TICKS for start, end in zip(started, ended, strict=True))

    def _sample(self, conn, *, first: bool) -> None:
        backends = [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.database,)
            )
        ]
        self.connections.append(len(backends))
        members = {pid: "PostgreSQL backends" for pid in backends}
        for group, roots in self.groups.items():
            for root in roots:
                members.update((pid, group) for pid in _tree(root))
        for pid, group in members.items():
            seconds = _cpu_seconds(pid)
            if pid not in self.first:
                # Already running at the first sample: count from there; born later: from 0.
                self.first[pid] = seconds if first else 0.0
            self.last[pid] = seconds
            self.group_of[pid] = group

    def stop(self) -> dict[str, float]:
        self._done.set()
        self.join()
        totals: Counter = Counter()
        for pid, group in self.group_of.items():
            totals[group] += self.last[pid] - self.first[pid]
        return dict(totals)


def redis_usage(redis_url: str, prefix: str, queue: str) -> dict:
    """Keys this run left in Redis (cache and throttles under the prefix, the queue's
    broker keys) and their memory as Redis reports it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000)) + [
        key for key in client.scan_iter(match=f"*{queue}*", count=1000)
    ]
    memory = sum(client.memory_usage(key) or 0 for key in keys)
    return {"keys": len(keys), "bytes": memory}
