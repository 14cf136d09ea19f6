"""Scan & pay basket services: opening, scanning, changing lines, and the priced read."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout import baskets
from checkout.models import Basket, BasketLine
from miniprogram_api.core import clock
from miniprogram_api.core.errors import DomainError, InvalidInput, NotFound, Unprocessable
from promotions.pricing import Adjustment, PricedBasket, PricedLine
from stores.models import Location
from tests.checkout.shop import (
    APPLE_EAN,
    APPLE_PLU,
    BEER_EAN,
    BREAD_PLU,
    MILK_EAN,
    NOT_SOLD_EAN,
    UNKNOWN_EAN,
    make_shop,
    price_label,
    weight_label,
)
from tests.factories import (
    BarcodeFactory,
    BasketFactory,
    BasketLineFactory,
    CustomerFactory,
    LocationFactory,
    LocationPriceFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture
def shopper():
    return CustomerFactory()


@pytest.fixture
def basket(shop, shopper):
    return BasketFactory(customer=shopper, store=shop.store)


@pytest.fixture
def move_clock(monkeypatch):
    def move(when: dt.datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: when)

    return move


def scan(basket: Basket, barcode: str, quantity: int | None = None) -> baskets.ScanResult:
    return baskets.scan(customer_id=basket.customer_id, basket_id=basket.pk, barcode=barcode, quantity=quantity)


def assert_refused(call, kind: type[DomainError], code: str) -> DomainError:
    with pytest.raises(kind) as info:
        call()
    assert info.value.code == code
    return info.value


def line_rows(basket: Basket) -> list[tuple]:
    return list(BasketLine.objects.filter(basket=basket).values_list("product_id", "kind", "quantity").order_by("pk"))


# --- Opening ------------------------------------------------------------------------------


def test_opening_creates_an_empty_open_basket(shop, shopper, move_clock):
    now = dt.datetime(2026, 5, 20, 10, 0, tzinfo=SHANGHAI)
    move_clock(now)

    opened = baskets.open_basket(customer_id=shopper.pk, store_id=shop.store.pk)

    assert opened.created is True
    info = opened.basket
    assert (info.basket.status, info.basket.store_id, info.basket.customer_id) == ("open", shop.store.pk, shopper.pk)
    assert (info.lines, info.item_count, info.pricing.total_fen) == ((), 0, 0)
    assert info.basket.updated_at == now
    assert info.expires_at == now + dt.timedelta(hours=2)


def test_opening_again_returns_the_open_basket(basket, shop, shopper):
    opened = baskets.open_basket(customer_id=shopper.pk, store_id=shop.store.pk)

    assert (opened.created, opened.basket.basket.id) == (False, basket.pk)
    assert Basket.objects.count() == 1


def test_opening_returns_a_frozen_basket_so_the_payment_can_be_resumed(shop, shopper):
    frozen = BasketFactory(customer=shopper, store=shop.store, status="frozen")

    opened = baskets.open_basket(customer_id=shopper.pk, store_id=shop.store.pk)

    assert (opened.created, opened.basket.basket.id, opened.basket.basket.status) == (False, frozen.pk, "frozen")


@pytest.mark.parametrize("status", ["checked_out", "expired", "released"])
def test_a_finished_basket_is_not_reused(shop, shopper, status):
    old = BasketFactory(customer=shopper, store=shop.store, status=status)

    opened = baskets.open_basket(customer_id=shopper.pk, store_id=shop.store.pk)

    assert opened.created is True
    assert opened.basket.basket.id != old.pk


def test_baskets_are_per_shopper_and_per_store(basket, shop, shopper):
    other_store = LocationFactory(opens_at=dt.time(0), closes_at=dt.time(0))  # open whatever the hour of the run
    other_shopper = CustomerFactory()

    assert baskets.open_basket(customer_id=shopper.pk, store_id=other_store.pk).created is True
    assert baskets.open_basket(customer_id=other_shopper.pk, store_id=shop.store.pk).created is True
    assert Basket.objects.count() == 3


def test_unknown_closed_down_and_warehouse_locations_are_not_found(shopper):
    for store_id in (
        LocationFactory(active=False).pk,
        LocationFactory(kind=Location.Kind.WAREHOUSE).pk,
        999_999,
        2**63,
        0,
        -1,
    ):
        assert_refused(
            lambda s=store_id: baskets.open_basket(customer_id=shopper.pk, store_id=s), NotFound, "store_not_found"
        )
    assert not Basket.objects.exists()


def test_a_store_without_scan_and_go_refuses_a_new_basket(shopper):
    store = LocationFactory(scan_and_go_enabled=False)

    error = assert_refused(
        lambda: baskets.open_basket(customer_id=shopper.pk, store_id=store.pk), Unprocessable, "scan_and_go_unavailable"
    )

    assert error.details == {"store_id": store.pk}
    assert not Basket.objects.exists()


@pytest.mark.parametrize(
    ("opens", "closes", "hour", "minute", "is_open"),
    [
        (dt.time(7), dt.time(22), 6, 59, False),
        (dt.time(7), dt.time(22), 7, 0, True),
        (dt.time(7), dt.time(22), 22, 0, False),
        (dt.time(22), dt.time(2), 1, 30, True),  # open past midnight
        (dt.time(22), dt.time(2), 2, 0, False),
    ],
)
def test_a_new_basket_needs_the_store_open_by_shanghai_time(shopper, move_clock, opens, closes, hour, minute, is_open):
    store = LocationFactory(opens_at=opens, closes_at=closes)
    # The clock is UTC; the store's hours are Shanghai wall-clock time (UTC+8).
    move_clock(dt.datetime(2026, 5, 20, hour, minute, tzinfo=SHANGHAI).astimezone(dt.UTC))

    def open_it():
        return baskets.open_basket(customer_id=shopper.pk, store_id=store.pk)

    if is_open:
        assert open_it().created is True
    else:
        error = assert_refused(open_it, Unprocessable, "store_closed")
        assert error.details == {"store_id": store.pk, "opens_at": opens.isoformat(), "closes_at": closes.isoformat()}
        assert not Basket.objects.exists()


def test_an_existing_basket_is_returned_after_the_store_closes_or_stops_scan_and_go(shopper, move_clock):
    store = LocationFactory(opens_at=dt.time(7), closes_at=dt.time(22))
    basket = BasketFactory(customer=shopper, store=store)
    Location.objects.filter(pk=store.pk).update(scan_and_go_enabled=False)
    move_clock(dt.datetime(2026, 5, 20, 22, 5, tzinfo=SHANGHAI))

    opened = baskets.open_basket(customer_id=shopper.pk, store_id=store.pk)

    assert (opened.created, opened.basket.basket.id) == (False, basket.pk)


def test_losing_the_race_to_create_returns_the_winners_basket(shop, shopper, monkeypatch):
    """Force the interleaving: the other request creates its basket after this one looked
    and found none, so this one's INSERT meets the one-active-basket constraint."""
    winner = BasketFactory(customer=shopper, store=shop.store)
    looked = []
    real_active_basket = baskets._active_basket

    def first_look_misses(**kwargs):
        if not looked:
            looked.append(True)
            return None
        return real_active_basket(**kwargs)

    monkeypatch.setattr(baskets, "_active_basket", first_look_misses)

    opened = baskets.open_basket(customer_id=shopper.pk, store_id=shop.store.pk)

    assert (opened.created, opened.basket.basket.id) == (False, winner.pk)
    assert Basket.objects.count() == 1


