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
