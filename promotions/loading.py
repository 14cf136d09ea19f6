"""Loading the promotions that may apply to a basket or cart, in a fixed number of queries.

The pricing engine is pure; this module is its one door to the database. Each kind of
promotion costs at most one query (flash sales included: what the shopper already holds
comes as a subquery), whatever the number of lines or of live promotions, so pricing a
basket costs the same for 1 line or 200, with no live promotion or twenty. Which flash
sales and Brand of the Day may apply comes from the cached index (``live_deals``), so a
basket none of them reaches costs no query for them at all.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .live_deals import live_deals
from .models import (
    Coupon,
    CouponTemplate,
    DeliveryFeeRule,
    FlashSale,
    FlashSaleItem,
    FlashSaleReservation,
)
from .pricing import BrandDeal, Channel, CouponOffer, DeliveryFee, FlashOffer, Promotions

FLASH_ITEM_FIELDS = ("id", "product_id", "flash_price_fen", "quota", "sold", "per_customer_limit", "sale__name",
                     "sale__channels")  # fmt: skip


def load_promotions(
    *,
    product_ids: Iterable[int],
    channel: Channel,
    store_id: int | None = None,
    city_id: int | None = None,
    customer_id: int | None = None,
    coupon_ids: Sequence[int] = (),
    order_id: int | None = None,
    now: dt.datetime,
) -> Promotions:
    product_ids = set(product_ids)
    return Promotions(
        flash=flash_offers(product_ids=product_ids, customer_id=customer_id, order_id=order_id, now=now),
        brand_deal=brand_deal(now=now) if product_ids else None,  # nothing to discount
        coupons=coupon_offers(coupon_ids=coupon_ids, customer_id=customer_id, order_id=order_id),
        delivery_fee=delivery_fee(city_id=city_id) if channel == "delivery" else None,
    )


def flash_offers(
    *, product_ids: set[int], customer_id: int | None, order_id: int | None, now: dt.datetime
) -> dict[int, FlashOffer]:
    """The live flash price of each product, with the units this shopper may still take.

    Units held by ``order_id`` (the order being priced again) count as available to it.
    When two live sales list one product, the lower price wins. Only the items the cached
    index names are read, with the sale's switch and window checked again, so an index a
    change has not reached yet can miss a new sale for a moment but never applies an old one.
    """
    item_ids = live_deals(now=now).flash_item_ids(product_ids=product_ids, now=now) if product_ids else []
    if not item_ids:
        return {}
    items = FlashSaleItem.objects.filter(FlashSale.live_q(now, prefix="sale__"), pk__in=item_ids)
    if customer_id is not None:
        # What the shopper already holds or bought, as subqueries of the one item query:
        # so pricing costs the same with no live items, one, or many.
        mine = FlashSaleReservation.objects.filter(item_id=OuterRef("pk"), customer_id=customer_id).exclude(
            status=FlashSaleReservation.Status.RELEASED
        )
        items = items.annotate(
            taken=_units_of(mine), own=_units_of(mine.filter(order_id=order_id)) if order_id else Value(0)
        )
    offers: dict[int, FlashOffer] = {}
    for item in items.select_related("sale").only(*FLASH_ITEM_FIELDS):
        taken, own = getattr(item, "taken", 0), getattr(item, "own", 0)
        units = min(item.quota - item.sold, item.per_customer_limit - taken) + own
        offer = FlashOffer(
            sale_id=item.sale_id,
            item_id=item.pk,
            product_id=item.product_id,
            flash_price_fen=item.flash_price_fen,
            units=max(units, 0),
            label=item.sale.name,
            channels=item.sale.channels,
        )
        current = offers.get(item.product_id)
        if current is None or (offer.units > 0, -offer.flash_price_fen) > (current.units > 0, -current.flash_price_fen):
            offers[item.product_id] = offer
    return offers


def _units_of(reservations: QuerySet[FlashSaleReservation]) -> Coalesce:
    total = reservations.order_by().values("item_id").annotate(units=Sum("quantity")).values("units")
    return Coalesce(Subquery(total[:1], output_field=IntegerField()), Value(0))


def brand_deal(*, now: dt.datetime) -> BrandDeal | None:
    """Today's Brand of the Day, by the Shanghai calendar (from the cached index)."""
    return live_deals(now=now).brand_deal(now)


