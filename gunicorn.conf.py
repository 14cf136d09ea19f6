"""gunicorn's configuration, read from the environment (``gunicorn -c gunicorn.conf.py
miniprogram_api.wsgi``; gunicorn also finds this file by itself when started here).

Sync workers: every request is short and CPU-bound (the bench figures show the cores
saturated, not waiting), and the provider calls have their own timeouts well below
``GUNICORN_TIMEOUT``. Workers are recycled after a jittered number of requests so a slow
leak never takes them all down at once.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count())
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
# Empty: no access log (the reverse proxy keeps one).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind the reverse proxy: trust its X-Forwarded-* only from these addresses.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """With ``PROMETHEUS_MULTIPROC_DIR`` set, every worker keeps its metrics in files of that
    directory; a worker that exits (recycled, killed) is marked dead so its live gauges stop
    counting. Its counters and histograms stay in the sum, as Prometheus expects."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