# --- Scanning product codes ---------------------------------------------------------------


def test_scanning_a_product_adds_a_unit_line_at_the_stores_price(basket, shop):
    result = scan(basket, MILK_EAN)

    (line,) = result.basket.lines
    assert result.line_id == line.info.id
    assert (line.info.product_id, line.info.kind, line.info.quantity, line.info.barcode) == (
        shop.milk.pk,
        "unit",
        1,
        MILK_EAN,
    )
    assert (line.unit_price_fen, line.priced.line_total_fen) == (1190, 1190)  # this store's price, not 1290
    assert result.basket.pricing.total_fen == 1190


def test_scanning_the_same_product_again_adds_to_its_line(basket, shop):
    first = scan(basket, MILK_EAN)
    second = scan(basket, MILK_EAN)
    third = scan(basket, MILK_EAN, quantity=3)

    assert first.line_id == second.line_id == third.line_id
    assert line_rows(basket) == [(shop.milk.pk, "unit", 5)]
    assert third.basket.pricing.total_fen == 5 * 1190


def test_upc_a_and_ean_13_spellings_of_one_product_share_a_line(basket, shop):
    cola = ProductFactory(name="Cola 330ml", base_price_fen=300)
    BarcodeFactory(product=cola, code="036000291452")  # UPC-A
    shop.store.stock.create(product=cola, on_hand=10)

    scan(basket, "036000291452")
    scan(basket, "0036000291452")  # the same code read as EAN-13

    assert line_rows(basket) == [(cola.pk, "unit", 2)]


