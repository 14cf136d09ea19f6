"""The pricing engine: one function from lines to an explained price.

Callers (baskets, carts, checkout, the coupon list, refunds) hand in plain lines and get
back every line's total, an ordered list of adjustments and the totals, all in fen.

``compute`` is pure: lines, the channel, the promotions that could apply (``Promotions``,
plain values) and "now" in, a ``PricedBasket`` out, no queries. ``price_lines`` loads the
promotions for a store or city, customer and chosen coupons in a fixed number of queries
(``promotions.loading``) and calls it. The order of the steps is the retailer's rule:

1. catalogue prices: per line, a flash-sale price or the Brand of the Day discount,
   whichever is better for the shopper, never both;
2. order coupons (满减 or percent off with a cap) on the eligible subtotal;
3. the raffle prize, off what is left of the whole order;
4. the delivery fee rule (free from a goods amount after discounts), then a free-delivery
   coupon.

Every order-level discount is allocated to the lines it was computed on with the
largest-remainder method (``money.allocate``), so each line carries exactly its share and
a partial return can refund it. Amounts never go below zero: a discount is capped at what
it is taken from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Literal, NamedTuple

from miniprogram_api.core.money import allocate, percent_of

Channel = Literal["in_store", "delivery", "pickup"]

# Why a chosen coupon does not apply; stable codes the client can translate.
NOT_AVAILABLE = "not_available"  # used, locked on another order, or not the shopper's
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
WRONG_CHANNEL = "wrong_channel"
BELOW_THRESHOLD = "below_threshold"
NOTHING_ELIGIBLE = "nothing_eligible"
DELIVERY_ALREADY_FREE = "delivery_already_free"
NOT_A_DELIVERY_ORDER = "not_a_delivery_order"
ONE_ORDER_COUPON = "one_order_coupon_only"
ONE_DELIVERY_COUPON = "one_delivery_coupon_only"


class PricingLine(NamedTuple):
    """A line to price. ``fixed_total_fen`` is set for scale labels (the printed price, or
    weight x price per kg): such a line costs exactly that, whatever its quantity. Brand and
    category decide which promotions reach the line. Keys must be mutually comparable
    (line ids): allocation breaks ties by key.

    A named tuple, like ``PricedLine``, rather than a frozen dataclass: every scan builds one
    per basket line, and a frozen dataclass costs several times more to build."""

    key: Hashable
    product_id: int
    quantity: int
    unit_price_fen: int
    fixed_total_fen: int | None = None
    brand_id: int | None = None
    category_id: int | None = None

    @property
    def total_fen(self) -> int:
        return self.fixed_total_fen if self.fixed_total_fen is not None else self.unit_price_fen * self.quantity


# --- The promotions that may apply (loaded by promotions.loading, or built by tests) ------


@dataclass(frozen=True)
class FlashOffer:
    """A live flash-sale item for one product. ``units`` is how many this shopper may still
    buy at the flash price now: the quota left, capped by their per-shopper limit."""

    sale_id: int
    item_id: int
    product_id: int
    flash_price_fen: int
    units: int
    label: str
    channels: str = "both"


@dataclass(frozen=True)
class BrandDeal:
    promotion_id: int
    brand_id: int
    percent_off: int
    label: str


@dataclass(frozen=True)
class CouponOffer:
    """A coupon the shopper chose, with its template's terms. ``usable`` is False when it is
    used, locked on another order or not theirs."""

    coupon_id: int
    kind: str  # amount_off / percent_off / free_delivery
    label: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    channels: str = "both"  # both / in_store / delivery
    threshold_fen: int = 0
    amount_off_fen: int = 0
    percent_off: int = 0
    cap_fen: int | None = None
    scope: str = "everything"  # everything / brands / categories / products
    scope_ids: frozenset[int] = frozenset()
    stacks_with_catalogue: bool = True
    usable: bool = True

    @property
    def is_delivery_coupon(self) -> bool:
        return self.kind == "free_delivery"

    def covers(self, line: PricingLine) -> bool:
        if self.scope == "everything":
            return True
        value = {"brands": line.brand_id, "categories": line.category_id, "products": line.product_id}[self.scope]
        return value in self.scope_ids


@dataclass(frozen=True)
class RafflePrize:
    raffle_id: int
    prize_fen: int
    label: str


@dataclass(frozen=True)
class DeliveryFee:
    rule_id: int | None
    fee_fen: int
    free_from_fen: int
    label: str = "Delivery fee"


@dataclass(frozen=True)
class Promotions:
    flash: Mapping[int, FlashOffer] = field(default_factory=dict)  # by product id
    brand_deal: BrandDeal | None = None
    coupons: tuple[CouponOffer, ...] = ()
    raffle_prize: RafflePrize | None = None
    delivery_fee: DeliveryFee | None = None


# --- What comes out -----------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    source: str  # flash_sale / brand_of_the_day / coupon / raffle / delivery_fee
    promotion_id: int | None  # the flash sale, Brand of the Day row, coupon, raffle or fee rule
    line_key: Hashable | None
    amount_fen: int  # fen off (positive) or, for the delivery fee, fen added
    label: str
    units: int | None = None  # flash sales: units at the flash price (what the quota spends)
    item_id: int | None = None  # flash sales: the item whose quota is spent


class PricedLine(NamedTuple):
    key: Hashable
    line_total_fen: int  # before any discount
    discount_fen: int  # every discount on the line: catalogue plus its share of order discounts
    catalogue_discount_fen: int = 0

    @property
    def final_fen(self) -> int:
        return self.line_total_fen - self.discount_fen


@dataclass(frozen=True)
class PricedBasket:
    lines: tuple[PricedLine, ...]
    adjustments: tuple[Adjustment, ...]
    goods_subtotal_fen: int
    discount_fen: int
    delivery_fee_fen: int
    total_fen: int
    applied_coupon_ids: tuple[int, ...] = ()
    coupon_problems: Mapping[int, str] = field(default_factory=dict)  # coupon id -> reason

    def line(self, key: Hashable) -> PricedLine:
        return next(line for line in self.lines if line.key == key)


# --- The engine ---------------------------------------------------------------------------

_KEY = attrgetter("key")


def compute(
    *, lines: Sequence[PricingLine], channel: Channel, promotions: Promotions, now: dt.datetime
) -> PricedBasket:
    """Price ``lines`` with ``promotions`` at ``now``; pure and independent of line order."""
    lines = sorted(lines, key=_KEY)
    totals = {line.key: line.total_fen for line in lines}
    discounts = dict.fromkeys(totals, 0)
    adjustments: list[Adjustment] = []

    for key, best in _catalogue(lines, channel, promotions).items():  # in line order
        adjustments.append(best)
        discounts[key] = best.amount_fen
    catalogue_discounts = dict(discounts)

    order_coupons, delivery_coupons, problems = _sort_coupons(promotions.coupons, channel, now)
    applied: list[int] = []
    for coupon in order_coupons:
        eligible = {
            line.key: totals[line.key] - discounts[line.key]
            for line in lines
            if coupon.covers(line) and (coupon.stacks_with_catalogue or not catalogue_discounts[line.key])
        }
        amount, reason = _order_coupon_amount(coupon, sum(eligible.values()))
        if reason:
            problems[coupon.coupon_id] = reason
            continue
        applied.append(coupon.coupon_id)
        _allocate_into(discounts, adjustments, amount, eligible, "coupon", coupon.coupon_id, coupon.label)

    if promotions.raffle_prize is not None:
        prize = promotions.raffle_prize
        left = {key: totals[key] - discounts[key] for key in totals}
        amount = min(prize.prize_fen, sum(left.values()))
        _allocate_into(discounts, adjustments, amount, left, "raffle", prize.raffle_id, prize.label)

    subtotal = sum(totals.values())
    discount = sum(discounts.values())
    fee = 0
    rule = promotions.delivery_fee
    if channel == "delivery" and rule is not None and subtotal - discount < rule.free_from_fen and rule.fee_fen:
        fee = rule.fee_fen
        adjustments.append(Adjustment("delivery_fee", rule.rule_id, None, fee, rule.label))
    for coupon in delivery_coupons:
        if channel != "delivery":
            problems[coupon.coupon_id] = NOT_A_DELIVERY_ORDER
            continue
        if fee == 0:
            problems[coupon.coupon_id] = DELIVERY_ALREADY_FREE
            continue
        eligible = sum(totals[line.key] - discounts[line.key] for line in lines if coupon.covers(line))
        if eligible < coupon.threshold_fen or not eligible:
            problems[coupon.coupon_id] = BELOW_THRESHOLD if eligible else NOTHING_ELIGIBLE
            continue
        applied.append(coupon.coupon_id)
        adjustments.append(Adjustment("coupon", coupon.coupon_id, None, fee, coupon.label))
        fee = 0

    # The three dicts hold the same keys in the same (line) order.
    amounts = zip(totals, totals.values(), discounts.values(), catalogue_discounts.values(), strict=True)
    priced = tuple(map(PricedLine._make, amounts))
    return PricedBasket(
        lines=priced,
        adjustments=tuple(adjustments),
        goods_subtotal_fen=subtotal,
        discount_fen=discount,
        delivery_fee_fen=fee,
        total_fen=subtotal - discount + fee,
        applied_coupon_ids=tuple(applied),
        coupon_problems=problems,
    )


def _serves(channels: str, channel: Channel) -> bool:
    """``in_store`` promotions serve scan & pay; ``delivery`` ones serve delivery and pick-up."""
    return channels == "both" or (channels == "in_store") == (channel == "in_store")


def _catalogue(lines: Sequence[PricingLine], channel: Channel, promotions: Promotions) -> dict:
    """Each line's better catalogue deal (a flash price or the Brand of the Day), if any.

    A flash price reaches unit lines only (a scale label carries its own price) and only
    as many units as the shopper may still buy; the rest of the line stays at its price.
    The Brand of the Day takes its percentage off the whole line. On a tie the flash sale
    wins: it is the deal the shopper came for.
    """
    best: dict = {}
    deal = promotions.brand_deal
    if not promotions.flash and deal is None:  # most baskets, most of the time
        return best
    for line in lines:
        candidates = []
        offer = promotions.flash.get(line.product_id)
        if (
            offer is not None
            and line.fixed_total_fen is None
            and offer.units > 0
            and offer.flash_price_fen < line.unit_price_fen
            and _serves(offer.channels, channel)
        ):
            units = min(line.quantity, offer.units)
            amount = (line.unit_price_fen - offer.flash_price_fen) * units
            flash = Adjustment(
                "flash_sale", offer.sale_id, line.key, amount, offer.label, units=units, item_id=offer.item_id
            )
            candidates.append(flash)
        if deal is not None and line.brand_id == deal.brand_id:
            amount = percent_of(line.total_fen, deal.percent_off)
            if amount:
                candidates.append(Adjustment("brand_of_the_day", deal.promotion_id, line.key, amount, deal.label))
        if candidates:
            best[line.key] = max(candidates, key=lambda adj: (adj.amount_fen, adj.source == "flash_sale"))
    return best


def _sort_coupons(
    coupons: Sequence[CouponOffer], channel: Channel, now: dt.datetime
) -> tuple[list[CouponOffer], list[CouponOffer], dict[int, str]]:
    """Split the chosen coupons into the (at most one) order coupon and delivery coupon that
    may apply, and the reasons the others may not."""
    problems: dict[int, str] = {}
    order_coupons: list[CouponOffer] = []
    delivery_coupons: list[CouponOffer] = []
    for coupon in sorted(coupons, key=lambda c: c.coupon_id):
        if not coupon.usable:
            problems[coupon.coupon_id] = NOT_AVAILABLE
        elif now >= coupon.valid_until:
            problems[coupon.coupon_id] = EXPIRED
        elif now < coupon.valid_from:
            problems[coupon.coupon_id] = NOT_YET_VALID
        elif not _serves(coupon.channels, channel):
            problems[coupon.coupon_id] = WRONG_CHANNEL
        elif coupon.is_delivery_coupon:
            if delivery_coupons:
                problems[coupon.coupon_id] = ONE_DELIVERY_COUPON
            else:
                delivery_coupons.append(coupon)
        elif order_coupons:
            problems[coupon.coupon_id] = ONE_ORDER_COUPON
        else:
            order_coupons.append(coupon)
    return order_coupons, delivery_coupons, problems


def _order_coupon_amount(coupon: CouponOffer, eligible_fen: int) -> tuple[int, str | None]:
    if eligible_fen <= 0:
        return 0, NOTHING_ELIGIBLE
    if eligible_fen < coupon.threshold_fen:
        return 0, BELOW_THRESHOLD
    if coupon.kind == "amount_off":
        amount = coupon.amount_off_fen
    else:
        amount = percent_of(eligible_fen, coupon.percent_off)
        if coupon.cap_fen is not None:
            amount = min(amount, coupon.cap_fen)
    return min(amount, eligible_fen), None


def _allocate_into(
    discounts: dict,
    adjustments: list[Adjustment],
    amount: int,
    weights: dict,
    source: str,
    promotion_id: int,
    label: str,
) -> None:
    """Spread an order-level discount over the lines it was computed on; one adjustment per
    line that gets a share, so the explanation names the fen each line carries."""
    if amount <= 0:
        return
    for key, share in sorted(allocate(amount, weights).items()):
        if share:
            discounts[key] += share
            adjustments.append(Adjustment(source, promotion_id, key, share, label))


def price_lines(
    *,
    lines: Sequence[PricingLine],
    channel: Channel,
    store_id: int | None = None,
    city_id: int | None = None,
    customer_id: int | None = None,
    coupon_ids: Sequence[int] = (),
    order_id: int | None = None,
    raffle_prize: RafflePrize | None = None,
    now: dt.datetime | None = None,
) -> PricedBasket:
    """Load what may apply and compute. ``order_id`` names the unpaid order being priced
    again, so coupons and flash units it already holds count as the shopper's."""
    from miniprogram_api.core import clock

    from .loading import load_promotions

    now = now or clock.now()
    promotions = load_promotions(
        product_ids={line.product_id for line in lines},
        channel=channel,
        store_id=store_id,
        city_id=city_id,
        customer_id=customer_id,
        coupon_ids=coupon_ids,
        order_id=order_id,
        now=now,
    )
    if raffle_prize is not None:
        promotions = Promotions(
            flash=promotions.flash,
            brand_deal=promotions.brand_deal,
            coupons=promotions.coupons,
            raffle_prize=raffle_prize,
            delivery_fee=promotions.delivery_fee,
        )
    return compute(lines=lines, channel=channel, promotions=promotions, now=now)


def raffle_adjustments(finals: Mapping[Hashable, int], prize: RafflePrize) -> tuple[Adjustment, ...]:
    """A raffle prize won on an order already priced: ``finals`` is what each line costs now
    (``line key -> fen``). The prize comes off what is left of the whole order, capped at
    it, spread over the lines by the same largest-remainder rule as in ``compute``."""
    discounts = dict.fromkeys(finals, 0)
    adjustments: list[Adjustment] = []
    amount = min(prize.prize_fen, sum(finals.values()))
    _allocate_into(discounts, adjustments, amount, dict(finals), "raffle", prize.raffle_id, prize.label)
    return tuple(adjustments)
