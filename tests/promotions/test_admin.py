"""The promotions admin: every screen opens for staff at a cost that does not grow with the
rows on it, the status filters put each promotion where it belongs, duplicate copies what
a new run needs and nothing it must not, the coupon export lists every coupon with the
status its holder sees, and the figures marketing reads are the right numbers."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from miniprogram_api.core import clock
from promotions.coupons import issue_coupons
from promotions.models import (
    BrandOfTheDay,
    Coupon,
    CouponPack,
    CouponPackItem,
    CouponTemplate,
    DeliveryFeeRule,
    FlashSale,
    FlashSaleItem,
    FlashSaleReservation,
    NewCustomerPackGrant,
    Raffle,
    RaffleDay,
    RaffleEntry,
)
from tests.factories import BrandFactory, CategoryFactory, CityFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 8, 8, 12, 0, tzinfo=dt.UTC)  # 20:00 in Shanghai
TODAY = dt.date(2026, 8, 8)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
MAX_QUERIES = 14  # session, user, the page's own queries; never one per row

OUR_MODELS = [CouponTemplate, Coupon, CouponPack, NewCustomerPackGrant, FlashSale, FlashSaleReservation,
              BrandOfTheDay, DeliveryFeeRule, Raffle, RaffleEntry]  # fmt: skip
SERVICE_WRITTEN = [Coupon, NewCustomerPackGrant, FlashSaleReservation, RaffleEntry]


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def staff_client(client):
    client.force_login(CustomerFactory(is_staff=True, is_superuser=True))
    return client


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:promotions_{model._meta.model_name}_{view}", args=args)


def _get(client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return response, len(queries)


def _readonly(page: str, label: str) -> str:
    """The text of a read-only field on a change page, by its label."""
    match = re.search(rf"<label>{re.escape(label)}:</label>\s*<div class=\"readonly\">(.*?)</div>", page, re.S | re.I)
    assert match, f"no read-only field {label!r}"
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


# --- Builders -----------------------------------------------------------------------------


def template(name: str = "满99减10", **fields) -> CouponTemplate:
    defaults = {"kind": CouponTemplate.Kind.AMOUNT_OFF, "threshold_fen": 9900, "amount_off_fen": 1000,
                "valid_days_after_claim": 7}  # fmt: skip
    return CouponTemplate.objects.create(name=name, **{**defaults, **fields})


def flash_sale(name: str, starts_at: dt.datetime, ends_at: dt.datetime, items: int = 1, **fields) -> FlashSale:
    sale = FlashSale.objects.create(name=name, starts_at=starts_at, ends_at=ends_at, **fields)
    for _ in range(items):
        FlashSaleItem.objects.create(sale=sale, product=ProductFactory(), flash_price_fen=500, quota=50)
    return sale


def raffle(name: str = "Raffle", starts_at: dt.datetime = NOW - DAY, ends_at: dt.datetime = NOW + DAY, **fields):
    defaults = {"win_probability_ppm": 100_000, "prize_fen": 8800, "daily_prize_budget_fen": 88_000}
    return Raffle.objects.create(name=name, starts_at=starts_at, ends_at=ends_at, **{**defaults, **fields})


def entry(raffle_row: Raffle, *, won: bool, order_id: int, date: dt.date = TODAY, customer=None) -> RaffleEntry:
    return RaffleEntry.objects.create(
        raffle=raffle_row,
        customer=customer or CustomerFactory(),
        order_id=order_id,
        date=date,
        won=won,
        prize_fen=8800 if won else 0,
        outcome="won" if won else "lost",
    )


def coupon(template_row: CouponTemplate, customer=None, **fields) -> Coupon:
    defaults = {"valid_from": NOW - DAY, "valid_until": NOW + DAY}
    return Coupon.objects.create(template=template_row, customer=customer or CustomerFactory(),
                                 **{**defaults, **fields})  # fmt: skip


def pack(name: str, items: int) -> CouponPack:
    row = CouponPack.objects.create(name=name)
    for i in range(items):
        CouponPackItem.objects.create(pack=row, template=template(f"{name} {i}", amount_off_fen=500 + i), quantity=2)
    return row


# Each adds ``n`` rows to a change list, with the related rows its columns read.
def _add_templates(n):
    for i in range(n):
        used = template(f"T{i}-{CouponTemplate.objects.count()}")
        coupon(used, status=Coupon.Status.USED, order_id=1000 + i)
        coupon(used)


def _add_coupons(n):
    for i in range(n):
        coupon(template(f"C{i}-{Coupon.objects.count()}"), order_id=i + 1, status=Coupon.Status.LOCKED)


def _add_packs(n):
    for _ in range(n):
        row = pack(f"P{CouponPack.objects.count()}", items=2)
        NewCustomerPackGrant.objects.create(customer=CustomerFactory(), pack=row, order_id=1)


def _add_grants(n):
    for _ in range(n):
        NewCustomerPackGrant.objects.create(customer=CustomerFactory(), pack=pack(f"G{CouponPack.objects.count()}", 1),
                                            order_id=7)  # fmt: skip


def _add_flash_sales(n):
    for i in range(n):
        flash_sale(f"F{i}", NOW - HOUR, NOW + HOUR, items=2)


def _add_reservations(n):
    for i in range(n):
        item = flash_sale(f"R{i}", NOW - HOUR, NOW + HOUR).items.get()
        FlashSaleReservation.objects.create(item=item, customer=CustomerFactory(), order_id=100 + i, quantity=1)


def _add_brand_days(n):
    start = BrandOfTheDay.objects.count()
    for i in range(start, start + n):
        BrandOfTheDay.objects.create(date=TODAY + dt.timedelta(days=i), brand=BrandFactory(), percent_off=20)


def _add_fee_rules(n):
    start = DeliveryFeeRule.objects.count()
    for i in range(start, start + n):
        DeliveryFeeRule.objects.create(city=CityFactory(code=f"city{i}", name=f"City {i}"), fee_fen=600)


def _add_raffles(n):
    for _ in range(n):
        row = raffle(f"R{Raffle.objects.count()}")
        RaffleDay.objects.create(raffle=row, date=TODAY, budget_fen=88_000, spent_fen=8800)
        entry(row, won=True, order_id=1)
        entry(row, won=False, order_id=2)


def _add_entries(n):
    for _ in range(n):
        entry(raffle(f"E{Raffle.objects.count()}"), won=True, order_id=3)


GROW = {CouponTemplate: _add_templates, Coupon: _add_coupons, CouponPack: _add_packs, NewCustomerPackGrant: _add_grants,
        FlashSale: _add_flash_sales, FlashSaleReservation: _add_reservations, BrandOfTheDay: _add_brand_days,
        DeliveryFeeRule: _add_fee_rules, Raffle: _add_raffles, RaffleEntry: _add_entries}  # fmt: skip


# --- Registration and cost ----------------------------------------------------------------


def test_every_promotion_screen_is_registered_with_columns_search_and_filters():
    for model in OUR_MODELS:
        model_admin = admin.site._registry[model]
        assert model_admin.list_display != ("__str__",), model
        assert model_admin.search_fields, model
        if model is not DeliveryFeeRule:  # one rule per city: nothing to filter by
            assert model_admin.list_filter, model


@pytest.mark.parametrize("model", SERVICE_WRITTEN, ids=lambda m: m.__name__)
def test_rows_written_by_the_services_cannot_be_added_changed_or_deleted_by_staff(staff_client, model):
    GROW[model](1)
    row = model.objects.get()
    assert staff_client.get(_url(model, "add")).status_code == 403
    page = staff_client.get(_url(model, "change", row.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert staff_client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m.__name__)
def test_changelist_costs_the_same_queries_for_one_row_or_many(staff_client, model):
    url = _url(model, "changelist")
    GROW[model](1)
    _get(staff_client, url)  # warm the per-process caches (content types, site)
    _, few = _get(staff_client, url)
    GROW[model](6)
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == model.objects.count() >= 7
    assert len(queries) == few <= MAX_QUERIES


@pytest.mark.parametrize("model", OUR_MODELS, ids=lambda m: m.__name__)
def test_change_and_add_pages_open_within_the_query_bound(staff_client, django_assert_max_num_queries, model):
    GROW[model](1)
    row = model.objects.order_by("pk").first()
    with django_assert_max_num_queries(MAX_QUERIES):
        assert staff_client.get(_url(model, "change", row.pk)).status_code == 200
    if model not in SERVICE_WRITTEN:
        with django_assert_max_num_queries(MAX_QUERIES):
            assert staff_client.get(_url(model, "add")).status_code == 200


def _scoped_template(size: int) -> CouponTemplate:
    row = template(f"scoped {size}", scope=CouponTemplate.Scope.PRODUCTS)
    row.brands.set([BrandFactory() for _ in range(size)])
    row.categories.set([CategoryFactory() for _ in range(size)])
    row.products.set([ProductFactory() for _ in range(size)])
    return row


def _flash_sale_with(size: int) -> FlashSale:
    return flash_sale(f"sale {size}", NOW - HOUR, NOW + HOUR, items=size)


def _pack_with(size: int) -> CouponPack:
    return pack(f"pack {size}", items=size)


def _raffle_with(size: int) -> Raffle:
    row = raffle(f"raffle {size}")
    for i in range(size):
        RaffleDay.objects.create(raffle=row, date=TODAY - dt.timedelta(days=i), budget_fen=88_000, spent_fen=8800)
    return row


@pytest.mark.parametrize(
    "build", [_scoped_template, _flash_sale_with, _pack_with, _raffle_with], ids=lambda f: f.__name__.strip("_")
)
def test_change_page_costs_the_same_queries_for_one_inline_row_or_many(staff_client, build):
    small, large = build(1), build(6)
    model = type(small)
    _get(staff_client, _url(model, "change", small.pk))
    _, few = _get(staff_client, _url(model, "change", small.pk))
    page, many = _get(staff_client, _url(model, "change", large.pk))
    assert many == few <= MAX_QUERIES
    assert str(large) in page.content.decode()


# --- Status filters -----------------------------------------------------------------------


def _listed(client, model, query: str) -> set[str]:
    response = client.get(_url(model, "changelist") + query)
    assert response.status_code == 200
    return {str(row) for row in response.context["cl"].result_list}


@pytest.mark.parametrize(("model", "make"), [(FlashSale, flash_sale), (Raffle, raffle)], ids=["flash_sale", "raffle"])
def test_live_upcoming_ended_and_off_filters_split_windowed_promotions(staff_client, model, make):
    make("live", NOW - HOUR, NOW + HOUR)
    make("starts now", NOW, NOW + HOUR)
    make("upcoming", NOW + HOUR, NOW + 2 * HOUR)
    make("ended", NOW - 2 * HOUR, NOW - HOUR)
    make("ends now", NOW - HOUR, NOW)
    make("switched off", NOW - HOUR, NOW + HOUR, active=False)
    make("off and ended", NOW - 2 * HOUR, NOW - HOUR, active=False)
    assert _listed(staff_client, model, "?status=live") == {"live", "starts now"}
    assert _listed(staff_client, model, "?status=upcoming") == {"upcoming"}
    assert _listed(staff_client, model, "?status=ended") == {"ended", "ends now", "off and ended"}
    assert _listed(staff_client, model, "?status=off") == {"switched off"}
    assert len(_listed(staff_client, model, "")) == 7


def test_status_column_agrees_with_the_filter(staff_client):
    flash_sale("live", NOW - HOUR, NOW + HOUR)
    flash_sale("upcoming", NOW + HOUR, NOW + 2 * HOUR)
    page = staff_client.get(_url(FlashSale, "changelist")).content.decode()
    assert "Live now" in page and "Upcoming" in page


def test_brand_of_the_day_filter_uses_the_shanghai_date(staff_client, monkeypatch):
    # 16:30 UTC on the 7th is already 00:30 on the 8th in Shanghai.
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 8, 7, 16, 30, tzinfo=dt.UTC))
    for day, name in ((TODAY - DAY, "yesterday"), (TODAY, "today"), (TODAY + DAY, "tomorrow")):
        BrandOfTheDay.objects.create(date=day, brand=BrandFactory(name=name), percent_off=20)

    def brands(query):
        response = staff_client.get(_url(BrandOfTheDay, "changelist") + query)
        return {row.brand.name for row in response.context["cl"].result_list}

    assert brands("?status=today") == {"today"}
    assert brands("?status=upcoming") == {"tomorrow"}
    assert brands("?status=past") == {"yesterday"}


def test_coupon_template_filter_reads_the_validity_or_the_claim_window(staff_client):
    template("fixed, running", valid_days_after_claim=None, valid_from=NOW - DAY, valid_until=NOW + DAY)
    template("fixed, later", valid_days_after_claim=None, valid_from=NOW + DAY, valid_until=NOW + 2 * DAY)
    template("fixed, over", valid_days_after_claim=None, valid_from=NOW - 2 * DAY, valid_until=NOW - DAY)
    template("claim any time")
    template("claim from tomorrow", claim_starts_at=NOW + DAY)
    template("claims closed", claim_ends_at=NOW - HOUR)
    template("switched off", active=False)
    ours = set(CouponTemplate.objects.order_by("-pk").values_list("name", flat=True)[:7])

    def listed(query):  # the migration's new-customer pack templates are there too
        return _listed(staff_client, CouponTemplate, query) & ours

    assert listed("?status=live") == {"fixed, running", "claim any time"}
    assert listed("?status=upcoming") == {"fixed, later", "claim from tomorrow"}
    assert listed("?status=ended") == {"fixed, over", "claims closed"}
    assert listed("?status=off") == {"switched off"}


# --- Actions ------------------------------------------------------------------------------


def _act(client, model, action: str, rows):
    return client.post(_url(model, "changelist"), {"action": action, "_selected_action": [row.pk for row in rows]})


def test_duplicate_template_copies_terms_and_scope_and_starts_switched_off_with_nothing_issued(staff_client):
    original = template("满199减30", threshold_fen=19900, amount_off_fen=3000, scope=CouponTemplate.Scope.BRANDS,
                        channels=CouponTemplate.Channels.DELIVERY, total_cap=500, claimable=True)  # fmt: skip
    brands, categories, products = [BrandFactory(), BrandFactory()], [CategoryFactory()], [ProductFactory()]
    original.brands.set(brands)
    original.categories.set(categories)
    original.products.set(products)
    issue_coupons(template_id=original.pk, customer_id=CustomerFactory().pk, quantity=1)

    response = _act(staff_client, CouponTemplate, "duplicate_selected", [original])

    assert response.status_code == 302
    copy = CouponTemplate.objects.get(name="满199减30 (copy)")
    assert (copy.issued_count, copy.active) == (0, False)
    assert (copy.threshold_fen, copy.amount_off_fen, copy.scope, copy.channels, copy.total_cap, copy.claimable) == (
        19900, 3000, "brands", "delivery", 500, True)  # fmt: skip
    assert set(copy.brands.all()) == set(brands)
    assert set(copy.categories.all()) == set(categories)
    assert set(copy.products.all()) == set(products)
    assert not copy.coupons.exists()
    original.refresh_from_db()
    assert (original.issued_count, original.active, original.brands.count()) == (1, True, 2)


def test_duplicate_keeps_a_long_name_within_its_column(staff_client):
    original = template("x" * 100)
    _act(staff_client, CouponTemplate, "duplicate_selected", [original])
    assert CouponTemplate.objects.filter(name=("x" * 93) + " (copy)").exists()


def test_duplicate_flash_sale_copies_items_with_nothing_sold(staff_client):
    sale = flash_sale("Double 11", NOW - HOUR, NOW + HOUR, items=2)
    sale.items.update(sold=7, per_customer_limit=2)

    _act(staff_client, FlashSale, "duplicate_selected", [sale])

    copy = FlashSale.objects.get(name="Double 11 (copy)")
    assert copy.active is False and (copy.starts_at, copy.ends_at) == (sale.starts_at, sale.ends_at)
    copied = sorted(copy.items.values_list("product_id", "flash_price_fen", "quota", "sold", "per_customer_limit"))
    assert copied == sorted((p, 500, 50, 0, 2) for p in sale.items.values_list("product_id", flat=True))
    assert set(sale.items.values_list("sold", flat=True)) == {7}


def test_duplicate_raffle_and_pack_copy_the_rules_not_the_history(staff_client):
    original = raffle("Lucky draw")
    RaffleDay.objects.create(raffle=original, date=TODAY, budget_fen=88_000, spent_fen=8800)
    entry(original, won=True, order_id=1)
    original_pack = pack("Welcome", items=2)
    NewCustomerPackGrant.objects.create(customer=CustomerFactory(), pack=original_pack, order_id=1)

    _act(staff_client, Raffle, "duplicate_selected", [original])
    _act(staff_client, CouponPack, "duplicate_selected", [original_pack])

    copy = Raffle.objects.get(name="Lucky draw (copy)")
    assert (copy.active, copy.daily_prize_budget_fen, copy.days.count(), copy.entries.count()) == (False, 88_000, 0, 0)
    pack_copy = CouponPack.objects.get(name="Welcome (copy)")
    assert pack_copy.active is False and not pack_copy.grants.exists()
    assert sorted(pack_copy.items.values_list("template_id", "quantity")) == sorted(
        original_pack.items.values_list("template_id", "quantity")
    )


def test_activate_and_deactivate_switch_only_the_selected(staff_client):
    on, off, _other = (flash_sale(n, NOW - HOUR, NOW + HOUR) for n in ("on", "off", "other"))
    FlashSale.objects.filter(pk=off.pk).update(active=False)

    _act(staff_client, FlashSale, "deactivate_selected", [on])
    _act(staff_client, FlashSale, "activate_selected", [off])

    assert dict(FlashSale.objects.values_list("name", "active")) == {"on": False, "off": True, "other": True}


def test_export_lists_every_coupon_of_the_selected_templates_with_the_status_its_holder_sees(staff_client):
    chosen, also, skipped = template("满99减10", total_cap=10), template("Free delivery"), template("Not selected")
    li, wang = CustomerFactory(username="li-na"), CustomerFactory(username="wang-wei")
    available, locked, used, lapsed = issue_coupons(template_id=chosen.pk, customer_id=li.pk, quantity=4,
                                                    enforce_customer_limit=False)  # fmt: skip
    Coupon.objects.filter(pk=locked.pk).update(status=Coupon.Status.LOCKED, order_id=501)
    Coupon.objects.filter(pk=used.pk).update(status=Coupon.Status.USED, order_id=502, used_at=NOW - HOUR)
    Coupon.objects.filter(pk=lapsed.pk).update(valid_until=NOW - HOUR)  # the sweep has not run yet
    (other,) = issue_coupons(template_id=also.pk, customer_id=wang.pk, source=Coupon.Source.CAMPAIGN, source_id=3)
    issue_coupons(template_id=skipped.pk, customer_id=wang.pk)

    response = _act(staff_client, CouponTemplate, "export_issued_coupons", [also, chosen])

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["coupon_id", "template_id", "template", "customer_id", "customer_username", "status", "source",
                       "valid_from", "valid_until", "order_id", "claimed_at", "used_at"]  # fmt: skip
    body = [(int(r[0]), r[2], r[4], r[5], r[6], r[9], r[11]) for r in rows[1:]]
    assert body == [
        (available.pk, "满99减10", "li-na", "available", "claim", "", ""),
        (locked.pk, "满99减10", "li-na", "locked", "claim", "501", ""),
        (used.pk, "满99减10", "li-na", "used", "claim", "502", "2026-08-08T19:00:00+08:00"),
        (lapsed.pk, "满99减10", "li-na", "expired", "claim", "", ""),
        (other.pk, "Free delivery", "wang-wei", "available", "campaign", "", ""),
    ]
    assert rows[1][8] == available.valid_until.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()


def test_export_reads_coupons_in_a_fixed_number_of_queries(staff_client, django_assert_max_num_queries):
    rows = [template(f"T{i}", total_cap=100) for i in range(3)]
    for row in rows:
        for _ in range(20):
            issue_coupons(template_id=row.pk, customer_id=CustomerFactory().pk)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = _act(staff_client, CouponTemplate, "export_issued_coupons", rows)
        lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 61


# --- Figures ------------------------------------------------------------------------------


def test_template_figures_count_issued_used_locked_available_and_quota_left(staff_client):
    row = template("满99减10", total_cap=10)
    coupons = issue_coupons(template_id=row.pk, customer_id=CustomerFactory().pk, quantity=6,
                            enforce_customer_limit=False)  # fmt: skip
    Coupon.objects.filter(pk__in=[c.pk for c in coupons[:2]]).update(status=Coupon.Status.USED, order_id=1)
    Coupon.objects.filter(pk=coupons[2].pk).update(status=Coupon.Status.LOCKED, order_id=2)
    Coupon.objects.filter(pk=coupons[3].pk).update(valid_until=NOW - HOUR)

    page = staff_client.get(_url(CouponTemplate, "change", row.pk)).content.decode()

    assert _readonly(page, "issued") == "6"
    assert _readonly(page, "used") == "2"
    assert _readonly(page, "locked on unpaid orders") == "1"
    assert _readonly(page, "available to their holders") == "2"
    assert _readonly(page, "expired unused") == "1"
    assert _readonly(page, "quota left") == "4"
    listing = staff_client.get(_url(CouponTemplate, "changelist")).content.decode()
    assert "6 / 10" in listing
    assert "¥10.00 off from ¥99.00" in listing


def test_template_terms_read_as_a_shopper_would_say_them(staff_client):
    template("9折", kind=CouponTemplate.Kind.PERCENT_OFF, threshold_fen=0, amount_off_fen=0, percent_off=10,
             cap_fen=2000)  # fmt: skip
    template("Free delivery", kind=CouponTemplate.Kind.FREE_DELIVERY, threshold_fen=5900, amount_off_fen=0)
    listing = staff_client.get(_url(CouponTemplate, "changelist")).content.decode()
    assert "10% off (at most ¥20.00)" in listing
    assert "Free delivery from ¥59.00" in listing


def test_uncapped_template_says_so(staff_client):
    row = template("No cap")
    page = staff_client.get(_url(CouponTemplate, "change", row.pk)).content.decode()
    assert _readonly(page, "quota left") == "no cap"


def test_flash_sale_figures_add_up_units_sold_against_the_quota(staff_client):
    sale = flash_sale("Noon", NOW - HOUR, NOW + HOUR, items=2)
    first, second = sale.items.order_by("pk")
    FlashSaleItem.objects.filter(pk=first.pk).update(sold=50)
    FlashSaleItem.objects.filter(pk=second.pk).update(sold=3)

    page = staff_client.get(_url(FlashSale, "change", sale.pk)).content.decode()

    assert _readonly(page, "units sold / quota") == "53 / 100"
    assert "47" in page  # the second item's remaining units
    assert "53 / 100" in staff_client.get(_url(FlashSale, "changelist")).content.decode()


def test_raffle_figures_show_entries_winners_and_todays_budget_left(staff_client):
    spending, untouched = raffle("Spending"), raffle("Untouched", daily_prize_budget_fen=50_000)
    RaffleDay.objects.create(raffle=spending, date=TODAY, budget_fen=88_000, spent_fen=17_600)
    RaffleDay.objects.create(raffle=spending, date=TODAY - DAY, budget_fen=88_000, spent_fen=88_000)
    for order_id, won in ((1, True), (2, True), (3, False)):
        entry(spending, won=won, order_id=order_id)

    page = staff_client.get(_url(Raffle, "change", spending.pk)).content.decode()

    assert _readonly(page, "entries") == "3"
    assert _readonly(page, "winners") == "2"
    assert _readonly(page, "budget left today") == "¥704.00"
    assert _readonly(page, "given away in all") == "¥1056.00"
    fresh = staff_client.get(_url(Raffle, "change", untouched.pk)).content.decode()
    assert _readonly(fresh, "budget left today") == "¥500.00"  # no draw today: the whole budget
    assert (_readonly(fresh, "entries"), _readonly(fresh, "winners")) == ("0", "0")


def test_pack_figures_show_its_total_value_and_how_many_got_it(staff_client):
    row = CouponPack.objects.create(name="88 RMB welcome")
    for amount, quantity in ((1000, 2), (2000, 1), (4800, 1)):
        CouponPackItem.objects.create(pack=row, template=template(f"¥{amount}", amount_off_fen=amount),
                                      quantity=quantity)  # fmt: skip
    for _ in range(3):
        NewCustomerPackGrant.objects.create(customer=CustomerFactory(), pack=row, order_id=9)

    page = staff_client.get(_url(CouponPack, "change", row.pk)).content.decode()

    assert _readonly(page, "total value") == "¥88.00"
    assert _readonly(page, "granted to") == "3"
    assert "¥20.00" in page  # 2 x ¥10.00 on the first item's row


# --- Forms --------------------------------------------------------------------------------

TEMPLATE_FORM = {"name": "满59减5", "kind": "amount_off", "threshold_fen": "5900", "amount_off_fen": "500",
                 "percent_off": "0", "scope": "everything", "channels": "both", "stacks_with_catalogue": "on",
                 "per_customer_limit": "1", "active": "on"}  # fmt: skip


def test_a_template_without_validity_is_refused_with_a_message_and_not_saved(staff_client):
    before = CouponTemplate.objects.count()
    response = staff_client.post(_url(CouponTemplate, "add"), TEMPLATE_FORM)
    assert response.status_code == 200
    assert "Give a fixed window (from and until) or a number of days after claiming." in response.content.decode()
    assert CouponTemplate.objects.count() == before


def test_a_percent_template_without_a_percent_is_refused(staff_client):
    form = {**TEMPLATE_FORM, "kind": "percent_off", "amount_off_fen": "0", "valid_days_after_claim": "7"}
    response = staff_client.post(_url(CouponTemplate, "add"), form)
    assert "A percent-off coupon takes 1 to 99 percent off." in response.content.decode()
    assert not CouponTemplate.objects.filter(name="满59减5").exists()


def test_a_cap_below_what_is_issued_is_refused(staff_client):
    row = template("Capped", total_cap=5)
    issue_coupons(template_id=row.pk, customer_id=CustomerFactory().pk)
    issue_coupons(template_id=row.pk, customer_id=CustomerFactory().pk)
    form = {**TEMPLATE_FORM, "name": "Capped", "valid_days_after_claim": "7", "total_cap": "1"}
    response = staff_client.post(_url(CouponTemplate, "change", row.pk), form)
    assert "2 are already issued; the cap cannot be lower." in response.content.decode()
    row.refresh_from_db()
    assert row.total_cap == 5


def test_staff_add_a_scoped_template_with_its_brands(staff_client):
    brands = [BrandFactory(), BrandFactory()]
    form = {**TEMPLATE_FORM, "scope": "brands", "brands": [b.pk for b in brands], "valid_days_after_claim": "7"}
    response = staff_client.post(_url(CouponTemplate, "add"), form)
    assert response.status_code == 302
    row = CouponTemplate.objects.get(name="满59减5")
    assert (row.amount_off_fen, row.threshold_fen, row.issued_count) == (500, 5900, 0)
    assert set(row.brands.all()) == set(brands)


def _flash_sale_form(sale: FlashSale, item: FlashSaleItem, quota: int) -> dict:
    return {"name": sale.name, "channels": "both", "active": "on",
            "starts_at_0": "2026-08-08", "starts_at_1": "19:00:00", "ends_at_0": "2026-08-08", "ends_at_1": "21:00:00",
            "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "1", "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "1000", "items-0-id": item.pk, "items-0-sale": sale.pk,
            "items-0-product": item.product_id, "items-0-flash_price_fen": "450", "items-0-quota": str(quota),
            "items-0-per_customer_limit": "2"}  # fmt: skip


def test_a_flash_quota_cannot_drop_below_units_already_sold(staff_client):
    sale = flash_sale("Noon", NOW - HOUR, NOW + HOUR)
    item = sale.items.get()
    FlashSaleItem.objects.filter(pk=item.pk).update(sold=30)

    refused = staff_client.post(_url(FlashSale, "change", sale.pk), _flash_sale_form(sale, item, quota=20))

    assert refused.status_code == 200
    assert "30 units are held or sold; the quota cannot be lower." in refused.content.decode()
    item.refresh_from_db()
    assert (item.quota, item.flash_price_fen) == (50, 500)

    accepted = staff_client.post(_url(FlashSale, "change", sale.pk), _flash_sale_form(sale, item, quota=30))

    assert accepted.status_code == 302
    item.refresh_from_db()
    assert (item.quota, item.sold, item.flash_price_fen, item.per_customer_limit) == (30, 30, 450, 2)
