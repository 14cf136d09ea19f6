"""The gift-card ledger invariant over randomized sequences (hypothesis, stateful): cards
bought, topped up, spent (hold then capture), left unpaid (hold then release), refunded
and given to friends, in any order. After every step each card's balance and held amount
equal its ledger, no card is below zero or past its cap, and the money on all cards is
exactly what was bought, topped up and refunded minus what was spent."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from miniprogram_api.core import clock
from promotions import gift_card_ledger as ledger
from promotions.models import GiftCard
from promotions.models.gift_cards import GIFT_CARD_CAP_FEN
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SHOPPERS = 3
AMOUNTS = st.integers(1, GIFT_CARD_CAP_FEN)


class GiftCardLedgerMachine(RuleBasedStateMachine):
    """Drives ``gift_card_ledger`` as checkout, settlement, refunds and claims do, each step
    in its own transaction (a savepoint inside the example's, rolled back at the end)."""

    def __init__(self):
        super().__init__()
        self._example = transaction.atomic()
        self._example.__enter__()
        self.shoppers = [CustomerFactory().pk for _ in range(SHOPPERS)]
        self.ids = itertools.count(1)
        self.pending: dict[int, int] = {}  # order id -> customer, cards held for it
        self.paid: dict[int, tuple[int, dict[int, int]]] = {}  # order id -> (customer, fen left per card)
        self.bought = self.topped_up = self.refunded = self.captured = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    # --- helpers ---

    def _cards(self, **filters) -> list[GiftCard]:
        return list(GiftCard.objects.filter(**filters).order_by("pk"))

    # --- rules ---

    @rule(shopper=st.integers(0, SHOPPERS - 1), amount=AMOUNTS)
    def buy(self, shopper, amount):
        with transaction.atomic():
            ledger.issue(owner_id=self.shoppers[shopper], amount_fen=amount, order_id=next(self.ids))
        self.bought += amount

    @precondition(lambda self: GiftCard.objects.exists())
    @rule(data=st.data(), amount=AMOUNTS)
    def top_up(self, data, amount):
        card = data.draw(st.sampled_from(self._cards()))
        with transaction.atomic():
            locked = ledger.lock_cards([card.pk])[card.pk]
            ledger.credit(
                locked, amount_fen=amount, kind="top_up", customer_id=locked.owner_id, order_id=next(self.ids)
            )
        self.topped_up += amount

    @precondition(lambda self: GiftCard.objects.filter(balance_fen__gt=0).exists())
    @rule(data=st.data())
    def checkout(self, data):
        """A checkout holds the chosen cards of one shopper for an order's total."""
        owner = data.draw(st.sampled_from(sorted({card.owner_id for card in self._cards(balance_fen__gt=0)})))
        mine = [card.pk for card in self._cards(owner_id=owner, balance_fen__gt=0)]
        chosen = data.draw(st.lists(st.sampled_from(mine), min_size=1, unique=True))
        total = data.draw(st.integers(1, 2 * GIFT_CARD_CAP_FEN))
        order_id = next(self.ids)
        with transaction.atomic():
            cards = ledger.lock_cards(chosen)
            plan = ledger.spend_plan(cards, card_ids=chosen, customer_id=owner, total_fen=total, now=clock.now())
            ledger.hold(cards, plan, order_id=order_id)
        assert sum(plan.values()) == min(total, sum(cards[c].balance_fen + plan.get(c, 0) for c in chosen))
        self.pending[order_id] = owner

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def pay(self, data):
        order_id = data.draw(st.sampled_from(sorted(self.pending)))
        with transaction.atomic():
            held = ledger.held_for_order(order_id)
            captured = ledger.capture_for_order(order_id=order_id)
        assert captured == sum(held.values())
        self.captured += captured
        self.paid[order_id] = (self.pending.pop(order_id), held)

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def time_out(self, data):
        order_id = data.draw(st.sampled_from(sorted(self.pending)))
        with transaction.atomic():
            ledger.release_for_order(order_id=order_id)
        del self.pending[order_id]
        assert ledger.held_for_order(order_id) == {}

    @precondition(lambda self: any(sum(left.values()) for _, left in self.paid.values()))
    @rule(data=st.data())
    def refund(self, data):
        """Part of what a card paid comes back to it (or, past the cap or after the card
        was given away, onto a new card of the shopper who paid)."""
        order_id = data.draw(st.sampled_from(sorted(o for o, (_, left) in self.paid.items() if sum(left.values()))))
        customer, left = self.paid[order_id]
        card_id = data.draw(st.sampled_from(sorted(c for c, fen in left.items() if fen)))
        amount = data.draw(st.integers(1, left[card_id]))
        with transaction.atomic():
            card = ledger.lock_cards([card_id])[card_id]
            credited = ledger.credit(
                card,
                amount_fen=amount,
                kind="refund",
                customer_id=customer,
                order_id=order_id,
                refund_id=next(self.ids),
            )
        assert credited.amount_fen + credited.overflow_fen == amount
        left[card_id] -= amount
        self.refunded += amount

    @precondition(lambda self: GiftCard.objects.filter(held_fen=0).exists())
    @rule(data=st.data(), to=st.integers(0, SHOPPERS - 1))
    def give_to_a_friend(self, data, to):
        card = data.draw(st.sampled_from(self._cards(held_fen=0)))
        with transaction.atomic():
            locked = ledger.lock_cards([card.pk])[card.pk]
            ledger.transfer(locked, to_customer_id=self.shoppers[to], share_id=next(self.ids))

    # --- what must always hold ---

    @invariant()
    def balances_equal_their_ledgers(self):
        assert ledger.ledger_problems() == []

    @invariant()
    def no_card_below_zero_or_past_its_cap(self):
        for card in GiftCard.objects.all():
            assert card.balance_fen >= 0 and card.held_fen >= 0
            assert card.balance_fen + card.held_fen <= GIFT_CARD_CAP_FEN

    @invariant()
    def no_money_appears_or_vanishes(self):
        totals = GiftCard.objects.aggregate(balance=Sum("balance_fen", default=0), held=Sum("held_fen", default=0))
        assert totals["balance"] + totals["held"] == self.bought + self.topped_up + self.refunded - self.captured
        assert totals["held"] == sum(sum(ledger.held_for_order(o).values()) for o in self.pending)


def test_the_ledger_invariant_holds_for_any_sequence_of_card_operations():
    run_state_machine_as_test(
        GiftCardLedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
