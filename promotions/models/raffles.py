"""The raffle: shoppers enter with an unpaid order; a win takes the prize off that order."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .windows import Windowed, window_constraint


class Raffle(Windowed):
    name = models.CharField(max_length=100)
    win_probability_ppm = models.PositiveIntegerField(
        help_text="Chance of winning per entry, in parts per million (100000 = 10%)."
    )
    prize_fen = models.PositiveIntegerField(default=8800, help_text="Off the whole order (88 RMB by default).")
    daily_prize_budget_fen = models.PositiveIntegerField(help_text="At most this much given away per Shanghai day.")
    daily_entries_per_customer = models.PositiveSmallIntegerField(default=3)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            window_constraint("raffle_window_ordered"),
            models.CheckConstraint(condition=Q(win_probability_ppm__lte=1_000_000), name="raffle_probability_max_1"),
            models.CheckConstraint(condition=Q(prize_fen__gt=0), name="raffle_prize_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class RaffleDay(models.Model):
    """What one day of a raffle has given away; ``spent_fen`` never passes the budget."""

    raffle = models.ForeignKey(Raffle, on_delete=models.CASCADE, related_name="days")
    date = models.DateField()
    budget_fen = models.PositiveIntegerField()
    spent_fen = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["raffle", "date"], name="raffle_day_unique"),
            models.CheckConstraint(condition=Q(spent_fen__lte=F("budget_fen")), name="raffle_day_within_budget"),
        ]

    def __str__(self) -> str:
        return f"{self.raffle_id} {self.date}: {self.spent_fen}/{self.budget_fen}"


class RaffleShopperDay(models.Model):
    """A shopper's entries in one raffle on one day, counted under a conditional update."""

    raffle = models.ForeignKey(Raffle, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    entries = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["raffle", "customer", "date"], name="raffle_shopper_day_unique")]

    def __str__(self) -> str:
        return f"{self.raffle_id}/{self.customer_id} {self.date}: {self.entries}"


class RaffleEntry(models.Model):
    """Every draw and its outcome, kept for the admin and for disputes."""

    raffle = models.ForeignKey(Raffle, on_delete=models.PROTECT, related_name="entries")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    order_id = models.PositiveBigIntegerField()
    date = models.DateField()
    won = models.BooleanField()
    prize_fen = models.PositiveIntegerField(default=0)
    outcome = models.CharField(
        max_length=24, help_text="won, lost, or budget_exhausted (drew a win when the day's budget was spent)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "raffle entries"
        constraints = [models.UniqueConstraint(fields=["raffle", "order_id"], name="raffle_entry_one_per_order")]

    def __str__(self) -> str:
        return f"{self.raffle_id}/{self.order_id}: {self.outcome}"
