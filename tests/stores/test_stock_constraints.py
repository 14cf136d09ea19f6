"""Stock can never go below zero, nor be reserved past what is on hand: the database says so.

Services spend stock with conditional UPDATEs; these CHECK constraints are the last word if
one ever forgets, including under parallel clients.
"""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connections, transaction
from django.db.models import F

from stores.models import Stock
from tests.factories import StockFactory


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
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def buy_one() -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                Stock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") - 1)
            outcome = "sold"
        except IntegrityError:
            outcome = "refused"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=buy_one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stock.refresh_from_db()
    assert sorted(outcomes).count("sold") == 5
    assert outcomes.count("refused") == 15
    assert stock.on_hand == 0
