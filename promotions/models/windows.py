"""What every time-boxed promotion shares: a window and an on/off switch."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Windowed(models.Model):
    """Live when ``active`` and ``starts_at <= now < ends_at``. Staff switch ``active`` off
    to stop a promotion at once without rewriting its window."""

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        abstract = True

    def is_live(self, now) -> bool:
        return self.active and self.starts_at <= now < self.ends_at

    @classmethod
    def live_q(cls, now, prefix: str = "") -> Q:
        return Q(**{f"{prefix}active": True, f"{prefix}starts_at__lte": now, f"{prefix}ends_at__gt": now})


def window_constraint(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name=name)
