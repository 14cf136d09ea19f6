"""Reading flash sales and the Brand of the Day: what is shown, to whom, and at what cost."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from promotions import catalogue_deals, loading
from promotions.catalogue_deals import NoBrandOfTheDay
from promotions.models import BrandOfTheDay, FlashSale, FlashSaleItem, FlashSaleReservation
from promotions.pricing import PricingLine, price_lines
from tests.factories import BrandFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 8, 8, 12, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)


def make_sale(name: str, starts_at: dt.datetime, ends_at: dt.datetime, *, active: bool = True) -> FlashSale:
    return FlashSale.objects.create(name=name, starts_at=starts_at, ends_at=ends_at, active=active)


def make_item(sale: FlashSale, *, price_fen: int = 500, quota: int = 10, sold: int = 0, limit: int = 2, **product):
    item = FlashSaleItem.objects.create(
        sale=sale,
        product=ProductFactory(base_price_fen=990, **product),
        flash_price_fen=price_fen,
        quota=quota,
        per_customer_limit=limit,
    )
    if sold:
        FlashSaleItem.objects.filter(pk=item.pk).update(sold=sold)
        item.refresh_from_db()
    return item


def reserve(item: FlashSaleItem, customer, quantity: int, status: str = "held", order_id: int = 1):
    FlashSaleReservation.objects.create(
        item=item, customer=customer, order_id=order_id, quantity=quantity, status=status
    )


# --- Flash sales --------------------------------------------------------------------------


def test_live_and_upcoming_sales_are_listed_and_ended_or_switched_off_ones_are_not():
    live = make_sale("Noon deals", NOW - HOUR, NOW + HOUR)
    soon = make_sale("Evening deals", NOW + 6 * HOUR, NOW + 8 * HOUR)
    ended = make_sale("Breakfast deals", NOW - 4 * HOUR, NOW - HOUR)
    off = make_sale("Pulled", NOW - HOUR, NOW + HOUR, active=False)
    ends_exactly_now = make_sale("Just over", NOW - HOUR, NOW)
    for sale in (live, soon, ended, off, ends_exactly_now):
        make_item(sale)

    sales = catalogue_deals.flash_sales(now=NOW, customer_id=None)

    assert [card.id for card in sales.live] == [live.pk]
    assert [card.id for card in sales.upcoming] == [soon.pk]


def test_a_sale_starting_exactly_now_is_live():
    sale = make_sale("Starts now", NOW, NOW + HOUR)
    make_item(sale)

    sales = catalogue_deals.flash_sales(now=NOW, customer_id=None)

    assert [card.id for card in sales.live] == [sale.pk]
    assert sales.upcoming == ()


def test_items_show_prices_quota_left_and_what_this_shopper_may_still_buy():
    shopper, other = CustomerFactory(), CustomerFactory()
    sale = make_sale("Noon deals", NOW - HOUR, NOW + HOUR)
    rice = make_item(sale, price_fen=1990, quota=10, sold=7, limit=3, name="Rice 5 kg", image_url="https://img/r.png")
    oil = make_item(sale, price_fen=2990, quota=5, sold=5, limit=1)
    eggs = make_item(sale, price_fen=900, quota=20, sold=2, limit=2)
    reserve(rice, shopper, 1, "sold", order_id=11)
    reserve(rice, shopper, 1, "released", order_id=12)  # given back: does not count
    reserve(rice, other, 5, "held", order_id=13)  # another shopper's: only the quota counts it
    reserve(eggs, shopper, 2, "held", order_id=14)

    (card,) = catalogue_deals.flash_sales(now=NOW, customer_id=shopper.pk).live

    by_product = {item.product_id: item for item in card.items}
    assert by_product[rice.product_id] == catalogue_deals.FlashItem(
        product_id=rice.product_id,
        name="Rice 5 kg",
        image_url="https://img/r.png",
        base_price_fen=990,
        flash_price_fen=1990,
        quota=10,
        remaining=3,
        per_customer_limit=3,
        you_may_buy=2,
    )
    assert (by_product[oil.product_id].remaining, by_product[oil.product_id].you_may_buy) == (0, 0)
    assert (by_product[eggs.product_id].remaining, by_product[eggs.product_id].you_may_buy) == (18, 0)


def test_what_a_shopper_may_buy_agrees_with_what_pricing_will_give_them():
    shopper = CustomerFactory()
    sale = make_sale("Noon deals", NOW - HOUR, NOW + HOUR)
    items = [make_item(sale, quota=10, sold=sold, limit=4) for sold in (0, 8, 10)]
    reserve(items[0], shopper, 3, "held", order_id=21)
    reserve(items[1], shopper, 1, "sold", order_id=22)

    (card,) = catalogue_deals.flash_sales(now=NOW, customer_id=shopper.pk).live
    offers = loading.flash_offers(
        product_ids={item.product_id for item in items}, customer_id=shopper.pk, order_id=None, now=NOW
    )

    assert {item.product_id: item.you_may_buy for item in card.items} == {
        pid: offer.units for pid, offer in offers.items()
    }
    assert sorted(item.you_may_buy for item in card.items) == [0, 1, 2]


def test_inactive_products_are_not_shown():
    sale = make_sale("Noon deals", NOW - HOUR, NOW + HOUR)
    shown = make_item(sale)
    make_item(sale, active=False)

    (card,) = catalogue_deals.flash_sales(now=NOW, customer_id=None).live

    assert [item.product_id for item in card.items] == [shown.product_id]


def test_live_sales_are_ordered_by_end_and_upcoming_by_start():
    late = make_sale("Ends late", NOW - HOUR, NOW + 5 * HOUR)
    early = make_sale("Ends early", NOW - HOUR, NOW + HOUR)
    far = make_sale("Starts late", NOW + 5 * HOUR, NOW + 6 * HOUR)
    near = make_sale("Starts early", NOW + HOUR, NOW + 9 * HOUR)
    for sale in (late, early, far, near):
        make_item(sale)

    sales = catalogue_deals.flash_sales(now=NOW, customer_id=None)

    assert [card.name for card in sales.live] == ["Ends early", "Ends late"]
    assert [card.name for card in sales.upcoming] == ["Starts early", "Starts late"]


@pytest.mark.parametrize("per_sale", [1, 6])
def test_flash_sales_cost_two_queries_however_many_sales_and_items(per_sale, django_assert_num_queries):
    shopper = CustomerFactory()
    for offset in (-1, 2, 4):
        sale = make_sale(f"Sale {offset}", NOW + offset * HOUR, NOW + (offset + 2) * HOUR)
        for _ in range(per_sale):
            reserve(make_item(sale), shopper, 1)

    with django_assert_num_queries(2):
        sales = catalogue_deals.flash_sales(now=NOW, customer_id=shopper.pk)

    assert sum(len(card.items) for card in (*sales.live, *sales.upcoming)) == 3 * per_sale


# --- Brand of the Day ---------------------------------------------------------------------


def make_brand_day(date: dt.date, *, percent_off: int = 15, label: str = "", active: bool = True):
    brand = BrandFactory(name=f"Brand of {date}", name_zh="今日品牌")
    return BrandOfTheDay.objects.create(date=date, brand=brand, percent_off=percent_off, label=label, active=active)


def test_brand_of_the_day_comes_with_its_active_products_only():
    day = make_brand_day(dt.date(2026, 8, 8))
    mine = [ProductFactory(brand=day.brand) for _ in range(3)]
    ProductFactory(brand=day.brand, active=False)
    ProductFactory()  # another brand

    card = catalogue_deals.brand_of_the_day(now=NOW)

    assert (card.id, card.date, card.brand.pk, card.percent_off) == (day.pk, day.date, day.brand_id, 15)
    assert card.label == "Brand of the Day"
    assert [product.pk for product in card.products] == [product.pk for product in mine]


def test_the_staff_label_replaces_the_default():
    make_brand_day(dt.date(2026, 8, 8), label="8.8 brand festival")

    assert catalogue_deals.brand_of_the_day(now=NOW).label == "8.8 brand festival"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 8, 8, 0, 0, tzinfo=SHANGHAI), "2026-08-08"),  # still the 7th in UTC
        (dt.datetime(2026, 8, 8, 23, 59, 59, tzinfo=SHANGHAI), "2026-08-08"),
        (dt.datetime(2026, 8, 9, 0, 0, tzinfo=SHANGHAI), "2026-08-09"),  # still the 8th in UTC
        (dt.datetime(2026, 8, 7, 23, 59, 59, tzinfo=SHANGHAI), "2026-08-07"),
    ],
)
def test_the_day_is_the_shanghai_calendar_day(moment, expected):
    for day in (7, 8, 9):
        make_brand_day(dt.date(2026, 8, day))

    assert catalogue_deals.brand_of_the_day(now=moment.astimezone(dt.UTC)).date.isoformat() == expected


def test_no_brand_of_the_day_after_midnight_when_tomorrow_has_none():
    make_brand_day(dt.date(2026, 8, 8))

    assert catalogue_deals.brand_of_the_day(now=dt.datetime(2026, 8, 8, 23, 59, tzinfo=SHANGHAI)).date == dt.date(
        2026, 8, 8
    )
    with pytest.raises(NoBrandOfTheDay):
        catalogue_deals.brand_of_the_day(now=dt.datetime(2026, 8, 9, 0, 0, tzinfo=SHANGHAI))


def test_a_switched_off_brand_of_the_day_is_none():
    make_brand_day(dt.date(2026, 8, 8), active=False)

    with pytest.raises(NoBrandOfTheDay):
        catalogue_deals.brand_of_the_day(now=NOW)


@pytest.mark.parametrize(
    ("price_fen", "percent", "expected"),
    [(990, 15, 841), (1000, 15, 850), (1, 50, 0), (3, 50, 1), (12345, 90, 1234)],
)
def test_the_discounted_price_rounds_as_the_pricing_engine_does(price_fen, percent, expected):
    day = make_brand_day(dt.date(2026, 8, 8), percent_off=percent)
    product = ProductFactory(brand=day.brand, base_price_fen=price_fen)
    line = PricingLine(key=1, product_id=product.pk, quantity=1, unit_price_fen=price_fen, brand_id=day.brand_id)

    priced = price_lines(lines=[line], channel="in_store", now=NOW)

    assert catalogue_deals.discounted_price_fen(price_fen, percent) == expected == priced.line(1).final_fen
