"""The pricing engine, step by step, on plain values: what each promotion takes off, in
which order, and how order discounts land on the lines."""

from __future__ import annotations

import pytest

from promotions import pricing
from promotions.pricing import Promotions, RafflePrize, compute

from .engine import FEE, NOW, WEEK, brand_deal, coupon, flash, line


def price(lines, channel="in_store", **promotions):
    return compute(lines=lines, channel=channel, promotions=Promotions(**promotions), now=NOW)


def sources(priced):
    return [(a.source, a.line_key, a.amount_fen) for a in priced.adjustments]


def test_base_prices_only():
    priced = price([line(1, price=1250, qty=3), line(2, price=999, fixed=2456)])
    assert priced.goods_subtotal_fen == 3750 + 2456
    assert priced.total_fen == 6206
    assert priced.discount_fen == 0 and priced.adjustments == ()


def test_flash_price_reaches_only_the_units_the_shopper_may_still_buy():
    priced = price([line(1, price=1000, qty=5)], flash={1: flash(1, price=600, units=2)})
    assert sources(priced) == [("flash_sale", 1, 800)]  # 2 units x 400 off
    assert priced.adjustments[0].units == 2 and priced.adjustments[0].item_id == 101
    assert priced.total_fen == 4200


def test_flash_price_skips_scale_labels_and_sold_out_items():
    labelled = price([line(1, price=1000, fixed=1234)], flash={1: flash(1, price=600)})
    sold_out = price([line(1, price=1000)], flash={1: flash(1, price=600, units=0)})
    assert labelled.adjustments == () and sold_out.adjustments == ()


def test_the_better_catalogue_deal_wins_and_never_both():
    lines = [line(1, price=1000, qty=2), line(2, price=1000, qty=2)]
    # line 1: flash 100 off x2 = 200 vs BotD 20% = 400 -> BotD; line 2: flash 500 off x2 = 1000 -> flash
    priced = price(lines, flash={1: flash(1, price=900), 2: flash(2, price=500)}, brand_deal=brand_deal(percent=20))
    assert sources(priced) == [("brand_of_the_day", 1, 400), ("flash_sale", 2, 1000)]
    assert priced.line(1).discount_fen == 400 and priced.line(2).discount_fen == 1000


def test_brand_of_the_day_only_on_its_brand_and_rounded_half_up():
    priced = price([line(1, price=995, brand=1), line(2, price=995, brand=2)], brand_deal=brand_deal(percent=10))
    assert sources(priced) == [("brand_of_the_day", 1, 100)]  # 99.5 -> 100


def test_amount_off_coupon_above_threshold_is_allocated_to_the_lines():
    lines = [line(1, price=5000), line(2, price=3000), line(3, price=3000)]
    priced = price(lines, coupons=(coupon(kind="amount_off", threshold_fen=9900, amount_off_fen=1000),))
    assert priced.applied_coupon_ids == (1,)
    # 454.54 / 272.72 / 272.72: floors 454 + 272 + 272, the two fen left go to the .72s
    assert sources(priced) == [("coupon", 1, 454), ("coupon", 2, 273), ("coupon", 3, 273)]
    assert priced.discount_fen == 1000 and priced.total_fen == 10_000


def test_coupon_threshold_counts_goods_after_catalogue_deals():
    lines = [line(1, price=10_000)]
    terms = {"kind": "amount_off", "threshold_fen": 9900, "amount_off_fen": 1000}
    priced = price(lines, brand_deal=brand_deal(percent=10), coupons=(coupon(**terms),))
    assert priced.coupon_problems == {1: pricing.BELOW_THRESHOLD}  # 9000 after BotD < 9900
    assert priced.total_fen == 9000


def test_percent_off_coupon_is_capped():
    lines = [line(1, price=30_000)]
    capped = price(lines, coupons=(coupon(kind="percent_off", percent_off=10, cap_fen=2000),))
    uncapped = price(lines, coupons=(coupon(kind="percent_off", percent_off=10),))
    assert capped.discount_fen == 2000 and uncapped.discount_fen == 3000


def test_coupon_scope_and_stacking():
    lines = [line(1, price=6000, brand=1), line(2, price=6000, brand=2)]
    scoped = coupon(kind="amount_off", amount_off_fen=1000, scope="brands", scope_ids=frozenset({2}))
    priced = price(lines, coupons=(scoped,))
    assert sources(priced) == [("coupon", 2, 1000)]
    # A coupon that does not stack ignores lines on a catalogue deal.
    no_stack = coupon(kind="amount_off", amount_off_fen=1000, threshold_fen=6000, stacks_with_catalogue=False)
    priced = price(lines, brand_deal=brand_deal(brand=1, percent=10), coupons=(no_stack,))
    assert sources(priced) == [("brand_of_the_day", 1, 600), ("coupon", 2, 1000)]
    nothing = price([line(1, price=6000)], brand_deal=brand_deal(percent=10), coupons=(no_stack,))
    assert nothing.coupon_problems == {1: pricing.NOTHING_ELIGIBLE}


