"""What promotions share: the channels one serves, and a window with an on/off switch."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Channels(models.TextChoices):
    """Where a promotion applies: ``in_store`` is scan & pay, ``delivery`` covers delivery and
    pick-up orders (the pricing engine's ``_serves`` reads them so)."""

    BOTH = "both", "In store and delivery"
    IN_STORE = "in_store", "In store only"
    DELIVERY = "delivery", "Delivery and pick-up only"


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
