"""``GET /api/v1/flash-sales`` and ``GET /api/v1/brand-of-the-day``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from miniprogram_api.core import clock
from promotions.models import BrandOfTheDay, FlashSale, FlashSaleItem, FlashSaleReservation
from tests.factories import BrandFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 8, 8, 12, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def _noon_on_8_august(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


# --- Flash sales --------------------------------------------------------------------------


def make_sale(name: str, starts_at: dt.datetime, ends_at: dt.datetime) -> FlashSale:
    return FlashSale.objects.create(name=name, starts_at=starts_at, ends_at=ends_at, channels="delivery")


def add_item(sale: FlashSale, *, quota: int = 10, limit: int = 2, **product) -> FlashSaleItem:
    return FlashSaleItem.objects.create(
        sale=sale, product=ProductFactory(**product), flash_price_fen=990, quota=quota, per_customer_limit=limit
    )


def test_flash_sales_lists_live_and_upcoming_with_the_quota_left(auth_client):
    live = make_sale("Noon deals", NOW - HOUR, NOW + HOUR)
    rice = add_item(live, quota=10, limit=2, name="Rice 5 kg", base_price_fen=2990, image_url="https://img/rice.png")
    FlashSaleItem.objects.filter(pk=rice.pk).update(sold=6)
    FlashSaleReservation.objects.create(item=rice, customer=auth_client.customer, order_id=7, quantity=1)
    soon = make_sale("Evening deals", NOW + 5 * HOUR, NOW + 7 * HOUR)
    oil = add_item(soon, quota=3, limit=1)
    add_item(make_sale("Breakfast deals", NOW - 5 * HOUR, NOW - HOUR))

    response = auth_client.get("/api/v1/flash-sales")

    assert response.status_code == 200
    assert response.json() == {
        "live": [
            {
                "id": live.pk,
                "name": "Noon deals",
                "channels": "delivery",
                "starts_at": "2026-08-08T11:00:00+08:00",
                "ends_at": "2026-08-08T13:00:00+08:00",
                "items": [
                    {
                        "product_id": rice.product_id,
                        "name": "Rice 5 kg",
                        "image_url": "https://img/rice.png",
                        "base_price_fen": 2990,
                        "flash_price_fen": 990,
                        "quota": 10,
                        "remaining": 4,
                        "per_customer_limit": 2,
                        "you_may_buy": 1,
                    }
                ],
            }
        ],
        "upcoming": [
            {
                "id": soon.pk,
                "name": "Evening deals",
                "channels": "delivery",
                "starts_at": "2026-08-08T17:00:00+08:00",
                "ends_at": "2026-08-08T19:00:00+08:00",
                "items": [
                    {
                        "product_id": oil.product_id,
                        "name": oil.product.name,
                        "image_url": "",
                        "base_price_fen": 990,
                        "flash_price_fen": 990,
                        "quota": 3,
                        "remaining": 3,
                        "per_customer_limit": 1,
                        "you_may_buy": 1,
                    }
                ],
            }
        ],
    }


def test_no_sales_is_two_empty_lists(auth_client):
    assert auth_client.get("/api/v1/flash-sales").json() == {"live": [], "upcoming": []}


def test_what_another_shopper_reserved_lowers_remaining_but_not_my_allowance(auth_client):
    sale = make_sale("Noon deals", NOW - HOUR, NOW + HOUR)
    item = add_item(sale, quota=10, limit=3)
    FlashSaleItem.objects.filter(pk=item.pk).update(sold=2)
    FlashSaleReservation.objects.create(item=item, customer=CustomerFactory(), order_id=8, quantity=2)

    (shown,) = auth_client.get("/api/v1/flash-sales").json()["live"][0]["items"]

    assert (shown["remaining"], shown["you_may_buy"]) == (8, 3)


def test_the_flash_sales_query_count_does_not_grow_with_sales_or_items(auth_client):
    add_item(make_sale("One", NOW - HOUR, NOW + HOUR))
    few = queries(auth_client, "/api/v1/flash-sales")
    for offset in (-1, 1, 3):
        sale = make_sale(f"Sale {offset}", NOW + offset * HOUR, NOW + (offset + 1.5) * HOUR)
        for _ in range(5):
            item = add_item(sale)
            FlashSaleReservation.objects.create(item=item, customer=auth_client.customer, order_id=9, quantity=1)

    many = queries(auth_client, "/api/v1/flash-sales")

    assert len(auth_client.get("/api/v1/flash-sales").json()["upcoming"]) == 2
    assert many == few


# --- Brand of the Day ---------------------------------------------------------------------


@pytest.fixture
def brand_day():
    brand = BrandFactory(name="Bright Dairy", name_zh="光明")
    return BrandOfTheDay.objects.create(date=dt.date(2026, 8, 8), brand=brand, percent_off=15, label="")


def test_brand_of_the_day_shows_each_products_price_and_price_after_the_discount(auth_client, brand_day):
    milk = ProductFactory(brand=brand_day.brand, name="Fresh milk", base_price_fen=990)
    yoghurt = ProductFactory(brand=brand_day.brand, name="Yoghurt", base_price_fen=1000)
    ProductFactory(base_price_fen=990)  # another brand
    ProductFactory(brand=brand_day.brand, active=False)

    response = auth_client.get("/api/v1/brand-of-the-day")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("id", "date", "brand", "percent_off", "label")} == {
        "id": brand_day.pk,
        "date": "2026-08-08",
        "brand": {"id": brand_day.brand_id, "name": "Bright Dairy", "name_zh": "光明"},
        "percent_off": 15,
        "label": "Brand of the Day",
    }
    products = body["products"]
    assert (products["count"], products["next"], products["previous"]) == (2, None, None)
    assert [(p["id"], p["name"], p["base_price_fen"], p["discounted_price_fen"]) for p in products["results"]] == [
        (milk.pk, "Fresh milk", 990, 841),  # 15% of 990 is 148.5: rounded half up to 149, as at checkout
        (yoghurt.pk, "Yoghurt", 1000, 850),
    ]
    assert {"sku", "brand", "category", "sold_by_weight", "is_new", "image_url"} <= set(products["results"][0])


def test_brand_of_the_day_products_are_paged(auth_client, brand_day):
    ids = [ProductFactory(brand=brand_day.brand).pk for _ in range(5)]

    first = auth_client.get("/api/v1/brand-of-the-day?page_size=2").json()["products"]
    last = auth_client.get("/api/v1/brand-of-the-day?page_size=2&page=3").json()["products"]

    assert first["count"] == 5 and [p["id"] for p in first["results"]] == ids[:2]
    assert "page=2" in first["next"] and first["previous"] is None
    assert [p["id"] for p in last["results"]] == ids[4:] and last["next"] is None


def test_a_page_past_the_end_is_a_404(auth_client, brand_day):
    ProductFactory(brand=brand_day.brand)

    assert auth_client.get("/api/v1/brand-of-the-day?page=9").status_code == 404


def test_no_brand_of_the_day_is_a_404(auth_client):
    BrandOfTheDay.objects.create(date=dt.date(2026, 8, 9), brand=BrandFactory(), percent_off=10)

    assert_error(auth_client.get("/api/v1/brand-of-the-day"), 404, "no_brand_of_the_day")


def test_the_day_turns_at_midnight_in_shanghai(auth_client, brand_day, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 8, 8, 23, 59, tzinfo=SHANGHAI))
    assert auth_client.get("/api/v1/brand-of-the-day").json()["date"] == "2026-08-08"

    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 8, 9, 0, 0, tzinfo=SHANGHAI))
    assert_error(auth_client.get("/api/v1/brand-of-the-day"), 404, "no_brand_of_the_day")

    # 00:30 in Shanghai is still the previous day in UTC: the Shanghai day counts.
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 8, 8, 0, 30, tzinfo=SHANGHAI).astimezone(dt.UTC))
    assert auth_client.get("/api/v1/brand-of-the-day").json()["date"] == "2026-08-08"


def test_the_brand_of_the_day_query_count_does_not_grow_with_products(auth_client, brand_day):
    ProductFactory(brand=brand_day.brand)
    few = queries(auth_client, "/api/v1/brand-of-the-day")
    for _ in range(15):
        ProductFactory(brand=brand_day.brand)

    many = queries(auth_client, "/api/v1/brand-of-the-day")

    assert auth_client.get("/api/v1/brand-of-the-day").json()["products"]["count"] == 16
    assert many == few