def test_a_line_holds_at_most_99(basket, shop):
    scan(basket, MILK_EAN, quantity=98)
    scan(basket, MILK_EAN)
    basket.refresh_from_db()
    touched = basket.updated_at

    error = assert_refused(lambda: scan(basket, MILK_EAN), Unprocessable, "quantity_limit")

    basket.refresh_from_db()
    assert error.details["quantity"] == 99
    assert (line_rows(basket), basket.updated_at) == ([(shop.milk.pk, "unit", 99)], touched)


@pytest.mark.parametrize(
    ("quantity", "kind", "code"), [(0, InvalidInput, "invalid_quantity"), (100, Unprocessable, "quantity_limit")]
)
def test_a_quantity_outside_1_to_99_is_refused(basket, quantity, kind, code):
    assert_refused(lambda: scan(basket, MILK_EAN, quantity=quantity), kind, code)
    assert line_rows(basket) == []


def test_scanning_touches_the_basket(basket, move_clock):
    later = basket.updated_at + dt.timedelta(minutes=30)
    move_clock(later)

    result = scan(basket, MILK_EAN)

    basket.refresh_from_db()
    assert basket.updated_at == later == result.basket.basket.updated_at
    assert result.basket.expires_at == later + dt.timedelta(hours=2)


def test_age_restricted_products_are_flagged_on_the_line_and_the_basket(basket):
    assert scan(basket, MILK_EAN).basket.has_age_restricted is False

    result = scan(basket, BEER_EAN)

    assert [line.info.age_restricted for line in result.basket.lines] == [False, True]
    assert result.basket.has_age_restricted is True


@pytest.mark.parametrize(
    ("barcode", "kind", "code"),
    [
        ("6901234567891", InvalidInput, "invalid_barcode"),
        ("abc", InvalidInput, "invalid_barcode"),
        (UNKNOWN_EAN, NotFound, "unknown_barcode"),
        (NOT_SOLD_EAN, NotFound, "not_sold_here"),
        (APPLE_EAN, Unprocessable, "weight_label_required"),
    ],
)
def test_codes_that_cannot_be_added_are_refused_and_change_nothing(basket, barcode, kind, code):
    before = basket.updated_at

    assert_refused(lambda: scan(basket, barcode), kind, code)

    basket.refresh_from_db()
    assert (line_rows(basket), basket.updated_at) == ([], before)


def test_no_index_covers_the_time_every_scan_touches():
    """PostgreSQL updates a row in place (HOT: no index entry rewritten) only while no index
    covers a changed column; every scan changes the basket's ``updated_at``."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Basket._meta.db_table)
    assert [name for name, found in constraints.items() if "updated_at" in found["columns"]] == []


@pytest.mark.postgres
def test_a_product_code_is_one_statement_that_reads_the_lines_back_on_postgresql(basket, shop):
    scan(basket, MILK_EAN)  # the first builds what the process keeps (live deals)
    scan(basket, BEER_EAN)

    with CaptureQueriesContext(connection) as ctx:
        result = scan(basket, MILK_EAN, quantity=2)

    # No BEGIN and COMMIT around it: the write is a transaction of its own, and the lines
    # come back from it as a read after it would give them, the written line as written.
    assert [query["sql"].split()[0] for query in ctx.captured_queries] == ["WITH"]
    assert line_rows(basket) == [(shop.milk.pk, "unit", 3), (shop.beer.pk, "unit", 1)]
    assert result.line_id == BasketLine.objects.get(basket=basket, product=shop.milk).pk
    assert [line.info for line in result.basket.lines] == baskets.fetch_basket_lines(basket=basket)
    assert result.basket.pricing.total_fen == 3 * 1190 + 650  # milk at this store's price, beer at the catalogue's
    assert (result.basket.basket.store_code, result.basket.basket.store_name) == (shop.store.code, shop.store.name)


def _basket_updates() -> tuple[int, int]:
    """Updates of basket rows this connection has counted and not yet reported, and how many
    of them were in place (HOT)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            [Basket._meta.db_table] * 2,
        )
        return cursor.fetchone()