@pytest.mark.parametrize(
    ("terms", "channel", "reason"),
    [
        ({"valid_until": NOW}, "in_store", pricing.EXPIRED),
        ({"valid_from": NOW + WEEK}, "in_store", pricing.NOT_YET_VALID),
        ({"channels": "delivery"}, "in_store", pricing.WRONG_CHANNEL),
        ({"channels": "in_store"}, "delivery", pricing.WRONG_CHANNEL),
        ({"usable": False}, "in_store", pricing.NOT_AVAILABLE),
        ({"threshold_fen": 100_001}, "in_store", pricing.BELOW_THRESHOLD),
    ],
)
def test_coupons_that_do_not_apply_say_why_and_take_nothing(terms, channel, reason):
    priced = price([line(1, price=100_000)], channel, coupons=(coupon(amount_off_fen=500, **terms),))
    assert priced.coupon_problems == {1: reason}
    assert priced.applied_coupon_ids == () and priced.discount_fen == 0


def test_one_order_coupon_and_one_delivery_coupon_at_most():
    coupons = (
        coupon(1, amount_off_fen=500),
        coupon(2, amount_off_fen=900),
        coupon(3, kind="free_delivery"),
        coupon(4, kind="free_delivery"),
    )
    priced = price([line(1, price=5000)], "delivery", coupons=coupons, delivery_fee=FEE)
    assert priced.applied_coupon_ids == (1, 3)
    assert priced.coupon_problems == {2: pricing.ONE_ORDER_COUPON, 4: pricing.ONE_DELIVERY_COUPON}
    assert priced.delivery_fee_fen == 0 and priced.total_fen == 4500


def test_raffle_prize_comes_off_what_is_left_and_never_below_zero():
    prize = RafflePrize(raffle_id=9, prize_fen=8800, label="Raffle")
    big = price([line(1, price=10_000), line(2, price=5000)], raffle_prize=prize)
    assert sources(big) == [("raffle", 1, 5867), ("raffle", 2, 2933)]
    small = price([line(1, price=3000)], raffle_prize=prize, coupons=(coupon(amount_off_fen=1000),))
    assert small.discount_fen == 3000 and small.total_fen == 0
    assert sources(small) == [("coupon", 1, 1000), ("raffle", 1, 2000)]


def test_delivery_fee_free_from_16900_after_discounts():
    assert price([line(1, price=16_900)], "delivery", delivery_fee=FEE).delivery_fee_fen == 0
    charged = price([line(1, price=16_899)], "delivery", delivery_fee=FEE)
    assert charged.delivery_fee_fen == 800 and charged.total_fen == 17_699
    assert sources(charged) == [("delivery_fee", None, 800)]
    # 17,000 of goods, 200 off with a coupon: 16,800 after discounts pays the fee.
    discounted = price([line(1, price=17_000)], "delivery", delivery_fee=FEE, coupons=(coupon(amount_off_fen=200),))
    assert discounted.delivery_fee_fen == 800
    # No fee in store or for pick-up.
    assert price([line(1, price=100)], "pickup", delivery_fee=FEE).delivery_fee_fen == 0


def test_free_delivery_coupon_cancels_the_fee_and_is_refused_when_nothing_to_cancel():
    free = coupon(5, kind="free_delivery", threshold_fen=5000)
    priced = price([line(1, price=6000)], "delivery", delivery_fee=FEE, coupons=(free,))
    assert sources(priced) == [("delivery_fee", None, 800), ("coupon", None, 800)]
    assert priced.delivery_fee_fen == 0 and priced.total_fen == 6000
    assert price([line(1, price=4000)], "delivery", delivery_fee=FEE, coupons=(free,)).coupon_problems == {
        5: pricing.BELOW_THRESHOLD
    }
    assert price([line(1, price=20_000)], "delivery", delivery_fee=FEE, coupons=(free,)).coupon_problems == {
        5: pricing.DELIVERY_ALREADY_FREE
    }
    assert price([line(1, price=6000)], "in_store", coupons=(free,)).coupon_problems == {
        5: pricing.NOT_A_DELIVERY_ORDER
    }


def test_flash_sale_channel_is_respected():
    offer = flash(1, price=500, channels="delivery")
    assert price([line(1, price=1000)], "in_store", flash={1: offer}).discount_fen == 0
    assert price([line(1, price=1000)], "delivery", flash={1: offer}).discount_fen == 500


def test_adjustments_come_in_the_engines_order():
    lines = [line(1, price=10_000, qty=2), line(2, price=500)]
    priced = price(
        lines,
        "delivery",
        flash={2: flash(2, price=100)},
        brand_deal=brand_deal(percent=5),
        coupons=(coupon(kind="percent_off", percent_off=10, cap_fen=5000),),
        raffle_prize=RafflePrize(raffle_id=9, prize_fen=8800, label="Raffle"),
        delivery_fee=FEE,
    )
    step = {"brand_of_the_day": 0, "flash_sale": 0, "coupon": 1, "raffle": 2, "delivery_fee": 3}
    order = [step[a.source] for a in priced.adjustments]
    assert order == sorted(order) and set(order) == {0, 1, 2, 3}
    assert priced.total_fen == priced.goods_subtotal_fen - priced.discount_fen + priced.delivery_fee_fen
    assert sum(line.discount_fen for line in priced.lines) == priced.discount_fen
