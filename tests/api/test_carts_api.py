"""``/api/v1/cart``: the delivery cart as the mini-program sees it, bad input, owner scoping,
query counts and parallel clients."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from checkout.models import Cart, CartLine
from miniprogram_api.core import clock
from promotions.models import DeliveryFeeRule
from tests.checkout.cart_city import make_cart_city, stocked_products
from tests.factories import CustomerFactory, client_for
from tests.parallel import run_in_parallel

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 5, 20, 10, 30, tzinfo=SHANGHAI)
CART = "/api/v1/cart"
LINES = "/api/v1/cart/lines"
# Token, city, cart, lines (with product and availability), then pricing: live flash items,
# the Brand of the Day, the city's delivery fee rule.
READ_QUERIES = 7


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def city():
    return make_cart_city()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["details"]


def add(client, product_id, quantity=None, city="shanghai"):
    body = {"city": city, "product_id": product_id}
    if quantity is not None:
        body["quantity"] = quantity
    return client.post(LINES, body, format="json")


def lines() -> list[tuple[int, int]]:
    return list(CartLine.objects.order_by("pk").values_list("product_id", "quantity"))


# --- The priced cart ----------------------------------------------------------------------


def test_a_cart_as_the_client_sees_it(auth_client, city):
    add(auth_client, city.milk.pk, 2)
    response = add(auth_client, city.sold_out.pk)

    assert response.status_code == 200, response.content
    cart = Cart.objects.get()
    milk, tea = CartLine.objects.order_by("pk")
    fee_rule = DeliveryFeeRule.objects.get(city=None)

    def product(p):
        return {"id": p.pk, "sku": p.sku, "name": p.name, "image_url": ""}

    assert response.json() == {
        "id": cart.pk,
        "city": {"code": "shanghai", "name": "Shanghai"},
        "lines": [
            {
                "id": milk.pk,
                "product": product(city.milk),
                "quantity": 2,
                "unit_price_fen": 1290,
                "line_total_fen": 2580,
                "discount_fen": 0,
                "final_fen": 2580,
                "available_units": 45,
                "available": True,
                "unavailable_reason": None,
                "age_restricted": False,
            },
            {
                "id": tea.pk,
                "product": product(city.sold_out),
                "quantity": 1,
                "unit_price_fen": 990,
                "line_total_fen": 990,
                "discount_fen": 0,
                "final_fen": 990,
                "available_units": 0,
                "available": False,
                "unavailable_reason": "out_of_stock",
                "age_restricted": False,
            },
        ],
        "item_count": 3,
        "all_available": False,
        "goods_subtotal_fen": 3570,
        "discount_fen": 0,
        "delivery_fee_fen": 800,
        "total_fen": 4370,
        "free_delivery_from_fen": 16900,
        "amount_to_free_delivery_fen": 16900 - 3570,
        "adjustments": [
            {
                "source": "delivery_fee",
                "promotion_id": fee_rule.pk,
                "line_id": None,
                "amount_fen": 800,
                "label": "Delivery fee",
            }
        ],
        "updated_at": "2026-05-20T10:30:00+08:00",
        "line_id": tea.pk,
    }
    assert auth_client.get(CART, {"city": "shanghai"}).json() == {
        key: value for key, value in response.json().items() if key != "line_id"
    }


def test_the_first_read_creates_the_cart(auth_client, city):
    response = auth_client.get(CART, {"city": "shanghai"})

    assert response.status_code == 200
    body = response.json()
    assert body["lines"] == [] and body["total_fen"] == 0 and body["delivery_fee_fen"] == 0
    assert body["amount_to_free_delivery_fen"] == 16900
    assert Cart.objects.get().pk == body["id"]
    assert auth_client.get(CART, {"city": "shanghai"}).json()["id"] == body["id"]


def test_the_fee_shows_below_16900_and_not_at_16900(auth_client, city):
    below = add(auth_client, city.water.pk).json()
    assert (below["goods_subtotal_fen"], below["delivery_fee_fen"], below["total_fen"]) == (16899, 800, 17699)
    assert below["amount_to_free_delivery_fen"] == 1

    auth_client.delete(f"{LINES}/{below['line_id']}")
    at = add(auth_client, city.rice.pk).json()
    assert (at["goods_subtotal_fen"], at["delivery_fee_fen"], at["total_fen"]) == (16900, 0, 16900)
    assert at["amount_to_free_delivery_fen"] == 0


def test_patch_and_delete_answer_with_the_priced_cart(auth_client, city):
    line_id = add(auth_client, city.milk.pk, 2).json()["line_id"]

    patched = auth_client.patch(f"{LINES}/{line_id}", {"quantity": 46}, format="json")
    assert patched.status_code == 200
    (line,) = patched.json()["lines"]
    assert (line["quantity"], line["available"], line["unavailable_reason"]) == (46, False, "not_enough_stock")

    deleted = auth_client.delete(f"{LINES}/{line_id}")
    assert deleted.status_code == 200 and deleted.json()["lines"] == []
    assert lines() == []


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"quantity": 0}, 400, "validation_error"),
        ({"quantity": 100}, 400, "validation_error"),
        ({"quantity": "2"}, 400, "validation_error"),
        ({"quantity": 2.0}, 400, "validation_error"),
        ({"product_id": "1"}, 400, "validation_error"),
        ({"product_id": 0}, 400, "validation_error"),
        ({"product_id": 2**63}, 400, "validation_error"),
        ({"city": "atlantis"}, 400, "unknown_city"),
        ({"city": None}, 400, "validation_error"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(auth_client, city, body, status, code):
    response = auth_client.post(LINES, {"city": "shanghai", "product_id": city.milk.pk, **body}, format="json")

    assert_error(response, status, code)
    assert lines() == []


@pytest.mark.parametrize(
    ("product", "status", "code"),
    [
        ("apples", 422, "not_deliverable"),
        ("elsewhere", 404, "not_sold_in_city"),
        ("closed_only", 404, "not_sold_in_city"),
        ("retired", 404, "product_not_found"),
    ],
)
def test_products_that_cannot_be_delivered_here_are_refused(auth_client, city, product, status, code):
    details = assert_error(add(auth_client, getattr(city, product).pk), status, code)

    assert details["product_id"] == getattr(city, product).pk
    assert lines() == []


def test_a_weighed_product_says_why(auth_client, city):
    response = add(auth_client, city.apples.pk)

    assert_error(response, 422, "not_deliverable")
    assert response.json()["error"]["details"]["reason"] == "sold_by_weight"
    assert "weighed in the store" in response.json()["error"]["message"]


def test_merging_past_99_is_a_422_quantity_limit(auth_client, city):
    add(auth_client, city.rice.pk, 60)

    assert_error(add(auth_client, city.rice.pk, 40), 422, "quantity_limit")
    assert lines() == [(city.rice.pk, 60)]


def test_the_201st_line_is_a_422_too_many_lines(auth_client, city):
    cart = Cart.objects.create(customer=auth_client.customer, city=city.city)
    products = stocked_products(city, 200)
    CartLine.objects.bulk_create(CartLine(cart=cart, product=product, quantity=1) for product in products)

    assert_error(add(auth_client, city.milk.pk), 422, "too_many_lines")
    assert CartLine.objects.count() == 200


def test_the_cart_needs_a_known_city(auth_client, city):
    assert_error(auth_client.get(CART), 400, "validation_error")
    assert_error(auth_client.get(CART, {"city": "atlantis"}), 400, "unknown_city")
    assert not Cart.objects.exists()


@pytest.mark.parametrize("quantity", [0, 100, "5", None])
def test_a_bad_quantity_on_a_line_changes_nothing(auth_client, city, quantity):
    line_id = add(auth_client, city.milk.pk, 2).json()["line_id"]

    response = auth_client.patch(f"{LINES}/{line_id}", {"quantity": quantity}, format="json")

    assert_error(response, 400, "validation_error")
    assert lines() == [(city.milk.pk, 2)]


def test_another_shoppers_cart_line_is_404_and_untouched(auth_client, city):
    theirs = add(client_for(CustomerFactory()), city.milk.pk, 2).json()["line_id"]

    assert_error(auth_client.patch(f"{LINES}/{theirs}", {"quantity": 9}, format="json"), 404, "cart_line_not_found")
    assert_error(auth_client.delete(f"{LINES}/{theirs}"), 404, "cart_line_not_found")
    assert_error(auth_client.delete(f"{LINES}/{2**63}"), 404, "cart_line_not_found")
    assert lines() == [(city.milk.pk, 2)]
    # Their cart is theirs: this shopper's first read makes a cart of their own.
    assert auth_client.get(CART, {"city": "shanghai"}).json()["lines"] == []


# --- Query counts -------------------------------------------------------------------------


def test_reading_a_cart_costs_the_same_for_1_or_30_lines(auth_client, city, django_assert_max_num_queries):
    add(auth_client, city.milk.pk)
    with django_assert_max_num_queries(READ_QUERIES):
        assert len(auth_client.get(CART, {"city": "shanghai"}).json()["lines"]) == 1

    for product in stocked_products(city, 29):
        add(auth_client, product.pk)
    with django_assert_max_num_queries(READ_QUERIES):
        assert len(auth_client.get(CART, {"city": "shanghai"}).json()["lines"]) == 30


# --- Parallel clients ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_to_one_cart_never_lose_an_update(city):
    """Ten phones of one shopper add milk three times each, and each also adds a product
    of its own: every unit lands, one line per product, whatever the interleaving (on
    PostgreSQL the cart's row lock serialises them; SQLite serialises writers)."""
    shopper = CustomerFactory()
    own = stocked_products(city, 10)

    def add_four_times(index: int) -> list[int]:
        client = client_for(shopper)
        statuses = [add(client, city.rice.pk, 3).status_code for _ in range(3)]
        return [*statuses, add(client, own[index].pk, index + 1).status_code]

    statuses = Counter(status for result in run_in_parallel(add_four_times, 10) for status in result)

    assert statuses == {200: 40}
    assert Cart.objects.filter(customer=shopper).count() == 1
    quantities = dict(CartLine.objects.values_list("product_id", "quantity"))
    assert quantities == {city.rice.pk: 90, **{product.pk: i + 1 for i, product in enumerate(own)}}


@pytest.mark.django_db(transaction=True)
def test_parallel_adds_past_99_stop_at_the_limit(city):
    shopper = CustomerFactory()

    def add_ten(_: int) -> int:
        return add(client_for(shopper), city.rice.pk, 10).status_code

    statuses = Counter(run_in_parallel(add_ten, 12))

    assert statuses == {200: 9, 422: 3}
    assert lines() == [(city.rice.pk, 90)]
