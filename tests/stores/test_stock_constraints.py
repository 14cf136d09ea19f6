"""Stock can never go below zero, nor be reserved past what is on hand: the database says so.

Services spend stock with conditional UPDATEs; these CHECK constraints are the last word if
one ever forgets, including under parallel clients.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from stores.models import Stock
from tests.factories import StockFactory
from tests.parallel import run_in_parallel


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"on_hand": F("on_hand") - 6}, {"reserved": F("reserved") - 1}, {"reserved": F("on_hand") + 1}],
    ids=["on-hand-below-zero", "reserved-below-zero", "reserved-past-on-hand"],
)
def test_database_refuses_impossible_stock(change):
    stock = StockFactory(on_hand=5, reserved=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(**change)

    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (5, 0)


@pytest.mark.django_db
def test_reserving_the_last_units_fills_on_hand_exactly():
    stock = StockFactory(on_hand=5, reserved=4)

    Stock.objects.filter(pk=stock.pk).update(reserved=F("reserved") + 1)

    stock.refresh_from_db()
    assert stock.available == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_unconditional_decrements_of_five_units_sell_five():
    """Even code that forgets the condition cannot oversell: 15 of 20 writers are refused."""
    stock = StockFactory(on_hand=5, reserved=0)

    def buy_one(_: int) -> str:
        try:
            with transaction.atomic():
                Stock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") - 1)
        except IntegrityError:
            return "refused"
        return "sold"

    outcomes = run_in_parallel(buy_one, 20)

    stock.refresh_from_db()
    assert sorted(outcomes).count("sold") == 5
    assert outcomes.count("refused") == 15
    assert stock.on_hand == 0
