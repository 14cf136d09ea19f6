"""Properties of the pricing engine over generated baskets and promotions (hypothesis):
what must hold for any basket, not only the ones we thought of."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from promotions.pricing import PricingLine, Promotions, RafflePrize, compute

from .engine import FEE, NOW, brand_deal, coupon, flash, line

CHANNELS = st.sampled_from(["in_store", "delivery", "pickup"])


@st.composite
def baskets(draw):
    count = draw(st.integers(1, 25))
    lines = []
    for key in draw(st.lists(st.integers(1, 10_000), min_size=count, max_size=count, unique=True)):
        fixed = draw(st.none() | st.integers(1, 50_000))
        lines.append(
            PricingLine(
                key=key,
                product_id=draw(st.integers(1, 8)),
                quantity=draw(st.integers(1, 99)),
                unit_price_fen=draw(st.integers(1, 20_000)),
                fixed_total_fen=fixed,
                brand_id=draw(st.integers(1, 3)),
                category_id=draw(st.integers(1, 3)),
            )
        )
    return lines


@st.composite
def promotion_sets(draw):
    flash_offers = {
        product: flash(product, price=draw(st.integers(1, 20_000)), units=draw(st.integers(0, 5)))
        for product in draw(st.sets(st.integers(1, 8), max_size=4))
    }
    coupons = []
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["amount_off", "percent_off"]))
        coupons.append(
            coupon(
                1,
                kind=kind,
                threshold_fen=draw(st.integers(0, 50_000)),
                amount_off_fen=draw(st.integers(1, 100_000)),
                percent_off=draw(st.integers(1, 99)),
                cap_fen=draw(st.none() | st.integers(1, 10_000)),
                scope=draw(st.sampled_from(["everything", "brands", "categories"])),
                scope_ids=frozenset(draw(st.sets(st.integers(1, 3), max_size=2))),
                stacks_with_catalogue=draw(st.booleans()),
                channels=draw(st.sampled_from(["both", "in_store", "delivery"])),
            )
        )
    if draw(st.booleans()):
        coupons.append(coupon(2, kind="free_delivery", threshold_fen=draw(st.integers(0, 20_000))))
    prize = RafflePrize(raffle_id=9, prize_fen=draw(st.integers(1, 20_000)), label="Raffle")
    return Promotions(
        flash=flash_offers,
        brand_deal=brand_deal(brand=draw(st.integers(1, 3)), percent=draw(st.integers(1, 90)))
        if draw(st.booleans())
        else None,
        coupons=tuple(coupons),
        raffle_prize=prize if draw(st.booleans()) else None,
        delivery_fee=FEE,
    )


@settings(max_examples=150, deadline=None)
@given(lines=baskets(), promotions=promotion_sets(), channel=CHANNELS)
def test_totals_add_up_and_never_go_negative(lines, promotions, channel):
    priced = compute(lines=lines, channel=channel, promotions=promotions, now=NOW)
    assert priced.total_fen >= 0
    assert priced.goods_subtotal_fen == sum(line.total_fen for line in lines)
    assert priced.total_fen == priced.goods_subtotal_fen - priced.discount_fen + priced.delivery_fee_fen
    for priced_line in priced.lines:
        assert 0 <= priced_line.discount_fen <= priced_line.line_total_fen


@settings(max_examples=150, deadline=None)
@given(lines=baskets(), promotions=promotion_sets(), channel=CHANNELS)
def test_every_discount_is_allocated_to_the_lines_exactly(lines, promotions, channel):
    priced = compute(lines=lines, channel=channel, promotions=promotions, now=NOW)
    per_line = defaultdict(int)
    for adjustment in priced.adjustments:
        assert adjustment.amount_fen > 0
        if adjustment.line_key is not None:
            per_line[adjustment.line_key] += adjustment.amount_fen
    assert {line.key: line.discount_fen for line in priced.lines} == {
        line.key: per_line.get(line.key, 0) for line in priced.lines
    }
    assert sum(per_line.values()) == priced.discount_fen
    # Order-level discounts add up to what the promotion gave, in fen.
    for source in ("coupon", "raffle"):
        shares = [a.amount_fen for a in priced.adjustments if a.source == source and a.line_key is not None]
        if source == "raffle" and promotions.raffle_prize is not None and shares:
            left = priced.goods_subtotal_fen - (priced.discount_fen - sum(shares))
            assert sum(shares) == min(promotions.raffle_prize.prize_fen, left)


@settings(max_examples=100, deadline=None)
@given(lines=baskets(), promotions=promotion_sets(), channel=CHANNELS, data=st.data())
def test_the_result_does_not_depend_on_line_order(lines, promotions, channel, data):
    shuffled = data.draw(st.permutations(lines))
    first = compute(lines=lines, channel=channel, promotions=promotions, now=NOW)
    second = compute(lines=shuffled, channel=channel, promotions=promotions, now=NOW)
    assert first == second


@given(extra_lines=st.integers(0, 5))
def test_free_delivery_at_exactly_16900_and_not_at_16899(extra_lines):
    # However the goods are split over lines, 16,900 fen delivers free and 16,899 does not.
    def split(total):
        keys = range(1, extra_lines + 2)
        base, rest = divmod(total, len(keys))
        return [line(key, price=base + (1 if i < rest else 0)) for i, key in enumerate(keys)]

    free = compute(lines=split(16_900), channel="delivery", promotions=Promotions(delivery_fee=FEE), now=NOW)
    paid = compute(lines=split(16_899), channel="delivery", promotions=Promotions(delivery_fee=FEE), now=NOW)
    assert (free.delivery_fee_fen, free.total_fen) == (0, 16_900)
    assert (paid.delivery_fee_fen, paid.total_fen) == (800, 17_699)
