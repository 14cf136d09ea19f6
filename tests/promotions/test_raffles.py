"""The raffle on its own: drawing, the daily entry limit, the daily prize budget, which
raffles are live, and how a prize lands on an order's lines. Orders are plain ids here;
re-pricing real orders is checkout's (tests/checkout/test_raffle_entry.py)."""

from __future__ import annotations

import datetime as dt
import inspect
import secrets
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from miniprogram_api.core import clock
from promotions import raffles
from promotions.models import RaffleDay, RaffleEntry, RaffleShopperDay
from promotions.pricing import RafflePrize, raffle_adjustments
from tests.factories import CustomerFactory

from .raffle_setup import ALWAYS, NEVER, make_raffle

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def always_win(_: int) -> int:
    return 0


def always_lose(n: int) -> int:
    return n - 1


def enter(raffle, customer, order_id: int, *, now=None, rng=always_lose, max_prize_fen=None) -> raffles.Draw:
    """As checkout calls it: inside a transaction, which a refusal rolls back."""
    with transaction.atomic():
        return raffles.draw(
            raffle_id=raffle.pk,
            customer_id=customer.pk,
            order_id=order_id,
            now=now or clock.now(),
            max_prize_fen=max_prize_fen,
            randbelow=rng,
        )


def counted(raffle, customer) -> int:
    return sum(RaffleShopperDay.objects.filter(raffle=raffle, customer=customer).values_list("entries", flat=True))


# --- Drawing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("drawn", "outcome"), [(99_999, "won"), (100_000, "lost")])
def test_a_draw_below_the_win_probability_wins_and_at_it_loses(drawn, outcome):
    raffle = make_raffle(win_probability_ppm=100_000)  # 10%: 0..99_999 of a million win
    customer = CustomerFactory()
    asked = []

    def rng(n: int) -> int:
        asked.append(n)
        return drawn

    result = enter(raffle, customer, 1, rng=rng)

    assert asked == [1_000_000]
    assert result.outcome == outcome and result.won == (outcome == "won")
    assert result.prize_fen == (1000 if outcome == "won" else 0)
    entry = RaffleEntry.objects.get(pk=result.entry_id)
    assert (entry.outcome, entry.won, entry.prize_fen, entry.order_id) == (
        outcome,
        outcome == "won",
        result.prize_fen,
        1,
    )
    assert entry.customer_id == customer.pk and entry.date == clock.local_today()
    spent = RaffleDay.objects.filter(raffle=raffle).values_list("spent_fen", flat=True).first()
    assert spent == (1000 if outcome == "won" else None)  # a loss does not even open the day's budget


def test_the_random_source_is_the_secure_one_unless_a_test_passes_another():
    assert inspect.signature(raffles.draw).parameters["randbelow"].default is secrets.randbelow


def test_probability_100_percent_always_wins_and_0_never_does():
    customer = CustomerFactory()
    sure = make_raffle(win_probability_ppm=ALWAYS, daily_prize_budget_fen=10**6, daily_entries_per_customer=50)
    never = make_raffle(win_probability_ppm=NEVER, daily_entries_per_customer=50)
    for order_id in range(1, 21):
        assert enter(sure, customer, order_id, rng=secrets.randbelow).outcome == "won"
        assert enter(never, customer, order_id, rng=secrets.randbelow).outcome == "lost"


def test_a_win_spends_the_days_budget_and_a_win_past_it_is_stored_as_budget_exhausted():
    raffle = make_raffle(prize_fen=1000, daily_prize_budget_fen=2500, daily_entries_per_customer=5)
    customer = CustomerFactory()

    outcomes = [enter(raffle, customer, order_id, rng=always_win) for order_id in (1, 2, 3)]

    assert [draw.outcome for draw in outcomes] == ["won", "won", "budget_exhausted"]
    assert [draw.prize_fen for draw in outcomes] == [1000, 1000, 0]
    day = RaffleDay.objects.get(raffle=raffle)
    assert (day.budget_fen, day.spent_fen) == (2500, 2000)
    stored = RaffleEntry.objects.get(order_id=3)
    assert (stored.outcome, stored.won, stored.prize_fen) == ("budget_exhausted", False, 0)
    assert counted(raffle, customer) == 3  # an exhausted win still used an entry


def test_a_prize_is_capped_at_what_the_order_has_left_and_only_that_is_spent():
    raffle = make_raffle(prize_fen=8800, daily_prize_budget_fen=10_000)
    customer = CustomerFactory()

    result = enter(raffle, customer, 1, rng=always_win, max_prize_fen=3000)

    assert (result.outcome, result.prize_fen) == ("won", 3000)
    assert RaffleDay.objects.get(raffle=raffle).spent_fen == 3000
    # 7000 left: a full 8800 prize no longer fits.
    assert enter(raffle, customer, 2, rng=always_win).outcome == "budget_exhausted"