@pytest.mark.postgres
def test_scans_update_their_basket_in_place_on_postgresql(basket, shop):
    # Since PostgreSQL 15 the counts also hold earlier transactions' updates that this
    # connection has not reported yet (it reports at most once a second, and never inside
    # a transaction, which a test is): so the scans' own updates are the difference.
    updated_before, in_place_before = _basket_updates()

    for code in (MILK_EAN, BEER_EAN, MILK_EAN):
        scan(basket, code)

    updated, in_place = _basket_updates()
    updated, in_place = updated - updated_before, in_place - in_place_before
    # Savepoints may count a row more than once, but every update of a basket must have
    # been in place.
    assert updated >= 3 and in_place == updated


def test_an_inactive_product_reads_as_unknown(basket, shop):
    type(shop.milk).objects.filter(pk=shop.milk.pk).update(active=False)

    assert_refused(lambda: scan(basket, MILK_EAN), NotFound, "unknown_barcode")


def test_at_most_200_lines_but_a_full_basket_still_adds_to_its_lines(basket, shop):
    BasketLineFactory(basket=basket, product=shop.milk)
    BasketLineFactory.create_batch(199, basket=basket, product=shop.bread, kind="price_label", label_price_fen=1500)

    before = Basket.objects.get(pk=basket.pk).updated_at

    error = assert_refused(lambda: scan(basket, BEER_EAN), Unprocessable, "too_many_lines")

    assert error.details == {"max_lines": 200}
    assert Basket.objects.get(pk=basket.pk).updated_at == before
    assert scan(basket, MILK_EAN).basket.item_count == 2 + 199
    assert BasketLine.objects.filter(basket=basket).count() == 200


# --- Scanning scale labels ----------------------------------------------------------------


def test_a_weight_label_is_its_own_line_at_weight_times_price_per_kg(basket, shop):
    result = scan(basket, weight_label(APPLE_PLU, 1234))

    (line,) = result.basket.lines
    assert (line.info.kind, line.info.weight_g, line.info.quantity) == ("weight_label", 1234, 1)
    # 1.234 kg x 19.90/kg = 24.5566 -> 2456 fen, rounded half up.
    assert (line.info.label_price_fen, line.priced.line_total_fen, line.unit_price_fen) == (2456, 2456, 1990)


def test_every_label_is_a_line_of_its_own_even_when_identical(basket, shop):
    code = price_label(BREAD_PLU, 1400)

    first, second = scan(basket, code), scan(basket, code)

    assert first.line_id != second.line_id
    assert line_rows(basket) == [(shop.bread.pk, "price_label", 1), (shop.bread.pk, "price_label", 1)]
    assert second.basket.pricing.total_fen == 2800
    assert second.basket.item_count == 2


@pytest.mark.parametrize(("grams", "accepted"), [(1, True), (30_000, True), (30_001, False), (99_999, False)])
def test_weight_labels_from_1_g_to_30_kg_are_plausible(basket, grams, accepted):
    code = weight_label(APPLE_PLU, grams)
    if accepted:
        assert scan(basket, code).basket.lines[0].info.weight_g == grams
    else:
        error = assert_refused(lambda: scan(basket, code), Unprocessable, "implausible_label_weight")
        assert error.details["weight_g"] == grams
        assert line_rows(basket) == []


@pytest.mark.parametrize(
    ("price_fen", "accepted"),
    # Bread is 15.00 at this store: a label from 7.50 to 22.50 is accepted.
    [(749, False), (750, True), (1400, True), (2250, True), (2251, False)],
)
def test_a_price_label_on_a_unit_product_must_be_within_half_of_its_price(basket, price_fen, accepted):
    code = price_label(BREAD_PLU, price_fen)
    if accepted:
        line = scan(basket, code).basket.lines[0]
        assert (line.info.kind, line.info.label_price_fen, line.priced.line_total_fen) == (
            "price_label",
            price_fen,
            price_fen,
        )
    else:
        error = assert_refused(lambda: scan(basket, code), Unprocessable, "implausible_label_price")
        assert (error.details["label_price_fen"], error.details["store_price_fen"]) == (price_fen, 1500)
        assert line_rows(basket) == []


