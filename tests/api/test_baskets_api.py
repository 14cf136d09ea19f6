"""``/api/v1/baskets``: what the mini-program sees while a shopper scans and pays."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from checkout import baskets
from checkout.models import Basket, BasketLine
from miniprogram_api.api.baskets_serializers import BasketOutput, ScanInput
from miniprogram_api.core import clock
from promotions import live_deals
from promotions.models import BrandOfTheDay, FlashSale, FlashSaleItem, FlashSaleReservation
from promotions.pricing import Adjustment
from stores.models import Location, Product
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
    BasketFactory,
    BasketLineFactory,
    CustomerFactory,
    LocationFactory,
    ProductFactory,
    client_for,
)

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 5, 20, 10, 30, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)
# Token, basket with store, lines with product and store price, then pricing: the flash
# items the cached index of live deals names for the basket's products (with what the
# shopper holds, as subqueries); a basket no flash sale reaches costs no query for them.
READ_QUERIES = 4
# Building that index: flash-sale items and Brands of the Day, once a minute at most.
INDEX_QUERIES = 2


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def shop():
    return make_shop()


@pytest.fixture
def basket(shop, auth_client):
    return BasketFactory(customer=auth_client.customer, store=shop.store)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def scan(client, basket, barcode, **extra):
    return client.post(f"/api/v1/baskets/{basket.pk}/scan", {"barcode": barcode, **extra}, format="json")


def lines_of(basket) -> list[tuple]:
    return list(BasketLine.objects.filter(basket=basket).order_by("pk").values_list("product_id", "kind", "quantity"))


# --- The priced basket --------------------------------------------------------------------


def test_a_basket_as_the_client_sees_it(auth_client, shop, basket):
    for code in (MILK_EAN, MILK_EAN, BEER_EAN, weight_label(APPLE_PLU, 1234)):
        assert scan(auth_client, basket, code).status_code == 200
    response = scan(auth_client, basket, price_label(BREAD_PLU, 1400))
    milk, beer, apples, bread = BasketLine.objects.filter(basket=basket).order_by("pk")

    def product(p):
        return {"id": p.pk, "sku": p.sku, "name": p.name, "image_url": ""}

    def line(row, product_, **fields):
        return {"id": row.pk, "product": product(product_), "weight_g": None, "discount_fen": 0, **fields}

    assert response.status_code == 200
    assert response.json() == {
        "id": basket.pk,
        "status": "open",
        "store": {"id": shop.store.pk, "code": "PSQ", "name": "People's Square"},
        "lines": [
            line(
                milk,
                shop.milk,
                kind="unit",
                barcode=MILK_EAN,
                quantity=2,
                unit_price_fen=1190,
                line_total_fen=2380,
                final_fen=2380,
                age_restricted=False,
            ),
            line(
                beer,
                shop.beer,
                kind="unit",
                barcode=BEER_EAN,
                quantity=1,
                unit_price_fen=650,
                line_total_fen=650,
                final_fen=650,
                age_restricted=True,
            ),
            line(
                apples,
                shop.apples,
                kind="weight_label",
                barcode=weight_label(APPLE_PLU, 1234),
                quantity=1,
                weight_g=1234,
                unit_price_fen=1990,
                line_total_fen=2456,
                final_fen=2456,
                age_restricted=False,
            ),
            line(
                bread,
                shop.bread,
                kind="price_label",
                barcode=price_label(BREAD_PLU, 1400),
                quantity=1,
                unit_price_fen=1500,
                line_total_fen=1400,
                final_fen=1400,
                age_restricted=False,
            ),
        ],
        "item_count": 5,
        "goods_subtotal_fen": 6886,
        "discount_fen": 0,
        "total_fen": 6886,
        "adjustments": [],
        "has_age_restricted": True,
        "updated_at": "2026-05-20T10:30:00+08:00",
        "expires_at": "2026-05-20T12:30:00+08:00",
        "scanned_line_id": bread.pk,
    }
    read = auth_client.get(f"/api/v1/baskets/{basket.pk}").json()
    assert read == {key: value for key, value in response.json().items() if key != "scanned_line_id"}


_SCAN_BODIES = st.one_of(
    st.dictionaries(
        st.sampled_from(["barcode", "quantity", "other"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-5, max_value=10**20),
            st.floats(allow_nan=False),
            st.text(alphabet="0123456789 \t٣\x00a", max_size=70),
            st.from_regex(r"\A[0-9]{1,70}\Z"),
            st.lists(st.integers(), max_size=2),
        ),
    ),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.text(max_size=5),
)


class _ScanInputByFields(ScanInput):
    def run_validation(self, data=serializers.empty):
        return serializers.Serializer.run_validation(self, data)


@settings(max_examples=400, deadline=None)
@given(body=_SCAN_BODIES)
@example(body={"barcode": MILK_EAN})
@example(body={"barcode": MILK_EAN, "quantity": 99})
@example(body={"barcode": MILK_EAN, "quantity": None})
@example(body={"barcode": MILK_EAN, "quantity": 100})
@example(body={"barcode": MILK_EAN, "quantity": True})
@example(body={"barcode": " " + MILK_EAN})
@example(body={"barcode": "1" * 65})
def test_scan_input_takes_the_everyday_body_as_its_fields_would(body):
    """``ScanInput`` accepts the everyday body without its declared fields; the fields are
    the reference: the same bodies valid, the same validated values, the same errors."""
    fast, by_fields = ScanInput(data=body), _ScanInputByFields(data=body)
    assert fast.is_valid() == by_fields.is_valid()
    if by_fields.errors:
        assert fast.errors == by_fields.errors
    else:
        assert dict(fast.validated_data) == dict(by_fields.validated_data)


def test_the_fast_rendering_matches_the_declared_fields(auth_client, shop, basket):
    """``render_basket`` builds the response by hand; the serializer's fields are the reference."""
    for code in (MILK_EAN, BEER_EAN, weight_label(APPLE_PLU, 1234), price_label(BREAD_PLU, 1400)):
        assert scan(auth_client, basket, code).status_code == 200
    info = baskets.basket_get(customer_id=auth_client.customer.pk, basket_id=basket.pk)
    milk_line = info.lines[0].info.id
    adjustments = (
        Adjustment(source="flash_sale", promotion_id=7, line_key=milk_line, amount_fen=100, label="Flash sale"),
        Adjustment(source="coupon", promotion_id=None, line_key=None, amount_fen=50, label="Coupon"),
    )
    info = dataclasses.replace(info, pricing=dataclasses.replace(info.pricing, adjustments=adjustments))

    rendered = BasketOutput(info).data
    by_fields = serializers.Serializer.to_representation(BasketOutput(), info)

    assert json.dumps(rendered) == json.dumps(by_fields)
    assert {line["kind"] for line in rendered["lines"]} == {"unit", "weight_label", "price_label"}
    assert rendered["adjustments"][0]["line_id"] == milk_line