def test_the_budget_is_per_shanghai_day():
    raffle = make_raffle(
        starts_at=dt.datetime(2026, 8, 1, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 8, 31, tzinfo=SHANGHAI),
        prize_fen=1000,
        daily_prize_budget_fen=1000,
        daily_entries_per_customer=5,
    )
    customer = CustomerFactory()
    late = dt.datetime(2026, 8, 8, 23, 59, tzinfo=SHANGHAI)  # 15:59 UTC
    next_day = dt.datetime(2026, 8, 9, 0, 1, tzinfo=SHANGHAI)  # 16:01 UTC, the same UTC date

    assert enter(raffle, customer, 1, now=late, rng=always_win).outcome == "won"
    assert enter(raffle, customer, 2, now=late, rng=always_win).outcome == "budget_exhausted"
    assert enter(raffle, customer, 3, now=next_day, rng=always_win).outcome == "won"

    assert dict(RaffleDay.objects.values_list("date", "spent_fen")) == {
        dt.date(2026, 8, 8): 1000,
        dt.date(2026, 8, 9): 1000,
    }


# --- Refusals, each changing nothing ---------------------------------------------------------


def test_entries_past_the_daily_limit_are_refused_and_the_next_shanghai_day_allows_more():
    raffle = make_raffle(
        starts_at=dt.datetime(2026, 8, 1, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 8, 31, tzinfo=SHANGHAI),
        daily_entries_per_customer=2,
    )
    customer, other = CustomerFactory(), CustomerFactory()
    today = dt.datetime(2026, 8, 8, 12, 0, tzinfo=SHANGHAI)
    enter(raffle, customer, 1, now=today)
    enter(raffle, customer, 2, now=today)

    with pytest.raises(raffles.RaffleEntryLimitReached) as refused:
        enter(raffle, customer, 3, now=today)

    assert refused.value.code == "raffle_entry_limit_reached"
    assert refused.value.details == {"daily_entries_per_customer": 2}
    assert not RaffleEntry.objects.filter(order_id=3).exists()
    assert counted(raffle, customer) == 2
    # Another shopper's allowance is their own; tomorrow (Shanghai) the shopper may enter again.
    assert enter(raffle, other, 4, now=today).outcome == "lost"
    assert enter(raffle, customer, 3, now=dt.datetime(2026, 8, 9, 0, 0, tzinfo=SHANGHAI)).outcome == "lost"


def test_a_second_entry_with_the_same_order_is_refused_without_using_an_entry():
    raffle = make_raffle(daily_entries_per_customer=5)
    customer = CustomerFactory()
    first = enter(raffle, customer, 7, rng=always_win)

    with pytest.raises(raffles.RaffleAlreadyEntered) as refused:
        enter(raffle, customer, 7, rng=always_win)

    assert refused.value.code == "raffle_already_entered"
    assert list(RaffleEntry.objects.values_list("pk", flat=True)) == [first.entry_id]
    assert counted(raffle, customer) == 1
    assert RaffleDay.objects.get(raffle=raffle).spent_fen == 1000
    # The same order may enter another raffle.
    assert enter(make_raffle(), customer, 7).outcome == "lost"


@pytest.mark.parametrize("raffle_id", ["switched_off", "unknown", 0, -1, 2**63])
def test_an_unknown_or_switched_off_raffle_is_not_found(raffle_id):
    customer = CustomerFactory()
    if raffle_id == "switched_off":
        raffle_id = make_raffle(active=False).pk
    elif raffle_id == "unknown":
        raffle_id = make_raffle().pk + 1000

    with pytest.raises(raffles.RaffleNotFound) as refused, transaction.atomic():
        raffles.draw(raffle_id=raffle_id, customer_id=customer.pk, order_id=1, now=clock.now())

    assert refused.value.code == "raffle_not_found"
    assert not RaffleEntry.objects.exists() and not RaffleShopperDay.objects.exists()


