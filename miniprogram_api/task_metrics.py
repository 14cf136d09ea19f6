"""Celery task outcomes and run times, counted from Celery's signals (connected when the
Celery app loads, so in workers and, for eager tasks, in web processes alike).

Outcomes: ``succeeded``, ``failed``, ``retried`` (a retry was scheduled; the next run counts
again), ``revoked`` (cancelled or expired before or while it ran). The run time is from
``task_prerun`` to ``task_postrun``, observed whatever the outcome.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) every pool process writes its own
files; a worker process that exits is marked dead so its live gauges (if any are ever
added) stop counting, while its counters stay in the sum.
"""

from __future__ import annotations

import os
import time

from celery import signals

from miniprogram_api.core import metrics

_started: dict[str, float] = {}


def _name(task) -> str:
    return getattr(task, "name", None) or str(task or "unknown")


@signals.task_prerun.connect
def _task_started(task_id=None, **kwargs) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, **kwargs) -> None:
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        metrics.CELERY_TASK_DURATION.labels(task=_name(task)).observe(time.perf_counter() - started)


@signals.task_success.connect
def _task_succeeded(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(task=_name(sender), outcome="succeeded").inc()


@signals.task_failure.connect
def _task_failed(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(task=_name(sender), outcome="failed").inc()


@signals.task_retry.connect
def _task_retried(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(task=_name(sender), outcome="retried").inc()


@signals.task_revoked.connect
def _task_revoked(sender=None, request=None, **kwargs) -> None:
    name = getattr(request, "task", None) or _name(sender)
    metrics.CELERY_TASKS.labels(task=name, outcome="revoked").inc()


@signals.worker_process_shutdown.connect
def _pool_process_exited(pid=None, **kwargs) -> None:
    if metrics.multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
