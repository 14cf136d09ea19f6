"""Demo promotions for a local run, on top of the catalogue ``manage.py seed_demo`` made.

Everything is placed relative to "now" in Shanghai, so a freshly seeded database has a
flash sale, a raffle and a festival running, an upcoming flash sale, and a Brand of the Day
today and tomorrow. A rerun creates nothing while those are still current: a windowed
promotion is found by its name among the ones not yet ended, a Brand of the Day by its
date, a coupon template (which never ends) and the default delivery fee by themselves. On
a later day, whatever has ended is created afresh for the new window; rows that exist are
never changed, so what staff did to them in the admin survives a reseed.

Products and the Brand of the Day's brand are looked up by name among the rows the stores
seed created; none of them is in the README's scan & pay journey, so its totals stay put.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from miniprogram_api.core import clock
from miniprogram_api.core.money import percent_of
from stores.demo_seed import Tally, nice_price
from stores.models import Brand, Product

from .models import BrandOfTheDay, Campaign, CouponTemplate, DeliveryFeeRule, FlashSale, FlashSaleItem, Raffle

DEMO_BRAND = "Mengniu"
BRAND_PERCENT_OFF = 20
FLASH_QUOTA = 50
FLASH_PER_CUSTOMER_LIMIT = 2
FLASH_PERCENT_OF_BASE = 70  # the flash price, before rounding to a shelf price
LIVE_FLASH_SALE = "Flash sale: drinks and snacks"
LIVE_FLASH_PRODUCTS = (
    "Coca-Cola Classic 330ml x 6 cans",
    "Nongfu Spring Natural Water 550ml x 24",
    "Oreo Original 388g",
    "Lay's Original 135g",
)
UPCOMING_FLASH_SALE = "Evening flash sale"
UPCOMING_FLASH_PRODUCTS = ("Coca-Cola Classic 2L", "Lay's Cucumber 135g", "Oreo Golden 388g")
LIVE_FLASH_DAYS = 3
RAFFLE = "Raffle: 88 RMB off your order"
RAFFLE_DAYS = 14
FESTIVAL = "8.8 Festival"
FESTIVAL_DAYS = 8
CLAIM_VALID_DAYS = 7

# name -> template fields; the claimable offers of the coupon centre.
CLAIMABLE_TEMPLATES = {
    "满99减10": {
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "threshold_fen": 9900,
        "amount_off_fen": 1000,
        "channels": CouponTemplate.Channels.BOTH,
    },
    "9折 最高减20 (delivery)": {
        "kind": CouponTemplate.Kind.PERCENT_OFF,
        "percent_off": 10,
        "cap_fen": 2000,
        "channels": CouponTemplate.Channels.DELIVERY,
    },
    "Free delivery": {"kind": CouponTemplate.Kind.FREE_DELIVERY, "channels": CouponTemplate.Channels.DELIVERY},
}
FESTIVAL_SCAN_TEMPLATE = "8.8 Festival: ¥20 off delivery from ¥129"
FESTIVAL_BONUS_TEMPLATE = "8.8 Festival bonus: ¥30 off from ¥199"
FESTIVAL_BONUS_VALID_DAYS = 14


class DemoCatalogueMissing(LookupError):
    """The stores demo data is not there to hang promotions on."""


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of ``day`` in Shanghai."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


def _demo_products(names: Sequence[str]) -> list[Product]:
    products = {product.name: product for product in Product.objects.filter(name__in=names)}
    missing = [name for name in names if name not in products]
    if missing:
        raise DemoCatalogueMissing(f"Demo products not found ({', '.join(missing)}); run manage.py seed_demo first.")
    return [products[name] for name in names]


def _demo_brand() -> Brand:
    brand = Brand.objects.filter(name=DEMO_BRAND).first()
    if brand is None:
        raise DemoCatalogueMissing(f"Demo brand {DEMO_BRAND!r} not found; run manage.py seed_demo first.")
    return brand


def _current(model, name: str, now: dt.datetime) -> bool:
    """A windowed promotion of this name that has not ended yet (live or upcoming)."""
    return model.objects.filter(name=name, ends_at__gt=now).exists()


def seed_coupon_templates() -> Tally:
    tally = Tally()
    existing = set(CouponTemplate.objects.filter(name__in=CLAIMABLE_TEMPLATES).values_list("name", flat=True))
    for name, terms in CLAIMABLE_TEMPLATES.items():
        if name in existing:
            tally.existing += 1
            continue
        CouponTemplate.objects.create(
            name=name, claimable=True, valid_days_after_claim=CLAIM_VALID_DAYS, per_customer_limit=1, **terms
        )
        tally.created += 1
    return tally


def _flash_sale(name: str, products: Sequence[str], *, starts_at: dt.datetime, ends_at: dt.datetime, now) -> Tally:
    if _current(FlashSale, name, now):
        return Tally(existing=1)
    rows = _demo_products(products)
    sale = FlashSale.objects.create(name=name, starts_at=starts_at, ends_at=ends_at)
    FlashSaleItem.objects.bulk_create(
        FlashSaleItem(
            sale=sale,
            product=product,
            flash_price_fen=nice_price(percent_of(product.base_price_fen, FLASH_PERCENT_OF_BASE)),
            quota=FLASH_QUOTA,
            per_customer_limit=FLASH_PER_CUSTOMER_LIMIT,
        )
        for product in rows
    )
    return Tally(created=1)


def seed_flash_sales(*, now: dt.datetime, today: dt.date) -> Tally:
    """One live from today's midnight for three days, one tomorrow evening."""
    tomorrow = today + dt.timedelta(days=1)
    live = _flash_sale(
        LIVE_FLASH_SALE,
        LIVE_FLASH_PRODUCTS,
        starts_at=day_start(today),
        ends_at=day_start(today + dt.timedelta(days=LIVE_FLASH_DAYS)),
        now=now,
    )
    upcoming = _flash_sale(
        UPCOMING_FLASH_SALE,
        UPCOMING_FLASH_PRODUCTS,
        starts_at=day_start(tomorrow) + dt.timedelta(hours=20),
        ends_at=day_start(tomorrow) + dt.timedelta(hours=22),
        now=now,
    )
    return Tally(created=live.created + upcoming.created, existing=live.existing + upcoming.existing)