def test_the_priced_basket_explains_its_catalogue_deals(auth_client, shop, basket):
    sale = FlashSale.objects.create(name="Milk flash sale", starts_at=NOW - HOUR, ends_at=NOW + HOUR)
    FlashSaleItem.objects.create(sale=sale, product=shop.milk, flash_price_fen=990, quota=10, per_customer_limit=2)
    deal = BrandOfTheDay.objects.create(date=clock.local_date(NOW), brand=shop.beer.brand, percent_off=10)
    scan(auth_client, basket, MILK_EAN, quantity=3)
    response = scan(auth_client, basket, BEER_EAN)
    milk, beer = BasketLine.objects.filter(basket=basket).order_by("pk")

    body = response.json()
    # Two of the three bottles at the flash price (the shopper's limit), 10% off the beer.
    assert body["adjustments"] == [
        {"source": "flash_sale", "promotion_id": sale.pk, "line_id": milk.pk, "amount_fen": 400,
         "label": "Milk flash sale"},
        {"source": "brand_of_the_day", "promotion_id": deal.pk, "line_id": beer.pk, "amount_fen": 65,
         "label": "Brand of the Day"},
    ]  # fmt: skip
    assert [(line["line_total_fen"], line["discount_fen"], line["final_fen"]) for line in body["lines"]] == [
        (3570, 400, 3170),
        (650, 65, 585),
    ]
    assert (body["goods_subtotal_fen"], body["discount_fen"], body["total_fen"]) == (4220, 465, 3755)
    read = auth_client.get(f"/api/v1/baskets/{basket.pk}").json()
    assert read["adjustments"] == body["adjustments"] and read["total_fen"] == 3755


