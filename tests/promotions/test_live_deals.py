"""The index of live deals each process keeps: what it holds, when it is dropped, what it costs.

Pricing asks it which flash-sale items and Brand of the Day may reach a basket's products;
what a flash item has left is always read from the database. These tests hold the promises
its docstring makes: a change saved in this process shows at once, a change it never hears
of within ``TIMEOUT``, a switched-off sale never applies, and a warm index costs no query.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from promotions import live_deals
from promotions.models import BrandOfTheDay, FlashSale, FlashSaleItem
from promotions.pricing import PricingLine, price_lines
from tests.factories import BrandFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 8, 8, 12, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def milk():
    return ProductFactory(base_price_fen=990, brand=BrandFactory())


def price(product, now=NOW) -> tuple[int, list[str]]:
    """The total of one unit of ``product`` in store, and where its discounts came from."""
    line = PricingLine(key=1, product_id=product.pk, quantity=1, unit_price_fen=990, brand_id=product.brand_id)
    priced = price_lines(lines=[line], channel="in_store", store_id=None, customer_id=None, now=now)
    return priced.total_fen, [adjustment.source for adjustment in priced.adjustments]


def sale_of(product, *, starts_at=NOW - HOUR, ends_at=NOW + HOUR, price_fen=500) -> FlashSaleItem:
    sale = FlashSale.objects.create(name="Noon deals", starts_at=starts_at, ends_at=ends_at)
    return FlashSaleItem.objects.create(sale=sale, product=product, flash_price_fen=price_fen, quota=10)


def test_a_warm_index_costs_no_query_for_a_basket_no_deal_reaches(milk, django_assert_num_queries):
    live_deals.live_deals(now=NOW)

    with django_assert_num_queries(0):
        assert price(milk) == (990, [])


def test_building_the_index_takes_two_queries_whatever_the_deals(milk, django_assert_num_queries):
    for _ in range(5):
        sale_of(ProductFactory())
    BrandOfTheDay.objects.create(date=NOW.date(), brand=BrandFactory(), percent_off=10)
    live_deals.clear()

    with django_assert_num_queries(2):
        live_deals.live_deals(now=NOW)


def test_a_sale_saved_in_this_process_prices_at_once(milk):
    assert price(milk) == (990, [])  # the index is built, and holds no deal for the milk

    sale_of(milk)

    assert price(milk) == (500, ["flash_sale"])


def test_a_brand_of_the_day_saved_or_deleted_prices_at_once(milk):
    assert price(milk) == (990, [])

    deal = BrandOfTheDay.objects.create(date=NOW.date(), brand_id=milk.brand_id, percent_off=20)
    assert price(milk) == (792, ["brand_of_the_day"])

    deal.delete()
    assert price(milk) == (990, [])


def test_a_sale_set_up_ahead_applies_from_its_first_second_without_a_rebuild(milk, django_assert_max_num_queries):
    sale_of(milk, starts_at=NOW + dt.timedelta(minutes=30), ends_at=NOW + 2 * HOUR)
    assert price(milk) == (990, [])

    at_start = NOW + dt.timedelta(minutes=30)
    with django_assert_max_num_queries(1):  # the item's quota and the shopper's units; no rebuild
        assert price(milk, now=at_start) == (500, ["flash_sale"])


def test_a_now_outside_the_span_builds_the_index_anew(milk):
    assert price(milk) == (990, [])
    tomorrow = NOW + dt.timedelta(days=1)
    sale_of(milk, starts_at=tomorrow - HOUR, ends_at=tomorrow + HOUR)
    FlashSaleItem.objects.filter(product=milk).update(flash_price_fen=450)  # a bulk UPDATE: no signal

    assert price(milk, now=tomorrow) == (450, ["flash_sale"])


def test_a_change_no_signal_reports_shows_within_the_timeout(milk, monkeypatch):
    other = ProductFactory(base_price_fen=990)
    item = sale_of(other)
    assert price(milk) == (990, [])
    FlashSaleItem.objects.filter(pk=item.pk).update(product=milk)  # raw bulk UPDATE: no signal

    assert price(milk) == (990, [])  # this process has not heard of it yet

    later = live_deals.time.monotonic() + live_deals.TIMEOUT + 0.1
    monkeypatch.setattr(live_deals.time, "monotonic", lambda: later)
    assert price(milk) == (500, ["flash_sale"])


def test_a_sale_switched_off_behind_the_index_never_applies(milk):
    item = sale_of(milk)
    assert price(milk) == (500, ["flash_sale"])

    FlashSale.objects.filter(pk=item.sale_id).update(active=False)  # no signal: the index still names it

    assert price(milk) == (990, [])


def test_the_admins_bulk_switch_drops_the_index(client, milk):
    client.force_login(CustomerFactory(is_staff=True, is_superuser=True))
    deal = BrandOfTheDay.objects.create(date=NOW.date(), brand_id=milk.brand_id, percent_off=20, active=False)
    assert price(milk) == (990, [])

    url = reverse("admin:promotions_brandoftheday_changelist")
    response = client.post(url, {"action": "activate_selected", "_selected_action": [deal.pk]})

    assert response.status_code == 302
    assert price(milk) == (792, ["brand_of_the_day"])


def test_the_index_is_dropped_again_once_the_change_commits(milk, monkeypatch, django_capture_on_commit_callbacks):
    """An index built between a change and its commit (from the snapshot before it) does
    not outlive the commit."""
    before_the_sale = live_deals.LiveDeals(valid_from=NOW - HOUR, valid_until=NOW + HOUR, flash={}, brand_days={})

    with django_capture_on_commit_callbacks(execute=True):
        sale_of(milk)
        monkeypatch.setattr(live_deals, "_kept", (before_the_sale, float("inf")))  # a request in between
        assert price(milk) == (990, [])

    assert price(milk) == (500, ["flash_sale"])
