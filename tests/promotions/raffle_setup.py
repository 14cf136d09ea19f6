"""Raffles for tests: live now unless told otherwise, with round figures."""

from __future__ import annotations

import datetime as dt

from miniprogram_api.core import clock
from promotions.models import Raffle


def make_raffle(**fields) -> Raffle:
    """A raffle live from an hour ago for a week: 10% chance, 10 RMB prizes, a budget of
    five prizes a day and two entries per shopper a day, unless ``fields`` say otherwise."""
    now = clock.now()
    values = {
        "name": "8.8 Lucky Draw",
        "starts_at": now - dt.timedelta(hours=1),
        "ends_at": now + dt.timedelta(days=7),
        "win_probability_ppm": 100_000,
        "prize_fen": 1000,
        "daily_prize_budget_fen": 5000,
        "daily_entries_per_customer": 2,
        **fields,
    }
    return Raffle.objects.create(**values)


ALWAYS = 1_000_000  # win_probability_ppm: every draw wins
NEVER = 0