# --- Opening ------------------------------------------------------------------------------


def test_opening_creates_with_201_then_returns_the_same_basket_with_200(auth_client, shop):
    created = auth_client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json")
    again = auth_client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json")

    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["id"] == again.json()["id"]
    assert created.json()["status"] == "open"
    assert created.json()["lines"] == []
    assert Basket.objects.count() == 1


def test_opening_returns_a_frozen_basket_to_resume_its_payment(auth_client, shop):
    frozen = BasketFactory(customer=auth_client.customer, store=shop.store, status="frozen")
    BasketLineFactory(basket=frozen, product=shop.milk, quantity=2)

    response = auth_client.post("/api/v1/baskets", {"store_id": shop.store.pk}, format="json")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"], response.json()["total_fen"]) == (
        frozen.pk,
        "frozen",
        2380,
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"store_id": None},
        {"store_id": "abc"},
        {"store_id": "1"},
        {"store_id": 1.5},
        {"store_id": True},
        {"store_id": 0},
        {"store_id": -3},
        {"store_id": 2**63},
        {"store_id": 10**30},
        {"store_id": [1]},
    ],
)
def test_a_bad_store_id_is_a_400_validation_error(auth_client, shop, body):
    error = assert_error(auth_client.post("/api/v1/baskets", body, format="json"), 400, "validation_error")
    assert "store_id" in error["details"]
    assert not Basket.objects.exists()


def test_unknown_closed_down_and_warehouse_locations_are_404(auth_client):
    for store_id in (999_999, LocationFactory(active=False).pk, LocationFactory(kind=Location.Kind.WAREHOUSE).pk):
        assert_error(auth_client.post("/api/v1/baskets", {"store_id": store_id}, format="json"), 404, "store_not_found")
    assert not Basket.objects.exists()


def test_a_store_without_scan_and_go_is_422(auth_client):
    store = LocationFactory(scan_and_go_enabled=False)
    response = auth_client.post("/api/v1/baskets", {"store_id": store.pk}, format="json")
    assert assert_error(response, 422, "scan_and_go_unavailable")["details"] == {"store_id": store.pk}


def test_a_closed_store_is_422_with_its_hours(auth_client, monkeypatch):
    store = LocationFactory(opens_at=dt.time(7, 0), closes_at=dt.time(22, 0))
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 5, 20, 23, 0, tzinfo=SHANGHAI))

    error = assert_error(
        auth_client.post("/api/v1/baskets", {"store_id": store.pk}, format="json"), 422, "store_closed"
    )

    assert error["details"] == {"store_id": store.pk, "opens_at": "07:00:00", "closes_at": "22:00:00"}
    assert not Basket.objects.exists()


def test_malformed_json_is_a_400(auth_client, shop, basket):
    for path in ("/api/v1/baskets", f"/api/v1/baskets/{basket.pk}/scan"):
        response = auth_client.generic("POST", path, '{"store_id": ', content_type="application/json")
        assert_error(response, 400, "malformed_request")
    assert (Basket.objects.count(), lines_of(basket)) == (1, [])


