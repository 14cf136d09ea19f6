"""Read queries for stores, the catalogue and scans, and the distance they sort by."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from miniprogram_api.core import clock
from miniprogram_api.core.errors import NotFound
from stores import selectors
from stores.barcodes import InvalidBarcode, UnknownBarcode, gs1_check_digit
from stores.geo import GeoPoint, distance_m_expression, haversine_m
from stores.models import Location
from tests.factories import (
    BarcodeFactory,
    BrandFactory,
    CategoryFactory,
    CityFactory,
    LocationFactory,
    LocationPriceFactory,
    ProductFactory,
    StockFactory,
)

# A shopper at Jing'an Temple, and stores at real Shanghai landmarks (approximate WGS-84).
JINGAN_TEMPLE = GeoPoint(31.2235, 121.4453)
LANDMARKS = {
    "PSQ": ("People's Square", "31.230400", "121.473700"),  # ~2.8 km from Jing'an Temple
    "XJH": ("Xujiahui", "31.195500", "121.436800"),  # ~3.2 km
    "LJZ": ("Lujiazui", "31.239700", "121.499800"),  # ~5.5 km
    "HQA": ("Hongqiao Airport", "31.197900", "121.336300"),  # ~10.8 km
    "PVG": ("Pudong Airport", "31.144300", "121.808300"),  # ~35.6 km
}


def ean13(body: str) -> str:
    return body + str(gs1_check_digit(body))


@pytest.fixture
def move_clock(monkeypatch):
    """Set "now" (an aware datetime) for code that reads the clock."""

    def move(when: dt.datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: when)

    return move


@pytest.fixture
def landmark_stores(db):
    return {
        code: LocationFactory(code=code, name=name, latitude=lat, longitude=lng)
        for code, (name, lat, lng) in LANDMARKS.items()
    }


# --- geo --------------------------------------------------------------------------------


def test_haversine_shanghai_to_beijing_is_about_1067_km():
    beijing = GeoPoint(39.9042, 116.4074)
    assert haversine_m(GeoPoint(31.2304, 121.4737), beijing) == pytest.approx(1_067_000, rel=0.005)


def test_haversine_is_zero_for_one_point_and_defined_for_antipodes():
    assert haversine_m(JINGAN_TEMPLE, JINGAN_TEMPLE) == 0
    half_circumference = math.pi * 6_371_008.8
    assert haversine_m(GeoPoint(0, 0), GeoPoint(0, 180)) == pytest.approx(half_circumference)


@pytest.mark.parametrize(("lat", "lng"), [(90.1, 0), (-91, 0), (0, 180.5), (0, -181), (math.nan, 0), (0, math.inf)])
def test_geo_point_refuses_impossible_coordinates(lat, lng):
    with pytest.raises(ValueError):
        GeoPoint(lat, lng)


def test_database_distance_agrees_with_python_haversine(landmark_stores):
    rows = Location.objects.annotate(distance_m=distance_m_expression(JINGAN_TEMPLE))
    for row in rows:
        expected = haversine_m(JINGAN_TEMPLE, GeoPoint(float(row.latitude), float(row.longitude)))
        assert row.distance_m == pytest.approx(expected, abs=1.0), row.code


# --- stores -----------------------------------------------------------------------------


def test_store_list_near_a_point_is_nearest_first(landmark_stores):
    stores = list(selectors.store_list(near=JINGAN_TEMPLE))
    assert [s.code for s in stores] == ["PSQ", "XJH", "LJZ", "HQA", "PVG"]
    assert stores[0].distance_m == pytest.approx(2_807, abs=5)
    assert stores[-1].distance_m == pytest.approx(35_637, abs=20)


def test_store_list_leaves_out_warehouses_and_closed_down_stores(landmark_stores):
    LocationFactory(code="WH1", kind=Location.Kind.WAREHOUSE)
    LocationFactory(code="OLD", active=False)
    codes = [s.code for s in selectors.store_list()]
    assert codes == sorted(LANDMARKS)
    assert all(s.distance_m is None for s in selectors.store_list())


def test_store_list_in_a_city(landmark_stores):
    suzhou = CityFactory(code="suzhou", name="Suzhou", latitude="31.298900", longitude="120.585300")
    LocationFactory(code="SZ1", city=suzhou, latitude="31.298900", longitude="120.585300")
    assert [s.code for s in selectors.store_list(city_code="suzhou")] == ["SZ1"]
    assert len(selectors.store_list(city_code="shanghai")) == len(LANDMARKS)


def test_store_list_with_a_code_that_names_no_city_raises_unknown_city(landmark_stores):
    with pytest.raises(selectors.UnknownCity) as raised:
        selectors.store_list(city_code="atlantis")
    assert raised.value.code == "unknown_city"


def test_store_get_does_not_return_a_warehouse_or_an_inactive_store(db):
    store = LocationFactory()
    warehouse = LocationFactory(kind=Location.Kind.WAREHOUSE)
    closed = LocationFactory(active=False)
    assert selectors.store_get(store_id=store.pk) == store
    for missing_id in (warehouse.pk, closed.pk, 0, -1, 10**30):
        with pytest.raises(NotFound):
            selectors.store_get(store_id=missing_id)


# --- catalogue --------------------------------------------------------------------------


def test_new_product_window_covers_the_last_n_local_days(db, settings, move_clock):
    settings.NEW_PRODUCT_DAYS = 30
    # 16:30 UTC on 1 March is already 00:30 on 2 March in Shanghai: the local date counts.
    move_clock(dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC))
    today = dt.date(2026, 3, 2)
    first, last = selectors.new_product_window(today=clock.local_today())
    assert (first, last) == (today - dt.timedelta(days=29), today)

    launched = {
        "today": ProductFactory(launch_date=today),
        "day30": ProductFactory(launch_date=today - dt.timedelta(days=29)),
        "day31": ProductFactory(launch_date=today - dt.timedelta(days=30)),
        "tomorrow": ProductFactory(launch_date=today + dt.timedelta(days=1)),
        "undated": ProductFactory(launch_date=None),
    }
    new = {p.pk for p in selectors.product_list(is_new=True)}
    assert new == {launched["today"].pk, launched["day30"].pk}
    not_new = {p.pk for p in selectors.product_list(is_new=False)}
    assert not_new == {launched[k].pk for k in ("day31", "tomorrow", "undated")}
    flags = {p.pk: p.is_new for p in selectors.product_list()}
    assert [flags[launched[k].pk] for k in ("today", "day30", "day31", "tomorrow", "undated")] == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_product_search_matches_part_of_the_name_or_the_whole_sku(db):
    milk = ProductFactory(sku="100200", name="Bright Dairy Fresh Milk 950ml")
    ProductFactory(sku="100201", name="Orange Juice")
    assert list(selectors.product_list(search="fresh milk")) == [milk]
    assert list(selectors.product_list(search="100200")) == [milk]
    assert list(selectors.product_list(search="1002")) == []


def test_product_category_filter_includes_direct_children_only(db):
    dairy = CategoryFactory(name="Dairy")
    yoghurt = CategoryFactory(name="Yoghurt", parent=dairy)
    greek = CategoryFactory(name="Greek yoghurt", parent=yoghurt)
    in_dairy = ProductFactory(category=dairy)
    in_yoghurt = ProductFactory(category=yoghurt)
    ProductFactory(category=greek)
    ProductFactory()
    assert list(selectors.product_list(category_id=dairy.pk)) == [in_dairy, in_yoghurt]


def test_product_list_is_active_products_by_id_filtered_by_brand(db):
    brand = BrandFactory()
    first = ProductFactory(brand=brand)
    ProductFactory(brand=brand, active=False)
    ProductFactory()
    third = ProductFactory(brand=brand)
    assert list(selectors.product_list(brand_id=brand.pk)) == [first, third]


def test_product_get_hides_inactive_products(db):
    product = ProductFactory()
    BarcodeFactory(product=product, code="6901234567892")
    assert selectors.product_get(product_id=product.pk).barcodes.all()[0].code == "6901234567892"
    gone = ProductFactory(active=False)
    with pytest.raises(NotFound):
        selectors.product_get(product_id=gone.pk)


# --- a scan at a store --------------------------------------------------------------------


@pytest.fixture
def store(db):
    return LocationFactory(code="PSQ", name="People's Square")


@pytest.fixture(params=["product_at_store", "product_for_scan"])
def lookup(request):
    """Both lookups of a scan: the catalogue's, and the lean one a basket scan uses, which
    must find the same and refuse with the same errors in the same order."""
    if request.param == "product_at_store":
        return lambda store, barcode: selectors.product_at_store(store_id=store.pk, barcode=barcode)
    return lambda store, barcode: selectors.product_for_scan(store_id=store.pk, barcode=barcode)


def test_scan_uses_the_store_price_over_the_base_price(store, lookup):
    product = ProductFactory(base_price_fen=1290)
    BarcodeFactory(product=product, code="6901234567892")
    StockFactory(location=store, product=product, on_hand=12, reserved=3)
    LocationPriceFactory(location=store, product=product, price_fen=1190)
    LocationPriceFactory(product=product, price_fen=990)  # another store's price

    result = lookup(store, "6901234567892")
    assert result.product == product
    assert (result.price_fen, result.line_price_fen) == (1190, 1190)
    assert (result.available, result.in_stock) == (9, True)


def test_scan_without_a_store_price_uses_the_base_price(store, lookup):
    product = ProductFactory(base_price_fen=1290)
    BarcodeFactory(product=product, code="6901234567892")
    StockFactory(location=store, product=product, on_hand=2, reserved=2)
    result = lookup(store, "6901234567892")
    assert result.price_fen == 1290
    assert (result.available, result.in_stock) == (0, False)


def test_upc_a_scan_finds_the_product_stored_under_its_ean13_spelling(store, lookup):
    product = ProductFactory()
    BarcodeFactory(product=product, code="0036000291452")
    StockFactory(location=store, product=product)
    assert lookup(store, "036000291452").product == product


def test_weight_label_is_priced_by_weight_rounded_half_up(store, lookup):
    grapes = ProductFactory(plu_code="01234", sold_by_weight=True, base_price_fen=1990)  # 19.90 per kg
    StockFactory(location=store, product=grapes, on_hand=50_000)
    result = lookup(store, ean13("250123401234"))  # 1234 g
    assert result.product == grapes
    assert (result.weight_g, result.embedded_price_fen) == (1234, None)
    assert result.line_price_fen == 2456  # 1234 x 1990 / 1000 = 2455.66


def test_price_label_costs_what_it_says(store, lookup):
    cake = ProductFactory(plu_code="00777", base_price_fen=3000)
    StockFactory(location=store, product=cake)
    result = lookup(store, ean13("200077702580"))
    assert (result.embedded_price_fen, result.line_price_fen, result.weight_g) == (2580, 2580, None)


def test_weighed_product_scanned_by_its_gtin_has_no_line_price(store, lookup):
    rice = ProductFactory(sold_by_weight=True, base_price_fen=600)
    BarcodeFactory(product=rice, code="6901234567892")
    StockFactory(location=store, product=rice)
    result = lookup(store, "6901234567892")
    assert (result.price_fen, result.line_price_fen) == (600, None)


def test_weight_label_for_a_product_not_sold_by_weight_is_unknown(store, lookup):
    ProductFactory(plu_code="01234", sold_by_weight=False)
    with pytest.raises(UnknownBarcode):
        lookup(store, ean13("250123401234"))


def test_scan_errors_in_the_order_a_shopper_should_hear_them(store, lookup):
    product = ProductFactory()
    BarcodeFactory(product=product, code="6901234567892")
    closed = LocationFactory(active=False)
    StockFactory(location=closed, product=product)

    with pytest.raises(InvalidBarcode):
        lookup(closed, "6901234567893")
    with pytest.raises(InvalidBarcode):
        selectors.product_at_store(store_id=10**30, barcode="6901234567893")
    with pytest.raises(NotFound) as raised:
        lookup(closed, "6901234567892")
    assert raised.value.code == "store_not_found"
    with pytest.raises(NotFound) as raised:
        lookup(closed, "4006381333931")
    assert raised.value.code == "store_not_found"
    with pytest.raises(UnknownBarcode):
        lookup(store, "4006381333931")
    with pytest.raises(selectors.NotSoldHere) as raised:
        lookup(store, "6901234567892")
    assert raised.value.code == "not_sold_here"


def test_a_scan_at_a_warehouse_is_not_found(store, lookup):
    product = ProductFactory()
    BarcodeFactory(product=product, code="6901234567892")
    warehouse = LocationFactory(kind=Location.Kind.WAREHOUSE)
    StockFactory(location=warehouse, product=product)
    with pytest.raises(NotFound) as raised:
        lookup(warehouse, "6901234567892")
    assert raised.value.code == "store_not_found"


def test_an_inactive_products_code_is_unknown_even_where_stocked(store, lookup):
    product = ProductFactory(active=False)
    BarcodeFactory(product=product, code="6901234567892")
    StockFactory(location=store, product=product)
    with pytest.raises(UnknownBarcode):
        lookup(store, "6901234567892")


def test_the_scan_lookup_is_one_query(store, django_assert_num_queries):
    product = ProductFactory(base_price_fen=1290)
    BarcodeFactory(product=product, code="6901234567892")
    StockFactory(location=store, product=product)
    LocationPriceFactory(location=store, product=product, price_fen=1190)
    with django_assert_num_queries(1):
        result = selectors.product_for_scan(store_id=store.pk, barcode="6901234567892")
        assert (result.product.pk, result.product.sku, result.price_fen) == (product.pk, product.sku, 1190)


@pytest.mark.parametrize(
    ("opens", "closes", "at", "is_open"),
    [
        ((7, 0), (22, 0), (6, 59), False),
        ((7, 0), (22, 0), (7, 0), True),
        ((7, 0), (22, 0), (22, 0), False),
        ((8, 0), (2, 0), (1, 30), True),
        ((8, 0), (2, 0), (3, 0), False),
        ((0, 0), (0, 0), (3, 0), True),
    ],
    ids=["before-opening", "at-opening", "at-closing", "past-midnight-open", "past-midnight-closed", "24-hours"],
)
def test_opening_hours_in_local_time(opens, closes, at, is_open):
    location = Location(opens_at=dt.time(*opens), closes_at=dt.time(*closes))

    assert location.is_open_at(dt.time(*at)) is is_open