def coupon_offers(
    *, coupon_ids: Sequence[int], customer_id: int | None, order_id: int | None = None
) -> tuple[CouponOffer, ...]:
    """The chosen coupons with their terms. Ids that are not the shopper's come back as
    unusable offers (so the answer says why) without revealing anything about them."""
    ids = sorted({cid for cid in coupon_ids if isinstance(cid, int) and 0 < cid < 2**63})
    if not ids or customer_id is None:
        return tuple(_unusable(cid) for cid in ids)
    coupons = list(Coupon.objects.filter(pk__in=ids, customer_id=customer_id).select_related("template"))
    scopes = scope_ids_of([coupon.template for coupon in coupons])
    found = {coupon.pk: coupon for coupon in coupons}
    return tuple(
        coupon_offer(found[cid], order_id=order_id, scope_ids=scopes.get(found[cid].template_id, frozenset()))
        if cid in found
        else _unusable(cid)
        for cid in ids
    )


def coupon_offer(
    coupon: Coupon, *, order_id: int | None = None, scope_ids: frozenset[int] | None = None
) -> CouponOffer:
    """A coupon (with its template joined) as the engine sees it. Pass ``scope_ids`` from
    one ``scope_ids_of`` call when turning many coupons, or it costs a query per coupon."""
    template = coupon.template
    if scope_ids is None:
        scope_ids = scope_ids_of([template]).get(template.pk, frozenset())
    # An expired coupon stays "usable" here so the engine's validity check names the reason
    # (``expired``) the coupon list gives, rather than ``not_available``.
    usable = coupon.status in (Coupon.Status.AVAILABLE, Coupon.Status.EXPIRED) or (
        coupon.status == Coupon.Status.LOCKED and order_id is not None and coupon.order_id == order_id
    )
    return CouponOffer(
        coupon_id=coupon.pk,
        kind=template.kind,
        label=template.name,
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        channels=template.channels,
        threshold_fen=template.threshold_fen,
        amount_off_fen=template.amount_off_fen,
        percent_off=template.percent_off,
        cap_fen=template.cap_fen,
        scope=template.scope,
        scope_ids=scope_ids,
        stacks_with_catalogue=template.stacks_with_catalogue,
        usable=usable,
    )


SCOPE_RELATIONS = {
    CouponTemplate.Scope.BRANDS: ("brands", "brand_id"),
    CouponTemplate.Scope.CATEGORIES: ("categories", "category_id"),
    CouponTemplate.Scope.PRODUCTS: ("products", "product_id"),
}


def scope_ids_of(templates: Iterable[CouponTemplate]) -> dict[int, frozenset[int]]:
    """The brand, category or product ids each scoped template covers: one query per kind
    of scope in use (none for coupons on everything), whatever the number of templates."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for template in templates:
        if template.scope in SCOPE_RELATIONS:
            wanted[template.scope].add(template.pk)
    scopes: dict[int, set[int]] = defaultdict(set)
    for scope, template_ids in wanted.items():
        relation, column = SCOPE_RELATIONS[scope]
        through = getattr(CouponTemplate, relation).through
        for template_id, target_id in through.objects.filter(coupontemplate_id__in=template_ids).values_list(
            "coupontemplate_id", column
        ):
            scopes[template_id].add(target_id)
    return {template_id: frozenset(ids) for template_id, ids in scopes.items()}


def _unusable(coupon_id: int) -> CouponOffer:
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return CouponOffer(
        coupon_id=coupon_id, kind="amount_off", label="", valid_from=epoch, valid_until=epoch, usable=False
    )


def delivery_fee(*, city_id: int | None) -> DeliveryFee | None:
    """The city's rule, else the default rule (no city), else none (free delivery)."""
    rule = (
        DeliveryFeeRule.objects.filter(Q(city_id=city_id) | Q(city__isnull=True))
        .order_by(F("city_id").asc(nulls_last=True))  # the city's own rule before the default
        .first()
        if city_id is not None
        else DeliveryFeeRule.objects.filter(city__isnull=True).first()
    )
    if rule is None:
        return None
    return DeliveryFee(rule_id=rule.pk, fee_fen=rule.fee_fen, free_from_fen=rule.free_from_fen, label=rule.label)