def test_form_encoded_bodies_are_refused(auth_client, shop):
    body = f"store_id={shop.store.pk}"
    response = auth_client.generic("POST", "/api/v1/baskets", body, content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")


# --- Reading ------------------------------------------------------------------------------


def test_another_shoppers_basket_is_404_basket_not_found_everywhere(auth_client, shop):
    strangers = BasketFactory(store=shop.store)
    line = BasketLineFactory(basket=strangers, product=shop.milk, quantity=2)
    base = f"/api/v1/baskets/{strangers.pk}"

    for response in (
        auth_client.get(base),
        auth_client.post(f"{base}/scan", {"barcode": MILK_EAN}, format="json"),
        auth_client.patch(f"{base}/lines/{line.pk}", {"quantity": 5}, format="json"),
        auth_client.delete(f"{base}/lines/{line.pk}"),
    ):
        assert_error(response, 404, "basket_not_found")
    assert lines_of(strangers) == [(shop.milk.pk, "unit", 2)]


@pytest.mark.parametrize("basket_id", ["999999", str(2**63), "9" * 40])
def test_unknown_and_huge_basket_ids_are_404(auth_client, shop, basket_id):
    assert_error(auth_client.get(f"/api/v1/baskets/{basket_id}"), 404, "basket_not_found")
    response = auth_client.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": MILK_EAN}, format="json")
    assert_error(response, 404, "basket_not_found")
    assert not BasketLine.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/baskets/abc", "/api/v1/baskets/-1", "/api/v1/baskets/1/lines/x"])
def test_ids_that_are_not_numbers_are_404(auth_client, path):
    assert_error(auth_client.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/baskets"),
        ("get", "/api/v1/baskets/1"),
        ("post", "/api/v1/baskets/1/scan"),
        ("patch", "/api/v1/baskets/1/lines/1"),
        ("delete", "/api/v1/baskets/1/lines/1"),
    ],
)
def test_baskets_need_a_signed_in_shopper(api_client, method, path):
    assert_error(getattr(api_client, method)(path, {}, format="json"), 401, "not_authenticated")


# --- Scanning -----------------------------------------------------------------------------


def test_scanning_again_adds_to_the_same_line_and_says_which(auth_client, shop, basket):
    first = scan(auth_client, basket, MILK_EAN).json()
    second = scan(auth_client, basket, MILK_EAN, quantity=2).json()

    assert first["scanned_line_id"] == second["scanned_line_id"] == second["lines"][0]["id"]
    assert (second["lines"][0]["quantity"], second["item_count"], second["total_fen"]) == (3, 3, 3570)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 100}, "quantity"),
        ({"quantity": 1000}, "quantity"),
        ({"quantity": "abc"}, "quantity"),
        ({"quantity": "3"}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"barcode": 6901234567892}, "barcode"),
        ({"barcode": ""}, "barcode"),
        ({"barcode": None}, "barcode"),
        ({"barcode": ["6901234567892"]}, "barcode"),
        ({"barcode": "6" * 65}, "barcode"),
    ],
)
def test_bad_scan_input_is_a_400_validation_error_and_writes_nothing(auth_client, shop, basket, extra, field):
    scan(auth_client, basket, MILK_EAN)
    body = {"barcode": MILK_EAN, **extra}

    response = auth_client.post(f"/api/v1/baskets/{basket.pk}/scan", body, format="json")

    assert field in assert_error(response, 400, "validation_error")["details"]
    assert lines_of(basket) == [(shop.milk.pk, "unit", 1)]


def test_a_scan_without_a_barcode_is_a_400(auth_client, basket):
    response = auth_client.post(f"/api/v1/baskets/{basket.pk}/scan", {"quantity": 2}, format="json")
    assert "barcode" in assert_error(response, 400, "validation_error")["details"]
    assert lines_of(basket) == []


def test_a_null_quantity_means_one(auth_client, basket):
    assert scan(auth_client, basket, MILK_EAN, quantity=None).json()["lines"][0]["quantity"] == 1


