"""The catalogue (``/api/v1/products``) and what a scanned code is at a store
(``/api/v1/stores/{id}/products/lookup``)."""

from __future__ import annotations

import datetime as dt

import pytest

from miniprogram_api.api.throttling import LookupThrottle
from miniprogram_api.core import clock
from stores.barcodes import gs1_check_digit
from stores.models import Location
from tests.factories import (
    BarcodeFactory,
    BrandFactory,
    CategoryFactory,
    LocationFactory,
    LocationPriceFactory,
    ProductFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 5, 20)


def ean13(body: str) -> str:
    return body + str(gs1_check_digit(body))


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


@pytest.fixture(autouse=True)
def _noon_on_20_may(monkeypatch, settings):
    settings.NEW_PRODUCT_DAYS = 30
    noon = dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    monkeypatch.setattr(clock, "now", lambda: noon)


@pytest.fixture
def milk():
    dairy = CategoryFactory(name="Dairy", name_zh="乳品", slug="dairy")
    product = ProductFactory(
        sku="100200",
        name="Bright Dairy Fresh Milk 950ml",
        brand=BrandFactory(name="Bright Dairy", name_zh="光明"),
        category=CategoryFactory(name="Fresh milk", name_zh="鲜奶", slug="fresh-milk", parent=dairy),
        base_price_fen=1290,
        launch_date=TODAY - dt.timedelta(days=3),
        image_url="https://img.example.com/100200.jpg",
        description="Pasteurised whole milk; keep at 2-6 °C.",
    )
    BarcodeFactory(product=product, code="6901234567892")
    BarcodeFactory(product=product, code="4006381333931")
    return product


@pytest.fixture
def store():
    return LocationFactory(code="PSQ", name="People's Square")


# --- list and detail ------------------------------------------------------------------


def test_a_product_in_the_list_as_the_client_sees_it(auth_client, milk):
    body = auth_client.get("/api/v1/products").json()
    assert body["count"] == 1
    assert body["results"] == [
        {
            "id": milk.pk,
            "sku": "100200",
            "name": "Bright Dairy Fresh Milk 950ml",
            "brand": {"id": milk.brand_id, "name": "Bright Dairy", "name_zh": "光明"},
            "category": {"id": milk.category_id, "name": "Fresh milk", "name_zh": "鲜奶", "slug": "fresh-milk"},
            "base_price_fen": 1290,
            "sold_by_weight": False,
            "age_restricted": False,
            "is_new": True,
            "image_url": "https://img.example.com/100200.jpg",
            "launch_date": "2026-05-17",
        }
    ]


def test_product_detail_adds_description_barcodes_and_plu(auth_client, milk):
    body = auth_client.get(f"/api/v1/products/{milk.pk}").json()
    assert body["description"] == "Pasteurised whole milk; keep at 2-6 °C."
    assert body["barcodes"] == ["6901234567892", "4006381333931"]
    assert body["plu_code"] is None
    assert body["base_price_fen"] == 1290


def test_filters_combine(auth_client, milk):
    other_brand = ProductFactory(name="Fresh Milk 1L", category=milk.category, launch_date=TODAY)
    ProductFactory(name="Old Fresh Milk", brand=milk.brand, launch_date=TODAY - dt.timedelta(days=400))
    ProductFactory(name="Retired Fresh Milk", brand=milk.brand, active=False)

    def ids(**params):
        return [p["id"] for p in auth_client.get("/api/v1/products", params).json()["results"]]

    dairy = milk.category.parent_id
    assert ids(search="fresh milk", category=dairy) == [milk.pk, other_brand.pk]
    assert ids(search="FRESH MILK", brand=milk.brand_id, is_new="true") == [milk.pk]
    assert ids(search="100200") == [milk.pk]
    assert ids(is_new="true") == [milk.pk, other_brand.pk]
    assert len(ids(is_new="false")) == 1
    assert ids(brand=milk.brand_id + 1000) == []


@pytest.mark.parametrize(
    ("params", "bad_field"),
    [
        ({"brand": "abc"}, "brand"),
        ({"brand": "0"}, "brand"),
        ({"brand": "-3"}, "brand"),
        ({"brand": str(10**30)}, "brand"),
        ({"category": "1.5"}, "category"),
        ({"is_new": "maybe"}, "is_new"),
        ({"search": "x" * 101}, "search"),
    ],
)
def test_bad_filters_are_a_400_validation_error(auth_client, milk, params, bad_field):
    error = assert_error(auth_client.get("/api/v1/products", params), 400, "validation_error")
    assert bad_field in error["details"]


def test_unknown_and_inactive_products_are_404_not_found(auth_client):
    retired = ProductFactory(active=False)
    for product_id in (retired.pk, 999_999, 10**30):
        assert_error(auth_client.get(f"/api/v1/products/{product_id}"), 404, "product_not_found")