def seed_brand_of_the_day(*, today: dt.date) -> Tally:
    """Today and tomorrow, unless staff already chose a brand for the date."""
    days = [today, today + dt.timedelta(days=1)]
    taken = set(BrandOfTheDay.objects.filter(date__in=days).values_list("date", flat=True))
    missing = [day for day in days if day not in taken]
    if missing:
        brand = _demo_brand()
        BrandOfTheDay.objects.bulk_create(
            BrandOfTheDay(date=day, brand=brand, percent_off=BRAND_PERCENT_OFF) for day in missing
        )
    return Tally(created=len(missing), existing=len(taken))


def seed_delivery_fee() -> Tally:
    """The default rule (no city): 8 RMB below 169 RMB of goods, free from there."""
    if DeliveryFeeRule.objects.filter(city__isnull=True).exists():
        return Tally(existing=1)
    DeliveryFeeRule.objects.create(city=None, fee_fen=800, free_from_fen=16900, label="Delivery fee")
    return Tally(created=1)


def seed_raffle(*, now: dt.datetime, today: dt.date) -> Tally:
    if _current(Raffle, RAFFLE, now):
        return Tally(existing=1)
    Raffle.objects.create(
        name=RAFFLE,
        starts_at=day_start(today),
        ends_at=day_start(today + dt.timedelta(days=RAFFLE_DAYS)),
        win_probability_ppm=100_000,
        prize_fen=8800,
        daily_prize_budget_fen=88_000,
        daily_entries_per_customer=3,
    )
    return Tally(created=1)


def seed_festival(*, now: dt.datetime, today: dt.date) -> Tally:
    """The festival with its poster coupon (delivery only, valid for the festival) and its
    omnichannel bonus; the templates belong to this festival window, so they come with it."""
    if _current(Campaign, FESTIVAL, now):
        return Tally(existing=1)
    starts_at, ends_at = day_start(today), day_start(today + dt.timedelta(days=FESTIVAL_DAYS))
    scan = CouponTemplate.objects.create(
        name=FESTIVAL_SCAN_TEMPLATE,
        kind=CouponTemplate.Kind.AMOUNT_OFF,
        threshold_fen=12900,
        amount_off_fen=2000,
        channels=CouponTemplate.Channels.DELIVERY,
        valid_from=starts_at,
        valid_until=ends_at,
        claimable=False,
        per_customer_limit=1,
    )
    bonus = CouponTemplate.objects.create(
        name=FESTIVAL_BONUS_TEMPLATE,
        kind=CouponTemplate.Kind.AMOUNT_OFF,
        threshold_fen=19900,
        amount_off_fen=3000,
        channels=CouponTemplate.Channels.BOTH,
        valid_days_after_claim=FESTIVAL_BONUS_VALID_DAYS,
        claimable=False,
        per_customer_limit=1,
    )
    campaign = Campaign.objects.create(
        name=FESTIVAL, starts_at=starts_at, ends_at=ends_at, omnichannel_bonus_template=bonus
    )
    campaign.scan_templates.set([scan])
    return Tally(created=1)


@transaction.atomic
def seed_demo_promotions(*, now: dt.datetime) -> dict[str, Tally]:
    """Everything, in one transaction: a run that fails (no catalogue) leaves nothing."""
    today = clock.local_date(now)
    return {
        "coupon offers": seed_coupon_templates(),
        "flash sales": seed_flash_sales(now=now, today=today),
        "brand of day": seed_brand_of_the_day(today=today),
        "delivery fee": seed_delivery_fee(),
        "raffles": seed_raffle(now=now, today=today),
        "festivals": seed_festival(now=now, today=today),
    }