@pytest.mark.parametrize(
    ("barcode", "status", "code"),
    [
        ("6901234567891", 400, "invalid_barcode"),
        ("12345", 400, "invalid_barcode"),
        (UNKNOWN_EAN, 404, "unknown_barcode"),
        (NOT_SOLD_EAN, 404, "not_sold_here"),
        (APPLE_EAN, 422, "weight_label_required"),
        (price_label(BREAD_PLU, 100), 422, "implausible_label_price"),
        (weight_label(APPLE_PLU, 45_000), 422, "implausible_label_weight"),
    ],
)
def test_codes_that_cannot_be_added_are_refused_with_their_code(auth_client, shop, basket, barcode, status, code):
    scan(auth_client, basket, MILK_EAN)
    assert_error(scan(auth_client, basket, barcode), status, code)
    assert lines_of(basket) == [(shop.milk.pk, "unit", 1)]


def test_a_label_with_a_quantity_is_a_400(auth_client, basket):
    response = scan(auth_client, basket, weight_label(APPLE_PLU, 800), quantity=3)
    assert assert_error(response, 400, "label_quantity_not_allowed")["details"] == {"quantity": 3}
    assert lines_of(basket) == []


def test_more_than_99_on_a_line_is_422_quantity_limit(auth_client, shop, basket):
    scan(auth_client, basket, MILK_EAN, quantity=90)
    error = assert_error(scan(auth_client, basket, MILK_EAN, quantity=10), 422, "quantity_limit")
    assert (error["details"]["quantity"], error["details"]["max_quantity"]) == (90, 99)
    assert lines_of(basket) == [(shop.milk.pk, "unit", 90)]


def test_more_than_200_lines_is_422_too_many_lines(auth_client, shop, basket):
    BasketLineFactory.create_batch(200, basket=basket, product=shop.bread, kind="price_label", label_price_fen=1500)
    assert_error(scan(auth_client, basket, MILK_EAN), 422, "too_many_lines")
    assert BasketLine.objects.filter(basket=basket).count() == 200


@pytest.mark.parametrize(
    ("status", "code"),
    [("frozen", "basket_frozen"), ("checked_out", "basket_not_open"), ("expired", "basket_not_open")],
)
def test_a_basket_that_is_not_open_is_409(auth_client, shop, status, code):
    basket = BasketFactory(customer=auth_client.customer, store=shop.store, status=status)
    line = BasketLineFactory(basket=basket, product=shop.milk)
    base = f"/api/v1/baskets/{basket.pk}"

    for response in (
        scan(auth_client, basket, MILK_EAN),
        auth_client.patch(f"{base}/lines/{line.pk}", {"quantity": 5}, format="json"),
        auth_client.delete(f"{base}/lines/{line.pk}"),
    ):
        assert assert_error(response, 409, code)["details"]["status"] == status
    assert lines_of(basket) == [(shop.milk.pk, "unit", 1)]


# --- Changing and removing lines ----------------------------------------------------------


def test_patching_a_lines_quantity_returns_the_priced_basket(auth_client, shop, basket):
    line_id = scan(auth_client, basket, MILK_EAN).json()["scanned_line_id"]

    response = auth_client.patch(f"/api/v1/baskets/{basket.pk}/lines/{line_id}", {"quantity": 6}, format="json")

    assert response.status_code == 200
    assert (response.json()["lines"][0]["quantity"], response.json()["total_fen"]) == (6, 6 * 1190)


@pytest.mark.parametrize("body", [{}, {"quantity": 0}, {"quantity": 100}, {"quantity": "abc"}, {"quantity": "6"}])
def test_patching_with_a_bad_quantity_is_a_400(auth_client, shop, basket, body):
    line_id = scan(auth_client, basket, MILK_EAN).json()["scanned_line_id"]
    response = auth_client.patch(f"/api/v1/baskets/{basket.pk}/lines/{line_id}", body, format="json")
    assert "quantity" in assert_error(response, 400, "validation_error")["details"]
    assert lines_of(basket) == [(shop.milk.pk, "unit", 1)]


