"""The raffle: which raffles a shopper can enter now, and drawing one entry.

``draw`` runs inside the caller's transaction (checkout's raffle entry, which holds the
order's lock) and spends two limited things, each with a conditional UPDATE on a counter
row so parallel entries can neither pass the limit nor the budget:

* the shopper's entries today (``RaffleShopperDay.entries < daily_entries_per_customer``);
* the day's prize budget (``RaffleDay.spent_fen + prize <= budget_fen``): a winning draw
  when the budget is spent is stored as ``budget_exhausted``, not silently as a loss, so
  the admin can see how many prizes the budget turned away.

"Today" is the Shanghai calendar day. Every entry is stored with its outcome. A refusal
raises before anything is kept (the caller's transaction rolls back), so a refused entry
does not use up one of the shopper's entries.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.db import IntegrityError, transaction
from django.db.models import F

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, NotFound, Unprocessable
from stores.selectors import MAX_ID

from .models import Raffle, RaffleDay, RaffleEntry, RaffleShopperDay

PPM = 1_000_000

Outcome = Literal["won", "lost", "budget_exhausted"]
WON: Outcome = "won"
LOST: Outcome = "lost"
BUDGET_EXHAUSTED: Outcome = "budget_exhausted"

# ``randbelow(n)`` -> an int in [0, n). The secure default; tests pass a fixed one.
RandomSource = Callable[[int], int]


class RaffleNotFound(NotFound):
    code = "raffle_not_found"
    default_message = "There is no such raffle."


class RaffleNotLive(Unprocessable):
    code = "raffle_not_live"
    default_message = "This raffle is not open for entries now."


class RaffleAlreadyEntered(Conflict):
    code = "raffle_already_entered"
    default_message = "This order has already been entered in this raffle."


class RaffleEntryLimitReached(Conflict):
    code = "raffle_entry_limit_reached"
    default_message = "You have used all of today's entries in this raffle."


@dataclass(frozen=True)
class LiveRaffle:
    id: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    prize_fen: int
    daily_entries_per_customer: int
    entries_left_today: int


@dataclass(frozen=True)
class Draw:
    entry_id: int
    raffle_id: int
    outcome: Outcome
    prize_fen: int  # what the win takes off the order; 0 unless won
    label: str  # the raffle's name, for the order's explanation

    @property
    def won(self) -> bool:
        return self.outcome == WON


def live_raffles(*, customer_id: int, now: dt.datetime) -> list[LiveRaffle]:
    """Raffles open for entries at ``now``, soonest-ending first, with the entries the
    shopper has left today. Two queries, however many raffles are live."""
    raffles = list(Raffle.objects.filter(Raffle.live_q(now)).order_by("ends_at", "pk"))
    used = dict(
        RaffleShopperDay.objects.filter(
            raffle_id__in=[raffle.pk for raffle in raffles], customer_id=customer_id, date=clock.local_date(now)
        ).values_list("raffle_id", "entries")
    )
    return [
        LiveRaffle(
            id=raffle.pk,
            name=raffle.name,
            starts_at=raffle.starts_at,
            ends_at=raffle.ends_at,
            prize_fen=raffle.prize_fen,
            daily_entries_per_customer=raffle.daily_entries_per_customer,
            entries_left_today=max(0, raffle.daily_entries_per_customer - used.get(raffle.pk, 0)),
        )
        for raffle in raffles
    ]


def draw(
    *,
    raffle_id: int,
    customer_id: int,
    order_id: int,
    now: dt.datetime,
    max_prize_fen: int | None = None,
    randbelow: RandomSource = secrets.randbelow,
) -> Draw:
    """Enter ``order_id`` in the raffle and draw at once; call inside a transaction.

    ``max_prize_fen`` is what the order has left to take a prize off: a win gives (and
    spends from the budget) at most that, so the budget counts fen actually given away.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("draw() spends counters and must run inside the caller's transaction")
    raffle = Raffle.objects.filter(pk=raffle_id, active=True).first() if 0 < raffle_id <= MAX_ID else None
    if raffle is None:
        raise RaffleNotFound()
    if not raffle.is_live(now):
        raise RaffleNotLive(
            details={"starts_at": clock.local_iso(raffle.starts_at), "ends_at": clock.local_iso(raffle.ends_at)}
        )
    if RaffleEntry.objects.filter(raffle=raffle, order_id=order_id).exists():
        raise RaffleAlreadyEntered(details={"order_id": order_id})

    today = clock.local_date(now)
    _count_entry(raffle, customer_id=customer_id, today=today)

    outcome, prize_fen = LOST, 0
    if randbelow(PPM) < raffle.win_probability_ppm:
        prize_fen = raffle.prize_fen if max_prize_fen is None else max(0, min(raffle.prize_fen, max_prize_fen))
        outcome = WON if _spend_budget(raffle, today=today, prize_fen=prize_fen) else BUDGET_EXHAUSTED
        if outcome != WON:
            prize_fen = 0
    try:
        with transaction.atomic():
            entry = RaffleEntry.objects.create(
                raffle=raffle,
                customer_id=customer_id,
                order_id=order_id,
                date=today,
                won=outcome == WON,
                prize_fen=prize_fen,
                outcome=outcome,
            )
    except IntegrityError:  # the same order entered at the same moment (raffle_entry_one_per_order)
        raise RaffleAlreadyEntered(details={"order_id": order_id}) from None
    return Draw(entry_id=entry.pk, raffle_id=raffle.pk, outcome=outcome, prize_fen=prize_fen, label=raffle.name)


def _count_entry(raffle: Raffle, *, customer_id: int, today: dt.date) -> None:
    day, _ = RaffleShopperDay.objects.get_or_create(raffle=raffle, customer_id=customer_id, date=today)
    counted = RaffleShopperDay.objects.filter(pk=day.pk, entries__lt=raffle.daily_entries_per_customer).update(
        entries=F("entries") + 1
    )
    if not counted:
        raise RaffleEntryLimitReached(details={"daily_entries_per_customer": raffle.daily_entries_per_customer})


def _spend_budget(raffle: Raffle, *, today: dt.date, prize_fen: int) -> bool:
    """Take ``prize_fen`` from the day's budget if it is all still there. The budget of a
    day is fixed when its first prize is won, so staff raising it applies from the next day."""
    day, _ = RaffleDay.objects.get_or_create(
        raffle=raffle, date=today, defaults={"budget_fen": raffle.daily_prize_budget_fen}
    )
    return bool(
        RaffleDay.objects.filter(pk=day.pk, spent_fen__lte=F("budget_fen") - prize_fen).update(
            spent_fen=F("spent_fen") + prize_fen
        )
    )
