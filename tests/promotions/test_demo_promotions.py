"""``manage.py seed_demo_promotions``: the demo's coupon offers, flash sales, Brand of the
Day, delivery fee, raffle and 8.8 festival, placed around today on the stores demo
catalogue, and a second run that creates nothing.

The stores seed takes a few seconds, so the module seeds once (and the promotions twice)
inside an outer transaction rolled back when the module is done; every test reads that
state inside its own savepoint.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from miniprogram_api.core import clock
from promotions import demo_seed
from promotions.models import (
    BrandOfTheDay,
    Campaign,
    CouponTemplate,
    DeliveryFeeRule,
    FlashSale,
    FlashSaleItem,
    Raffle,
)

NOW = dt.datetime(2026, 8, 8, 2, 30, tzinfo=dt.UTC)  # 10:30 on 8 August in Shanghai
TODAY = dt.date(2026, 8, 8)
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
MIDNIGHT = dt.datetime(2026, 8, 8, tzinfo=SHANGHAI)
SEEDED_MODELS = (CouponTemplate, FlashSale, FlashSaleItem, BrandOfTheDay, DeliveryFeeRule, Raffle, Campaign)


def _snapshot() -> dict[str, list[tuple]]:
    snapshot = {model.__name__: list(model.objects.order_by("pk").values_list()) for model in SEEDED_MODELS}
    snapshot["scan templates"] = list(Campaign.scan_templates.through.objects.order_by("pk").values_list())
    return snapshot


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "now", lambda: NOW)
        with transaction.atomic():
            call_command("seed_demo", verbosity=0)
            before = _snapshot()
            first_output, second_output = StringIO(), StringIO()
            call_command("seed_demo_promotions", stdout=first_output)
            first = _snapshot()
            call_command("seed_demo_promotions", stdout=second_output)
            yield {
                "before": before,
                "first": first,
                "second": _snapshot(),
                "first_output": first_output.getvalue(),
                "second_output": second_output.getvalue(),
            }
            transaction.set_rollback(True)


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seeded")]


def _new(model, seeded):
    """Rows of ``model`` the promotions seed created (not the migrations' rows)."""
    existing = {row[0] for row in seeded["before"][model.__name__]}
    return model.objects.exclude(pk__in=existing)


def test_three_claimable_offers_both_channels_delivery_only_and_free_delivery(seeded):
    offers = {t.name: t for t in _new(CouponTemplate, seeded).filter(claimable=True)}
    assert set(offers) == {"满99减10", "9折 最高减20 (delivery)", "Free delivery"}
    full_reduction = offers["满99减10"]
    assert (full_reduction.kind, full_reduction.threshold_fen, full_reduction.amount_off_fen) == (
        "amount_off",
        9900,
        1000,
    )
    assert full_reduction.channels == "both"
    ten_percent = offers["9折 最高减20 (delivery)"]
    assert (ten_percent.kind, ten_percent.percent_off, ten_percent.cap_fen, ten_percent.channels) == (
        "percent_off", 10, 2000, "delivery")  # fmt: skip
    assert (offers["Free delivery"].kind, offers["Free delivery"].channels) == ("free_delivery", "delivery")
    for offer in offers.values():
        assert offer.active and offer.valid_days_after_claim == 7 and offer.issued_count == 0


def test_a_live_flash_sale_of_demo_products_and_an_upcoming_one(seeded):
    sales = list(_new(FlashSale, seeded))
    live = [sale for sale in sales if sale.is_live(NOW)]
    upcoming = [sale for sale in sales if sale.starts_at > NOW]
    assert len(live) == 1 and len(upcoming) == 1 and len(sales) == 2
    assert live[0].starts_at == MIDNIGHT
    assert upcoming[0].active and upcoming[0].starts_at == MIDNIGHT + dt.timedelta(days=1, hours=20)
    for sale in sales:
        items = list(sale.items.select_related("product"))
        assert 3 <= len(items) <= 5
        for item in items:
            assert (item.quota, item.per_customer_limit, item.sold) == (50, 2, 0)
            assert 0 < item.flash_price_fen < item.product.base_price_fen
            assert item.product.active and item.product.brand.name != demo_seed.DEMO_BRAND
    assert {i.product.name for i in live[0].items.all()} == set(demo_seed.LIVE_FLASH_PRODUCTS)


def test_brand_of_the_day_today_and_tomorrow_on_a_demo_brand_at_20_percent(seeded):
    days = {deal.date: deal for deal in BrandOfTheDay.objects.select_related("brand")}
    assert set(days) == {TODAY, TODAY + dt.timedelta(days=1)}
    for deal in days.values():
        assert (deal.brand.name, deal.percent_off, deal.active) == ("Mengniu", 20, True)
        assert deal.brand.products.filter(active=True).exists()


def test_the_default_delivery_fee_is_8_rmb_and_free_from_169_rmb():
    rule = DeliveryFeeRule.objects.get(city__isnull=True)
    assert (rule.fee_fen, rule.free_from_fen) == (800, 16900)


def test_a_live_raffle_with_a_ten_percent_chance_of_88_rmb_off():
    (raffle,) = Raffle.objects.all()
    assert raffle.is_live(NOW)
    assert (raffle.win_probability_ppm, raffle.prize_fen, raffle.daily_prize_budget_fen) == (100_000, 8800, 88_000)
    assert raffle.daily_entries_per_customer == 3


def test_the_festival_is_live_with_a_delivery_scan_coupon_for_its_window_and_an_omnichannel_bonus():
    (festival,) = Campaign.objects.all()
    assert festival.is_live(NOW) and festival.starts_at == MIDNIGHT
    (scan,) = festival.scan_templates.all()
    assert scan.channels == "delivery" and not scan.claimable
    assert (scan.valid_from, scan.valid_until) == (festival.starts_at, festival.ends_at)
    assert (scan.kind, scan.threshold_fen, scan.amount_off_fen) == ("amount_off", 12900, 2000)
    bonus = festival.omnichannel_bonus_template
    assert bonus.channels == "both" and not bonus.claimable and bonus.amount_off_fen > 0


def test_the_second_run_creates_nothing_and_says_so(seeded):
    assert seeded["second"] == seeded["first"]
    assert seeded["first"] != seeded["before"]
    assert "flash sales         2 created       0 existing" in seeded["first_output"]
    for line in seeded["second_output"].splitlines()[1:]:
        assert " 0 created" in line, line


def test_a_later_run_replaces_only_what_has_ended(seeded):
    later = NOW + dt.timedelta(days=4)  # both flash sales have ended; the raffle and festival run on
    first = seeded["first"]
    report = demo_seed.seed_demo_promotions(now=later)
    assert report["flash sales"].created == 2
    assert [sale.is_live(later) for sale in FlashSale.objects.filter(name=demo_seed.LIVE_FLASH_SALE)] == [True, False]
    assert FlashSale.objects.get(name=demo_seed.UPCOMING_FLASH_SALE, ends_at__gt=later).starts_at > later
    assert report["raffles"].created == report["festivals"].created == 0
    assert report["brand of day"].created == 2  # 12 and 13 August
    assert report["coupon offers"].created == report["delivery fee"].created == 0
    old_sales = list(
        FlashSale.objects.filter(pk__in=[row[0] for row in first["FlashSale"]]).order_by("pk").values_list()
    )
    assert old_sales == first["FlashSale"]  # what existed is left as it was


def test_a_run_without_the_catalogue_stops_with_a_clear_error_and_writes_nothing(seeded, monkeypatch):
    monkeypatch.setattr(demo_seed, "LIVE_FLASH_PRODUCTS", ("No Such Product 1L",))
    counts = {model: model.objects.count() for model in SEEDED_MODELS}
    monkeypatch.setattr(clock, "now", lambda: NOW + dt.timedelta(days=30))  # everything has ended
    with pytest.raises(CommandError, match=r"No Such Product 1L.*seed_demo"):
        call_command("seed_demo_promotions", stdout=StringIO())
    assert {model: model.objects.count() for model in SEEDED_MODELS} == counts


def test_it_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo_promotions", stdout=StringIO())