def test_product_pages(auth_client):
    products = ProductFactory.create_batch(7)
    first = auth_client.get("/api/v1/products", {"page_size": 5}).json()
    second = auth_client.get("/api/v1/products", {"page_size": 5, "page": 2}).json()
    assert [p["id"] for p in first["results"] + second["results"]] == [p.pk for p in products]
    assert second["next"] is None
    assert_error(auth_client.get("/api/v1/products", {"page_size": 5, "page": 3}), 404, "not_found")


@pytest.mark.parametrize("filtered", [False, True])
def test_product_list_queries_do_not_grow_with_the_page_size(auth_client, django_assert_num_queries, filtered):
    aisle = CategoryFactory()
    for _ in range(55):  # each in its own brand and its own section of the aisle
        ProductFactory(launch_date=TODAY, category=CategoryFactory(parent=aisle))
    params = {"search": "Product", "is_new": "true", "category": aisle.pk} if filtered else {}
    for page_size in (5, 50):
        with django_assert_num_queries(3):  # token, count, page with brand and category joined
            response = auth_client.get("/api/v1/products", {**params, "page_size": page_size})
        assert len(response.json()["results"]) == page_size


def test_product_detail_is_three_queries(auth_client, django_assert_num_queries, milk):
    with django_assert_num_queries(3):  # token, product with brand and category, barcodes
        assert auth_client.get(f"/api/v1/products/{milk.pk}").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/products", "/api/v1/products/1"])
def test_the_catalogue_needs_a_signed_in_shopper(api_client, path):
    assert_error(api_client.get(path), 401, "not_authenticated")


# --- lookup at a store ------------------------------------------------------------------


def lookup(client, store_id, barcode):
    return client.get(f"/api/v1/stores/{store_id}/products/lookup", {"barcode": barcode})


def test_lookup_gives_this_stores_price_and_stock_in_three_queries(
    auth_client, django_assert_max_num_queries, milk, store
):
    StockFactory(location=store, product=milk, on_hand=24, reserved=4)
    LocationPriceFactory(location=store, product=milk, price_fen=1190)
    LocationPriceFactory(product=milk, price_fen=990)  # another store's price

    with django_assert_max_num_queries(3):
        response = lookup(auth_client, store.pk, "6901234567892")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["sku"], body["brand"]["name"], body["category"]["slug"]) == (
        milk.pk,
        "100200",
        "Bright Dairy",
        "fresh-milk",
    )
    assert body["store_id"] == store.pk
    assert (body["base_price_fen"], body["price_fen"], body["line_price_fen"]) == (1290, 1190, 1190)
    assert (body["available"], body["in_stock"]) == (20, True)
    assert (body["barcode"], body["barcode_type"]) == ("6901234567892", "product_code")
    assert (body["embedded_price_fen"], body["weight_g"]) == (None, None)
    assert body["is_new"] is True


def test_lookup_without_a_store_price_uses_the_base_price_and_reports_sold_out(auth_client, milk, store):
    StockFactory(location=store, product=milk, on_hand=3, reserved=3)
    body = lookup(auth_client, store.pk, "4006381333931").json()
    assert (body["price_fen"], body["available"], body["in_stock"]) == (1290, 0, False)


def test_weight_label_lookup_prices_the_weight(auth_client, store, django_assert_max_num_queries):
    grapes = ProductFactory(name="Kyoho grapes", plu_code="01234", sold_by_weight=True, base_price_fen=2990)
    StockFactory(location=store, product=grapes, on_hand=80_000, reserved=1_000)
    LocationPriceFactory(location=store, product=grapes, price_fen=1990)  # 19.90 per kg here
    with django_assert_max_num_queries(3):
        response = lookup(auth_client, store.pk, ean13("250123401234"))  # 1234 g
    body = response.json()
    assert (body["id"], body["barcode_type"], body["weight_g"]) == (grapes.pk, "weight_label", 1234)
    assert (body["price_fen"], body["line_price_fen"], body["embedded_price_fen"]) == (1990, 2456, None)
    assert (body["available"], body["sold_by_weight"]) == (79_000, True)


def test_price_label_lookup_costs_what_the_label_says(auth_client, store):
    cake = ProductFactory(name="Black forest cake", plu_code="00777", base_price_fen=4500)
    StockFactory(location=store, product=cake)
    body = lookup(auth_client, store.pk, ean13("200077703850")).json()
    assert (body["barcode_type"], body["embedded_price_fen"], body["line_price_fen"]) == ("price_label", 3850, 3850)


def test_weighed_product_by_its_manufacturer_code_has_a_per_kg_price_and_no_line_price(auth_client, store):
    rice = ProductFactory(sold_by_weight=True, base_price_fen=600)
    BarcodeFactory(product=rice, code="6901234567892")
    StockFactory(location=store, product=rice)
    body = lookup(auth_client, store.pk, "6901234567892").json()
    assert (body["price_fen"], body["line_price_fen"]) == (600, None)


# The digits of a valid code, typed in full width (as a Chinese IME may): not a barcode.
FULL_WIDTH_CODE = "".join(chr(ord(digit) + 0xFEE0) for digit in "6901234567892")


