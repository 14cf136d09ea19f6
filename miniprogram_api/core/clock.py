"""The one place code takes "now" from, so tests can move time.

Business days, cut-offs and slots are in Asia/Shanghai (``settings.TIME_ZONE``); these
helpers return aware datetimes and local dates in that zone.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def local_now() -> dt.datetime:
    return timezone.localtime(now())


def local_today() -> dt.date:
    return local_now().date()


def local_iso(moment: dt.datetime) -> str:
    """ISO 8601 in Shanghai time (``+08:00``), as every time the API shows."""
    return timezone.localtime(moment).isoformat()


def local_date(moment: dt.datetime) -> dt.date:
    """The Shanghai calendar date of ``moment`` (not of now)."""
    return timezone.localtime(moment).date()
