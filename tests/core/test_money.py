"""The one rounding rule for prices computed from a weight, in integer fen."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from miniprogram_api.core.money import divide_round_half_up, price_for_weight_fen


@pytest.mark.parametrize(
    ("weight_g", "price_per_kg_fen", "expected_fen"),
    [
        (1000, 1990, 1990),  # exactly a kilo
        (1234, 1990, 2456),  # 2455.66 rounds up
        (1234, 1000, 1234),
        (500, 1999, 1000),  # 999.5: a half rounds up, not to even
        (1500, 333, 500),  # 499.5 rounds up
        (1, 400, 0),  # 0.4 fen rounds down to nothing
        (1, 500, 1),  # 0.5 fen rounds up
        (0, 1990, 0),
    ],
)
def test_price_for_weight_rounds_half_up_to_the_fen(weight_g, price_per_kg_fen, expected_fen):
    assert price_for_weight_fen(weight_g=weight_g, price_per_kg_fen=price_per_kg_fen) == expected_fen


@given(weight_g=st.integers(0, 99_999), price_per_kg_fen=st.integers(1, 10_000_000))
def test_price_for_weight_matches_decimal_half_up(weight_g, price_per_kg_fen):
    exact = Decimal(weight_g) * Decimal(price_per_kg_fen) / Decimal(1000)
    expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert price_for_weight_fen(weight_g=weight_g, price_per_kg_fen=price_per_kg_fen) == expected


@pytest.mark.parametrize("bad", [1.5, Decimal("1.5"), "12", True, None])
def test_price_for_weight_refuses_anything_but_int(bad):
    with pytest.raises(TypeError):
        price_for_weight_fen(weight_g=bad, price_per_kg_fen=1990)
    with pytest.raises(TypeError):
        price_for_weight_fen(weight_g=1000, price_per_kg_fen=bad)


@pytest.mark.parametrize(("numerator", "denominator"), [(-1, 10), (10, 0), (10, -3)])
def test_divide_round_half_up_refuses_negative_or_zero_operands(numerator, denominator):
    with pytest.raises(ValueError):
        divide_round_half_up(numerator, denominator)


def test_divide_round_half_up_is_exact_beyond_float_precision():
    # 2**60 + 1 is not representable as a float; a float division would drop the 1.
    assert divide_round_half_up(2 * (2**60 + 1) + 1, 2) == 2**60 + 2
    assert divide_round_half_up(2 * (2**60 + 1), 2) == 2**60 + 1


# --- percent_of and allocate: the rounding of discounts -------------------------------------

from miniprogram_api.core.money import allocate, percent_of  # noqa: E402


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [(1000, 20, 200), (999, 15, 150), (995, 10, 100), (994, 10, 99), (1, 50, 1), (0, 30, 0), (12345, 100, 12345)],
)
def test_percent_of_rounds_half_up(amount, percent, expected):
    assert percent_of(amount, percent) == expected  # 149.85 -> 150, 99.5 -> 100, 99.4 -> 99


def test_allocate_gives_leftover_fen_to_the_largest_remainders():
    # 1000 over 500/300/300: exact shares 454.54, 272.72, 272.72 -> floors 454+272+272 = 998,
    # two fen left: the largest remainders are the two 0.72s.
    assert allocate(1000, {1: 500, 2: 300, 3: 300}) == {1: 454, 2: 273, 3: 273}


def test_allocate_breaks_ties_by_key_not_by_arrival():
    assert allocate(2, {3: 1, 1: 1, 2: 1}) == {1: 1, 2: 1, 3: 0}
    assert allocate(2, {1: 1, 2: 1, 3: 1}) == {1: 1, 2: 1, 3: 0}


def test_allocate_refuses_more_than_the_weights_and_floats():
    with pytest.raises(ValueError):
        allocate(11, {1: 5, 2: 5})
    with pytest.raises(TypeError):
        allocate(1.5, {1: 5})
    assert allocate(0, {1: 0, 2: 0}) == {1: 0, 2: 0}


@given(
    total_share=st.floats(min_value=0, max_value=1),
    weights=st.dictionaries(st.integers(1, 10_000), st.integers(0, 10_000_000), min_size=1, max_size=60),
)
def test_allocate_sums_exactly_and_never_exceeds_a_weight(total_share, weights):
    total = int(sum(weights.values()) * total_share)
    shares = allocate(total, weights)
    assert sum(shares.values()) == total
    assert all(0 <= shares[key] <= weights[key] for key in weights)
    # proportional to within one fen
    whole = sum(weights.values())
    if whole:
        assert all(abs(shares[key] * whole - total * weights[key]) < whole for key in weights)


# --- Refunds: units of a line, and the split over tenders -----------------------------------

import itertools  # noqa: E402

from miniprogram_api.core.money import refund_for_units, split_refund  # noqa: E402


def test_returning_units_one_by_one_refunds_exactly_the_lines_net():
    # 1000 fen over 3 units: 333.33 each; the floors of 1/3, 2/3 and 3/3 of it.
    refunds = [refund_for_units(net_fen=1000, quantity=3, returned_before=k, returning=1) for k in range(3)]

    assert refunds == [333, 333, 334]
    assert refund_for_units(net_fen=1000, quantity=3, returned_before=0, returning=3) == 1000
    assert refund_for_units(net_fen=1000, quantity=3, returned_before=1, returning=2) == 667


@given(
    net_fen=st.integers(0, 10_000_000),
    quantity=st.integers(1, 99),
    data=st.data(),
)
def test_any_sequence_of_returns_of_a_line_refunds_its_net_and_never_more_than_the_exact_share(net_fen, quantity, data):
    returned, refunded = 0, 0
    while returned < quantity:
        returning = data.draw(st.integers(1, quantity - returned))
        fen = refund_for_units(net_fen=net_fen, quantity=quantity, returned_before=returned, returning=returning)
        # Never more than the exact share of these units rounded up.
        assert fen * quantity <= net_fen * returning + quantity - 1
        returned += returning
        refunded += fen
    assert refunded == net_fen


@pytest.mark.parametrize(("before", "returning"), [(0, 4), (3, 1), (-1, 1), (0, -1)])
def test_refund_for_units_refuses_more_units_than_the_line_or_negative_ones(before, returning):
    with pytest.raises(ValueError):
        refund_for_units(net_fen=1000, quantity=3, returned_before=before, returning=returning)


def test_split_is_proportional_with_the_rounding_to_the_cards_in_id_order():
    # Paid 3000 by card 7, 2000 by card 3, 5000 by WeChat Pay; 999 fen back:
    # card 7 floor(299.7) = 299, card 3 floor(199.8) = 199, the payment the rest = 501.
    paid = {7: 3000, 3: 2000}
    cards, external = split_refund(
        999, card_paid=paid, card_remaining=dict(paid), external_paid=5000, external_remaining=5000
    )
    assert (cards, external) == ({3: 199, 7: 299}, 501)


def test_split_gives_the_rest_to_the_cards_when_the_payment_has_nothing_left():
    cards, external = split_refund(
        600, card_paid={1: 500, 2: 500}, card_remaining={1: 500, 2: 400}, external_paid=1000, external_remaining=100
    )
    # Shares 150 and 150; the payment takes its last 100; the 200 left go to card 1 first.
    assert (cards, external) == ({1: 350, 2: 150}, 100)


def test_split_of_an_order_with_only_an_external_payment_or_only_cards():
    assert split_refund(700, card_paid={}, card_remaining={}, external_paid=900, external_remaining=900) == ({}, 700)
    assert split_refund(700, card_paid={4: 900}, card_remaining={4: 900}, external_paid=0, external_remaining=0) == (
        {4: 700},
        0,
    )
    assert split_refund(0, card_paid={}, card_remaining={}, external_paid=0, external_remaining=0) == ({}, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        # More than the tenders still have.
        {"card_paid": {1: 500}, "card_remaining": {1: 100}, "external_paid": 500, "external_remaining": 0},
        # A card with more to refund than it paid.
        {"card_paid": {1: 50}, "card_remaining": {1: 600}, "external_paid": 0, "external_remaining": 0},
    ],
)
def test_split_refuses_what_the_tenders_cannot_take(kwargs):
    with pytest.raises(ValueError):
        split_refund(200, **kwargs)


@st.composite
def paid_orders(draw):
    """An order's tenders (cards by id and an external payment) and its lines' nets, which
    together with an optional delivery fee add up to what the tenders paid."""
    card_paid = draw(st.dictionaries(st.integers(1, 50), st.integers(1, 100_000), max_size=4))
    external_paid = draw(st.integers(0 if card_paid else 1, 2_000_000))
    total = sum(card_paid.values()) + external_paid
    fee = draw(st.integers(0, min(total, 1500)))
    cuts = sorted(draw(st.lists(st.integers(0, total - fee), max_size=5)))
    bounds = [0, *cuts, total - fee]
    nets = [b - a for a, b in itertools.pairwise(bounds)]
    return card_paid, external_paid, nets, fee


@given(order=paid_orders(), data=st.data())
def test_all_returns_of_an_order_refund_exactly_what_each_tender_paid(order, data):
    card_paid, external_paid, nets, fee = order
    card_remaining, external_remaining = dict(card_paid), external_paid
    # Return the lines in a random order, in random groups; the last return brings the fee.
    pending = data.draw(st.permutations(range(len(nets))))
    while pending:
        take = data.draw(st.integers(1, len(pending)))
        group, pending = pending[:take], pending[take:]
        refund = sum(nets[i] for i in group) + (fee if not pending else 0)

        cards, external = split_refund(
            refund,
            card_paid=card_paid,
            card_remaining=card_remaining,
            external_paid=external_paid,
            external_remaining=external_remaining,
        )

        assert sum(cards.values()) + external == refund
        assert 0 <= external <= external_remaining
        for card_id, fen in cards.items():
            assert 0 < fen <= card_remaining[card_id]
            card_remaining[card_id] -= fen
        external_remaining -= external
    assert external_remaining == 0
    assert all(fen == 0 for fen in card_remaining.values())