@pytest.mark.parametrize("barcode", ["6901234567893", "690123456789", "69012345678921", "abc", FULL_WIDTH_CODE])
def test_a_misread_barcode_is_400_invalid_barcode(auth_client, milk, store, barcode):
    StockFactory(location=store, product=milk)
    assert_error(lookup(auth_client, store.pk, barcode), 400, "invalid_barcode")


def test_a_missing_or_overlong_barcode_is_400_validation_error(auth_client, store):
    assert_error(auth_client.get(f"/api/v1/stores/{store.pk}/products/lookup"), 400, "validation_error")
    assert_error(lookup(auth_client, store.pk, ""), 400, "validation_error")
    assert_error(lookup(auth_client, store.pk, "1" * 65), 400, "validation_error")


def test_a_valid_code_not_in_the_catalogue_is_404_unknown_barcode(auth_client, store):
    error = assert_error(lookup(auth_client, store.pk, "4006381333931"), 404, "unknown_barcode")
    assert error["details"] == {"barcode": "4006381333931"}
    assert_error(lookup(auth_client, store.pk, ean13("259999901234")), 404, "unknown_barcode")


def test_a_product_this_store_does_not_carry_is_404_not_sold_here(auth_client, milk, store):
    StockFactory(product=milk)  # carried by another store only
    error = assert_error(lookup(auth_client, store.pk, "6901234567892"), 404, "not_sold_here")
    assert error["details"] == {"store_id": store.pk, "product_id": milk.pk}


def test_lookup_at_a_closed_down_unknown_or_warehouse_location_is_404_not_found(auth_client, milk):
    closed = LocationFactory(active=False)
    warehouse = LocationFactory(kind=Location.Kind.WAREHOUSE)
    for location in (closed, warehouse):
        StockFactory(location=location, product=milk)
    for store_id in (closed.pk, warehouse.pk, 999_999, 10**30):
        assert_error(lookup(auth_client, store_id, "6901234567892"), 404, "store_not_found")
        assert_error(lookup(auth_client, store_id, ean13("590123412345")), 404, "store_not_found")  # unknown too


def test_lookups_are_throttled_per_shopper(auth_client, milk, store, monkeypatch):
    monkeypatch.setattr(LookupThrottle, "rate", "2/min", raising=False)
    StockFactory(location=store, product=milk)
    assert lookup(auth_client, store.pk, "6901234567892").status_code == 200
    assert lookup(auth_client, store.pk, "6901234567892").status_code == 200
    error = assert_error(lookup(auth_client, store.pk, "6901234567892"), 429, "throttled")
    assert error["details"]["retry_after_seconds"] > 0


def test_a_throttled_shopper_may_look_up_again_when_the_window_turns(auth_client, milk, store, monkeypatch):
    """A fixed window per shopper: Retry-After is the time left in it, then the count restarts."""
    monkeypatch.setattr(LookupThrottle, "rate", "2/min", raising=False)
    now = [1_800_000_000.0 + 45]  # 45 s into a minute
    monkeypatch.setattr(LookupThrottle, "timer", lambda self: now[0])
    StockFactory(location=store, product=milk)
    assert [lookup(auth_client, store.pk, "6901234567892").status_code for _ in range(2)] == [200, 200]

    response = lookup(auth_client, store.pk, "6901234567892")
    error = assert_error(response, 429, "throttled")
    assert error["details"]["retry_after_seconds"] == 15
    assert response["Retry-After"] == "15"

    now[0] += 15
    assert lookup(auth_client, store.pk, "6901234567892").status_code == 200


@pytest.mark.redis
def test_the_lookup_count_lives_in_redis_for_its_window_and_no_longer(auth_client, milk, store, monkeypatch):
    """One counter per shopper and window, moved and given the window's time to live in one
    round trip, so every web process counts the same scans and idle counters go away."""
    from django.core.cache import cache

    monkeypatch.setattr(LookupThrottle, "rate", "5/min", raising=False)
    monkeypatch.setattr(LookupThrottle, "timer", lambda self: 1_800_000_000.0 + 10)
    StockFactory(location=store, product=milk)
    for _ in range(2):
        assert lookup(auth_client, store.pk, "6901234567892").status_code == 200

    redis = cache.client.get_client()
    names = [name.decode() for name in redis.keys(cache.client.make_key("throttle_lookup_*"))]
    assert names == [cache.client.make_key(f"throttle_lookup_{auth_client.customer.pk}_{1_800_000_000 // 60}")]
    assert int(redis.get(names[0])) == 2
    assert 0 < redis.ttl(names[0]) <= 60


@pytest.mark.redis
def test_a_lookup_is_let_through_and_logged_when_redis_does_not_answer(auth_client, milk, store, monkeypatch, caplog):
    from redis.client import Pipeline
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down(self, *args, **kwargs):
        raise RedisConnectionError("Connection refused")

    monkeypatch.setattr(LookupThrottle, "rate", "1/min", raising=False)
    monkeypatch.setattr(Pipeline, "execute", down)
    StockFactory(location=store, product=milk)

    assert [lookup(auth_client, store.pk, "6901234567892").status_code for _ in range(3)] == [200, 200, 200]
    assert "Throttle not counted: Redis did not answer" in caplog.text