@pytest.mark.parametrize(
    ("price_fen", "accepted"),
    # Apples are 19.90/kg: 20 fen is 10.05 g, 19 fen 9.5 g; 30 kg is 597.00.
    [(19, False), (20, True), (59_700, True), (59_701, False)],
)
def test_a_price_label_on_a_weighed_product_must_imply_10_g_to_30_kg(basket, price_fen, accepted):
    code = price_label(APPLE_PLU, price_fen)
    if accepted:
        assert scan(basket, code).basket.pricing.total_fen == price_fen
    else:
        assert_refused(lambda: scan(basket, code), Unprocessable, "implausible_label_price")
        assert line_rows(basket) == []


def test_plausibility_is_judged_against_this_stores_price(basket, shop):
    LocationPriceFactory(location=shop.store, product=shop.bread, price_fen=800)

    assert_refused(lambda: scan(basket, price_label(BREAD_PLU, 1400)), Unprocessable, "implausible_label_price")
    assert scan(basket, price_label(BREAD_PLU, 1200)).basket.pricing.total_fen == 1200


@pytest.mark.parametrize("quantity", [2, 99])
def test_a_label_with_a_quantity_other_than_1_is_refused(basket, quantity):
    assert_refused(
        lambda: scan(basket, weight_label(APPLE_PLU, 500), quantity=quantity),
        InvalidInput,
        "label_quantity_not_allowed",
    )
    assert line_rows(basket) == []
    assert scan(basket, weight_label(APPLE_PLU, 500), quantity=1).basket.item_count == 1


# --- Baskets that are not the shopper's, or not open --------------------------------------


def test_another_shoppers_basket_is_not_found(basket):
    stranger = CustomerFactory()

    for call in (
        lambda: baskets.basket_get(customer_id=stranger.pk, basket_id=basket.pk),
        lambda: baskets.scan(customer_id=stranger.pk, basket_id=basket.pk, barcode=MILK_EAN),
    ):
        assert_refused(call, NotFound, "basket_not_found")
    assert line_rows(basket) == []


@pytest.mark.parametrize("basket_id", [0, -1, 999_999, 2**63, 10**30])
def test_unknown_basket_ids_are_not_found(shopper, basket_id):
    assert_refused(
        lambda: baskets.basket_get(customer_id=shopper.pk, basket_id=basket_id), NotFound, "basket_not_found"
    )
    assert_refused(
        lambda: baskets.scan(customer_id=shopper.pk, basket_id=basket_id, barcode=MILK_EAN),
        NotFound,
        "basket_not_found",
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [("frozen", "basket_frozen"), ("checked_out", "basket_not_open"), ("expired", "basket_not_open")],
)
def test_only_an_open_basket_takes_changes(shop, shopper, status, code):
    basket = BasketFactory(customer=shopper, store=shop.store, status=status)
    line = BasketLineFactory(basket=basket, product=shop.milk, quantity=2)
    ids = {"customer_id": shopper.pk, "basket_id": basket.pk}

    for call in (
        lambda: baskets.scan(**ids, barcode=MILK_EAN),
        lambda: baskets.change_line_quantity(**ids, line_id=line.pk, quantity=5),
        lambda: baskets.remove_line(**ids, line_id=line.pk),
    ):
        error = assert_refused(call, DomainError, code)
        assert error.details == {"basket_id": basket.pk, "status": status}
    assert line_rows(basket) == [(shop.milk.pk, "unit", 2)]


# --- Changing and removing lines ----------------------------------------------------------


def test_changing_a_unit_lines_quantity(basket, shop, move_clock):
    line_id = scan(basket, MILK_EAN).line_id
    later = basket.updated_at + dt.timedelta(minutes=5)
    move_clock(later)

    info = baskets.change_line_quantity(
        customer_id=basket.customer_id, basket_id=basket.pk, line_id=line_id, quantity=4
    )

    assert line_rows(basket) == [(shop.milk.pk, "unit", 4)]
    assert (info.pricing.total_fen, info.item_count, info.basket.updated_at) == (4 * 1190, 4, later)


@pytest.mark.parametrize("code", [weight_label(APPLE_PLU, 500), price_label(BREAD_PLU, 1500)])
def test_a_labels_quantity_is_fixed(basket, code):
    line_id = scan(basket, code).line_id

    assert_refused(
        lambda: baskets.change_line_quantity(
            customer_id=basket.customer_id, basket_id=basket.pk, line_id=line_id, quantity=2
        ),
        Unprocessable,
        "label_quantity_fixed",
    )
    assert BasketLine.objects.get(pk=line_id).quantity == 1