def test_a_labels_quantity_cannot_be_patched(auth_client, basket):
    line_id = scan(auth_client, basket, weight_label(APPLE_PLU, 800)).json()["scanned_line_id"]
    response = auth_client.patch(f"/api/v1/baskets/{basket.pk}/lines/{line_id}", {"quantity": 2}, format="json")
    assert_error(response, 422, "label_quantity_fixed")


def test_deleting_a_line_returns_the_priced_basket_without_it(auth_client, shop, basket):
    milk_line = scan(auth_client, basket, MILK_EAN).json()["scanned_line_id"]
    scan(auth_client, basket, BEER_EAN)

    response = auth_client.delete(f"/api/v1/baskets/{basket.pk}/lines/{milk_line}")

    assert response.status_code == 200
    assert ([line["product"]["sku"] for line in response.json()["lines"]], response.json()["total_fen"]) == (
        ["100002"],
        650,
    )
    assert_error(auth_client.delete(f"/api/v1/baskets/{basket.pk}/lines/{milk_line}"), 404, "basket_line_not_found")


def test_a_line_of_another_basket_is_404_and_untouched(auth_client, shop, basket):
    own_other = BasketFactory(customer=auth_client.customer, store=LocationFactory())
    other_line = BasketLineFactory(basket=own_other, product=shop.milk, quantity=2)
    path = f"/api/v1/baskets/{basket.pk}/lines/{other_line.pk}"

    assert_error(auth_client.patch(path, {"quantity": 5}, format="json"), 404, "basket_line_not_found")
    assert_error(auth_client.delete(path), 404, "basket_line_not_found")
    assert_error(auth_client.delete(f"/api/v1/baskets/{basket.pk}/lines/{2**64}"), 404, "basket_line_not_found")
    assert lines_of(own_other) == [(shop.milk.pk, "unit", 2)]


def test_put_on_a_line_is_405(auth_client, basket):
    response = auth_client.put(f"/api/v1/baskets/{basket.pk}/lines/1", {"quantity": 2}, format="json")
    assert_error(response, 405, "method_not_allowed")


# --- Queries ------------------------------------------------------------------------------


@pytest.fixture
def basket_with_lines(shop, basket):
    def build(count: int):
        BasketLineFactory(basket=basket, product=shop.milk)
        BasketLineFactory.create_batch(count - 1, basket=basket)  # each its own product, catalogue price
        return basket

    return build


@pytest.mark.parametrize("line_count", [1, 100])
def test_scanning_takes_at_most_6_queries_however_big_the_basket(
    auth_client, basket_with_lines, django_assert_max_num_queries, line_count
):
    basket = basket_with_lines(line_count)
    # Token, savepoint, basket lock and touch, the product's units added to its line (the
    # product found in the same statement), lines read, release: 6, and 2 more to build the
    # live-deals index, once a minute at most (BEGIN and COMMIT outside a test's transaction).
    with django_assert_max_num_queries(6 + INDEX_QUERIES):
        merged = scan(auth_client, basket, MILK_EAN)
    with django_assert_max_num_queries(6):
        added = scan(auth_client, basket, BEER_EAN)

    assert (merged.status_code, added.status_code) == (200, 200)
    assert len(added.json()["lines"]) == line_count + 1


@pytest.mark.parametrize("line_count", [1, 100])
def test_reading_a_basket_takes_3_queries_however_big_it_is(
    auth_client, basket_with_lines, django_assert_max_num_queries, django_assert_num_queries, line_count
):
    basket = basket_with_lines(line_count)
    live_deals.live_deals(now=NOW)  # built once a minute at most, not per request
    with django_assert_num_queries(READ_QUERIES - 1):  # no flash sale reaches it
        response = auth_client.get(f"/api/v1/baskets/{basket.pk}")
    assert len(response.json()["lines"]) == line_count
    with django_assert_max_num_queries(6):
        assert auth_client.post("/api/v1/baskets", {"store_id": basket.store_id}, format="json").status_code == 200


