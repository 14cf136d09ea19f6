"""List filters the promotion screens share: where a promotion stands against "now".

Marketing asks one question of every list, "what is running?", so each windowed promotion
(``starts_at``/``ends_at``/``active``, see ``models/windows.py``) gets the same filter, and
the Brand of the Day, which has a Shanghai date instead of a window, gets its day-based
twin. "Now" and "today" come from the clock so tests can move time.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from miniprogram_api.core import clock


def status_q(status: str, now, *, start: str = "starts_at", end: str = "ends_at", open_ended: bool = False) -> Q | None:
    """The rows of a windowed model in ``status`` at ``now``.

    The four statuses split every row exactly once: live (on and inside its window),
    upcoming (on, not started), ended (window over, on or off), and switched off (off
    before its window ended, so it will not run unless switched back on). With
    ``open_ended`` an empty start or end means "always started" / "never ends".
    """
    started = Q(**{f"{start}__lte": now})
    running = Q(**{f"{end}__gt": now})
    if open_ended:
        started |= Q(**{f"{start}__isnull": True})
        running |= Q(**{f"{end}__isnull": True})
    if status == "live":
        return Q(active=True) & started & running
    if status == "upcoming":
        return Q(active=True, **{f"{start}__gt": now})
    if status == "ended":
        return Q(**{f"{end}__lte": now})
    if status == "off":
        return Q(active=False) & running
    return None


STATUS_LABELS = {"live": "Live now", "upcoming": "Upcoming", "ended": "Ended", "off": "Switched off"}


def status_of(promotion, now) -> str:
    """Which of the filter's statuses a ``Windowed`` row is in, for a list column."""
    if promotion.ends_at <= now:
        return "ended"
    if not promotion.active:
        return "off"
    return "live" if promotion.starts_at <= now else "upcoming"


class LiveStatusFilter(admin.SimpleListFilter):
    """Live now / upcoming / ended (and switched off) for any ``Windowed`` model.

    A model whose window has other field names (a coupon template's validity) subclasses
    it, naming the fields or aliasing them in ``with_window``.
    """

    title = "status"
    parameter_name = "status"
    start_field = "starts_at"
    end_field = "ends_at"
    open_ended = False

    def lookups(self, request, model_admin):
        return tuple(STATUS_LABELS.items())

    def with_window(self, queryset):
        return queryset

    def queryset(self, request, queryset):
        condition = status_q(
            self.value() or "", clock.now(), start=self.start_field, end=self.end_field, open_ended=self.open_ended
        )
        return queryset if condition is None else self.with_window(queryset).filter(condition)


def day_q(when: str, today) -> Q | None:
    """Rows dated today, after today, or before today (Shanghai calendar)."""
    if when == "today":
        return Q(date=today)
    if when == "upcoming":
        return Q(date__gt=today)
    if when == "past":
        return Q(date__lt=today)
    return None


class DayStatusFilter(admin.SimpleListFilter):
    """Today / upcoming / past for one-day promotions (``date``), e.g. the Brand of the Day."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("today", "Today"), ("upcoming", "Upcoming"), ("past", "Past"))

    def queryset(self, request, queryset):
        condition = day_q(self.value() or "", clock.local_today())
        return queryset if condition is None else queryset.filter(condition)
