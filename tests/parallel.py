"""Real threads released together, for tests that race clients against one row."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def run_in_parallel(fn: Callable[[int], T], n: int, *, timeout: float = 120) -> list[T]:
    """Run ``fn(0)`` .. ``fn(n - 1)`` in ``n`` threads released together by a barrier and
    return their results in index order.

    Each thread closes its own database connections when done: Django opens one per thread,
    and the test database cannot be flushed or dropped while they stay open. An exception in
    any thread (an assertion included) is re-raised here once all have finished, so a failing
    thread fails the test instead of only shrinking the results; so is a thread still running
    after ``timeout`` seconds.
    """
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = fn(index)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {n} threads still running after {timeout} s"
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} of {n} threads failed", errors)
    return results