def _live_promotions(shop, basket, count: int) -> None:
    """``count`` live promotions: the Brand of the Day on the milk's brand and flash-sale
    items (in four sales) for the basket's other products, then for products it lacks; the
    shopper already holds units of one item on an earlier order."""
    BrandOfTheDay.objects.create(date=clock.local_date(NOW), brand_id=shop.milk.brand_id, percent_off=10)
    in_basket = BasketLine.objects.filter(basket=basket).exclude(product=shop.milk).values("product_id")
    products = list(Product.objects.filter(pk__in=in_basket).order_by("pk"))
    products += ProductFactory.create_batch(max(0, count - 1 - len(products)))
    sales = [FlashSale.objects.create(name=f"Flash {n}", starts_at=NOW - HOUR, ends_at=NOW + HOUR) for n in range(4)]
    items = FlashSaleItem.objects.bulk_create(
        FlashSaleItem(sale=sales[n % 4], product=product, flash_price_fen=500, quota=50, per_customer_limit=3)
        for n, product in enumerate(products[: count - 1])
    )
    FlashSaleReservation.objects.create(item=items[0], customer_id=basket.customer_id, order_id=1, quantity=1)


@pytest.mark.parametrize("live_promotions", [0, 20])
@pytest.mark.parametrize("line_count", [1, 50])
def test_pricing_a_basket_costs_the_same_queries_whatever_its_lines_and_live_promotions(
    auth_client,
    shop,
    basket_with_lines,
    django_assert_num_queries,
    django_assert_max_num_queries,
    line_count,
    live_promotions,
):
    basket = basket_with_lines(line_count)
    if live_promotions:
        _live_promotions(shop, basket, live_promotions)
    # A query for flash items only when one reaches the basket (the milk has the Brand of the Day).
    flash_query = 1 if live_promotions and line_count > 1 else 0

    with django_assert_num_queries(READ_QUERIES - 1 + flash_query + INDEX_QUERIES):  # the first builds the index
        assert auth_client.get(f"/api/v1/baskets/{basket.pk}").status_code == 200
    with django_assert_num_queries(READ_QUERIES - 1 + flash_query):
        response = auth_client.get(f"/api/v1/baskets/{basket.pk}")

    assert response.status_code == 200
    sources = [adjustment["source"] for adjustment in response.json()["adjustments"]]
    if not live_promotions:
        assert sources == []
    else:  # the milk line has the Brand of the Day; every other line a flash price
        assert sorted(sources) == ["brand_of_the_day"] + ["flash_sale"] * min(line_count - 1, live_promotions - 1)


@pytest.mark.parametrize("line_count", [1, 100])
def test_changing_and_removing_lines_take_at_most_10_queries(
    auth_client, basket_with_lines, django_assert_max_num_queries, line_count
):
    basket = basket_with_lines(line_count)
    line = BasketLine.objects.filter(basket=basket).first()
    with django_assert_max_num_queries(10):
        assert auth_client.patch(f"/api/v1/baskets/{basket.pk}/lines/{line.pk}", {"quantity": 3}).status_code == 200
    with django_assert_max_num_queries(10):
        assert auth_client.delete(f"/api/v1/baskets/{basket.pk}/lines/{line.pk}").status_code == 200


def test_unit_lines_show_each_products_catalogue_price_when_the_store_has_none(auth_client, shop, basket):
    product = ProductFactory(base_price_fen=2500)
    BasketLineFactory(basket=basket, product=product, quantity=2)
    response = auth_client.get(f"/api/v1/baskets/{basket.pk}")
    assert [(line["unit_price_fen"], line["line_total_fen"]) for line in response.json()["lines"]] == [(2500, 5000)]


def test_one_shoppers_token_cannot_read_anothers_basket_even_by_id(shop):
    owner, stranger = CustomerFactory(), CustomerFactory()
    basket = BasketFactory(customer=owner, store=shop.store)
    assert client_for(owner).get(f"/api/v1/baskets/{basket.pk}").status_code == 200
    assert_error(client_for(stranger).get(f"/api/v1/baskets/{basket.pk}"), 404, "basket_not_found")
