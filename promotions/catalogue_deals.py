"""Reading the catalogue deals shoppers browse: flash sales and the Brand of the Day.

Selectors only: spending a flash-sale quota belongs to checkout. Each read costs a fixed
number of queries whatever the number of sales, items or products, so the deals page
stays cheap on the festival's busiest day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from miniprogram_api.core.clock import local_date
from miniprogram_api.core.errors import NotFound
from miniprogram_api.core.money import percent_of
from stores.models import Brand, Product
from stores.selectors import product_list

from .live_deals import BRAND_OF_THE_DAY_LABEL
from .models import BrandOfTheDay, FlashSaleItem, FlashSaleReservation

FLASH_ITEM_FIELDS = ("id", "sale_id", "product_id", "flash_price_fen", "quota", "sold", "per_customer_limit",
                     "sale__name", "sale__channels", "sale__starts_at", "sale__ends_at", "sale__active",
                     "product__name", "product__image_url", "product__base_price_fen")  # fmt: skip


class NoBrandOfTheDay(NotFound):
    code = "no_brand_of_the_day"
    default_message = "There is no Brand of the Day today."


# --- Flash sales --------------------------------------------------------------------------


@dataclass(frozen=True)
class FlashItem:
    product_id: int
    name: str
    image_url: str
    base_price_fen: int
    flash_price_fen: int
    quota: int
    remaining: int
    per_customer_limit: int
    you_may_buy: int


@dataclass(frozen=True)
class FlashSaleCard:
    id: int
    name: str
    channels: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    items: tuple[FlashItem, ...]


@dataclass(frozen=True)
class FlashSales:
    live: tuple[FlashSaleCard, ...]
    upcoming: tuple[FlashSaleCard, ...]


def flash_sales(*, now: dt.datetime, customer_id: int | None) -> FlashSales:
    """Active sales that have not ended, split into live (soonest to end first) and upcoming
    (soonest to start first), each with its items of active products.

    Two queries: the items with their sale and product, and the units this shopper already
    holds or bought (a released reservation gave its units back). A sale with no item on
    show is left out: there is nothing to buy in it.
    """
    items = list(
        FlashSaleItem.objects.filter(sale__active=True, sale__ends_at__gt=now, product__active=True)
        .select_related("sale", "product")
        .only(*FLASH_ITEM_FIELDS)
        .order_by("pk")
    )
    taken = _units_taken(item_ids=[item.pk for item in items], customer_id=customer_id)
    by_sale: dict[int, list[FlashSaleItem]] = defaultdict(list)
    for item in items:
        by_sale[item.sale_id].append(item)
    cards = [_card(sale_items, taken) for sale_items in by_sale.values()]
    live = sorted((card for card in cards if card.starts_at <= now), key=lambda card: (card.ends_at, card.id))
    upcoming = sorted((card for card in cards if card.starts_at > now), key=lambda card: (card.starts_at, card.id))
    return FlashSales(live=tuple(live), upcoming=tuple(upcoming))


def _units_taken(*, item_ids: list[int], customer_id: int | None) -> dict[int, int]:
    if customer_id is None or not item_ids:
        return {}
    rows = (
        FlashSaleReservation.objects.filter(item_id__in=item_ids, customer_id=customer_id)
        .exclude(status=FlashSaleReservation.Status.RELEASED)
        .values("item_id")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    return {row["item_id"]: row["units"] for row in rows}


def _card(items: list[FlashSaleItem], taken: dict[int, int]) -> FlashSaleCard:
    sale = items[0].sale
    return FlashSaleCard(
        id=sale.pk,
        name=sale.name,
        channels=sale.channels,
        starts_at=sale.starts_at,
        ends_at=sale.ends_at,
        items=tuple(_item(item, taken.get(item.pk, 0)) for item in items),
    )


def _item(item: FlashSaleItem, taken: int) -> FlashItem:
    """``you_may_buy`` is the same figure the pricing loader uses: the quota left, capped by
    what the per-shopper limit still allows."""
    remaining = max(item.quota - item.sold, 0)
    return FlashItem(
        product_id=item.product_id,
        name=item.product.name,
        image_url=item.product.image_url,
        base_price_fen=item.product.base_price_fen,
        flash_price_fen=item.flash_price_fen,
        quota=item.quota,
        remaining=remaining,
        per_customer_limit=item.per_customer_limit,
        you_may_buy=max(min(remaining, item.per_customer_limit - taken), 0),
    )


# --- Brand of the Day ---------------------------------------------------------------------


@dataclass(frozen=True)
class BrandOfTheDayCard:
    id: int
    date: dt.date
    brand: Brand
    percent_off: int
    label: str
    products: QuerySet[Product]


def brand_of_the_day(*, now: dt.datetime) -> BrandOfTheDayCard:
    """Today's Brand of the Day by the Shanghai calendar (the day the pricing engine
    applies it), with its active products as a lazy queryset for the caller to page.

    Raises ``NoBrandOfTheDay`` when there is none, or it is switched off.
    """
    row = BrandOfTheDay.objects.filter(date=local_date(now), active=True).select_related("brand").first()
    if row is None:
        raise NoBrandOfTheDay()
    return BrandOfTheDayCard(
        id=row.pk,
        date=row.date,
        brand=row.brand,
        percent_off=row.percent_off,
        label=row.label or BRAND_OF_THE_DAY_LABEL,
        products=product_list(brand_id=row.brand_id),
    )


def discounted_price_fen(price_fen: int, percent_off: int) -> int:
    """A price after the Brand of the Day, rounded as the pricing engine rounds it (the
    engine takes the percentage of the whole line, so this is exact for one unit)."""
    return price_fen - percent_of(price_fen, percent_off)