def test_removing_a_line(basket, shop):
    milk_line = scan(basket, MILK_EAN).line_id
    scan(basket, BEER_EAN)

    info = baskets.remove_line(customer_id=basket.customer_id, basket_id=basket.pk, line_id=milk_line)

    assert line_rows(basket) == [(shop.beer.pk, "unit", 1)]
    assert info.pricing.total_fen == 650


def test_lines_of_other_baskets_are_not_found_and_left_alone(basket, shop, shopper):
    own_other_basket = BasketFactory(customer=shopper, store=LocationFactory())
    strangers = BasketFactory(store=shop.store)
    foreign_lines = [
        BasketLineFactory(basket=own_other_basket, product=shop.milk).pk,
        BasketLineFactory(basket=strangers, product=shop.milk).pk,
        999_999,
        2**63,
    ]
    ids = {"customer_id": shopper.pk, "basket_id": basket.pk}

    for line_id in foreign_lines:
        assert_refused(
            lambda i=line_id: baskets.change_line_quantity(**ids, line_id=i, quantity=3),
            NotFound,
            "basket_line_not_found",
        )
        assert_refused(lambda i=line_id: baskets.remove_line(**ids, line_id=i), NotFound, "basket_line_not_found")
    assert BasketLine.objects.filter(quantity=1).count() == 2


# --- Reading and pricing ------------------------------------------------------------------


def test_unit_lines_are_priced_at_the_stores_price_now_and_labels_at_their_label(basket, shop):
    scan(basket, MILK_EAN, quantity=2)
    scan(basket, weight_label(APPLE_PLU, 1000))
    scan(basket, price_label(BREAD_PLU, 1400))
    # Prices change after the scans: the unit line follows, the labels keep what was printed or weighed.
    shop.milk.location_prices.update(price_fen=990)
    LocationPriceFactory(location=shop.store, product=shop.apples, price_fen=2990)
    LocationPriceFactory(location=shop.store, product=shop.bread, price_fen=1800)

    info = baskets.basket_get(customer_id=basket.customer_id, basket_id=basket.pk)

    assert [(line.unit_price_fen, line.priced.line_total_fen) for line in info.lines] == [
        (990, 1980),
        (2990, 1990),
        (1800, 1400),
    ]
    assert (info.pricing.goods_subtotal_fen, info.pricing.total_fen, info.item_count) == (5370, 5370, 4)


def test_the_basket_is_priced_by_the_pricing_engine_with_its_explanation(basket, shop, monkeypatch):
    line_id = scan(basket, MILK_EAN, quantity=2).line_id
    calls = []

    def price_lines(**kwargs):
        calls.append(kwargs)
        (line,) = kwargs["lines"]
        return PricedBasket(
            lines=(PricedLine(key=line.key, line_total_fen=2380, discount_fen=300),),
            adjustments=(Adjustment("flash_sale", 7, line.key, 300, "Flash sale: milk"),),
            goods_subtotal_fen=2380,
            discount_fen=300,
            delivery_fee_fen=0,
            total_fen=2080,
        )

    monkeypatch.setattr(baskets, "price_lines", price_lines)

    info = baskets.basket_get(customer_id=basket.customer_id, basket_id=basket.pk)

    (call,) = calls
    assert (call["channel"], call["store_id"], call["customer_id"]) == ("in_store", shop.store.pk, basket.customer_id)
    (pricing_line,) = call["lines"]
    assert (pricing_line.key, pricing_line.quantity, pricing_line.unit_price_fen) == (line_id, 2, 1190)
    assert (info.lines[0].priced.discount_fen, info.lines[0].priced.final_fen, info.pricing.total_fen) == (
        300,
        2080,
        2080,
    )
    assert info.adjustments[0].line_key == line_id


def test_order_snapshot_copies_names_and_prices(basket, shop):
    scan(basket, BEER_EAN, quantity=2)
    scan(basket, weight_label(APPLE_PLU, 500))

    snapshot = baskets.order_snapshot(basket=basket)

    beer, apples = snapshot.lines
    assert (beer.sku, beer.name, beer.quantity, beer.unit_price_fen, beer.line_total_fen, beer.age_restricted) == (
        "100002",
        "Tsingtao Beer 500ml",
        2,
        650,
        1300,
        True,
    )
    assert (apples.kind, apples.weight_g, apples.unit_price_fen, apples.line_total_fen) == (
        "weight_label",
        500,
        1990,
        995,
    )
    assert (snapshot.priced.total_fen, snapshot.adjustments) == (2295, [])