@pytest.mark.parametrize("when", ["before_start", "at_end", "after_end"])
def test_a_raffle_outside_its_window_is_not_live(when):
    starts = dt.datetime(2026, 8, 8, 0, 0, tzinfo=SHANGHAI)
    ends = dt.datetime(2026, 8, 9, 0, 0, tzinfo=SHANGHAI)
    raffle = make_raffle(starts_at=starts, ends_at=ends, win_probability_ppm=ALWAYS)
    now = {
        "before_start": starts - dt.timedelta(seconds=1),
        "at_end": ends,
        "after_end": ends + dt.timedelta(days=1),
    }[when]

    with pytest.raises(raffles.RaffleNotLive) as refused:
        enter(raffle, CustomerFactory(), 1, now=now, rng=always_win)

    assert refused.value.code == "raffle_not_live"
    assert not RaffleEntry.objects.exists() and not RaffleShopperDay.objects.exists()
    assert not RaffleDay.objects.exists()
    assert enter(raffle, CustomerFactory(), 1, now=starts, rng=always_win).outcome == "won"  # the start is in


@pytest.mark.django_db(transaction=True)
def test_draw_refuses_to_run_outside_a_transaction():
    raffle = make_raffle(win_probability_ppm=ALWAYS)

    with pytest.raises(RuntimeError):
        raffles.draw(raffle_id=raffle.pk, customer_id=CustomerFactory().pk, order_id=1, now=clock.now())

    assert not RaffleEntry.objects.exists() and not RaffleShopperDay.objects.exists()


# --- Live raffles ---------------------------------------------------------------------------


def test_live_raffles_lists_only_live_ones_with_the_shoppers_entries_left_today():
    now = clock.now()
    customer, other = CustomerFactory(), CustomerFactory()
    soon_over = make_raffle(name="Ends soon", ends_at=now + dt.timedelta(hours=2), daily_entries_per_customer=3)
    later = make_raffle(name="Ends later", daily_entries_per_customer=2)
    make_raffle(name="Switched off", active=False)
    make_raffle(name="Upcoming", starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=2))
    make_raffle(name="Over", starts_at=now - dt.timedelta(days=2), ends_at=now - dt.timedelta(days=1))
    enter(soon_over, customer, 1)
    enter(later, customer, 2)
    enter(later, customer, 3)
    enter(later, other, 4)
    RaffleShopperDay.objects.create(  # yesterday's entries do not count today
        raffle=soon_over, customer=customer, date=clock.local_today() - dt.timedelta(days=1), entries=3
    )

    live = raffles.live_raffles(customer_id=customer.pk, now=now)

    assert [(r.name, r.entries_left_today) for r in live] == [("Ends soon", 2), ("Ends later", 0)]
    assert live[0].id == soon_over.pk and live[0].prize_fen == 1000 and live[0].daily_entries_per_customer == 3
    assert live[0].starts_at == soon_over.starts_at and live[0].ends_at == soon_over.ends_at
    fresh = raffles.live_raffles(customer_id=CustomerFactory().pk, now=now)
    assert [r.entries_left_today for r in fresh] == [3, 2]


def test_live_raffles_takes_two_queries_however_many_are_live(django_assert_num_queries):
    customer = CustomerFactory()
    for order_id in range(1, 6):
        enter(make_raffle(), customer, order_id)

    with django_assert_num_queries(2):
        assert len(raffles.live_raffles(customer_id=customer.pk, now=clock.now())) == 5


# --- Where a prize lands on an order's lines (pure) -------------------------------------------


def test_raffle_adjustments_split_the_prize_over_the_lines_by_largest_remainder():
    prize = RafflePrize(raffle_id=9, prize_fen=1000, label="8.8 Lucky Draw")

    adjustments = raffle_adjustments({11: 3570, 12: 995}, prize)

    # 1000 x 3570/4565 = 782.04 and 1000 x 995/4565 = 217.96: the spare fen goes to line 12.
    assert [(a.source, a.promotion_id, a.line_key, a.amount_fen, a.label) for a in adjustments] == [
        ("raffle", 9, 11, 782, "8.8 Lucky Draw"),
        ("raffle", 9, 12, 218, "8.8 Lucky Draw"),
    ]


def test_raffle_adjustments_never_take_more_than_is_left_and_skip_lines_with_nothing_left():
    prize = RafflePrize(raffle_id=9, prize_fen=8800, label="Raffle")

    adjustments = raffle_adjustments({3: 1500, 1: 0, 2: 2500}, prize)

    assert [(a.line_key, a.amount_fen) for a in adjustments] == [(2, 2500), (3, 1500)]
    assert raffle_adjustments({1: 0}, prize) == ()


def test_raffle_adjustments_break_ties_by_line_key_not_by_the_order_lines_come_in():
    prize = RafflePrize(raffle_id=9, prize_fen=1, label="Raffle")

    forward = raffle_adjustments({5: 100, 6: 100}, prize)
    backward = raffle_adjustments({6: 100, 5: 100}, prize)

    assert forward == backward and [(a.line_key, a.amount_fen) for a in forward] == [(5, 1)]
