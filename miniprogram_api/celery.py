"""The Celery application.

Locally the broker is kombu's filesystem transport under ``var/`` so ``make run`` needs
no server; with ``REDIS_URL`` set, Redis is the broker (see settings).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miniprogram_api.settings")

app = Celery("miniprogram_api")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Signal handlers: the request id carried into tasks; task outcomes and run times counted.
from . import request_context, task_metrics  # noqa: E402,F401
