"""Delivery carts: what may go in, merging, limits, availability, pricing, and the services
checkout uses (lock, clear, restore)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from checkout import carts
from checkout.carts import CartLineNotFound, NotDeliverable, NotSoldInCity
from checkout.errors import QuantityLimit, TooManyLines
from checkout.models import Cart, CartLine
from miniprogram_api.core import clock
from miniprogram_api.core.errors import DomainError, InvalidInput
from promotions.models import BrandOfTheDay, DeliveryFeeRule
from stores.models import Stock
from stores.selectors import ProductNotFound, UnknownCity
from tests.checkout.cart_city import make_cart_city, stocked_products
from tests.factories import CityFactory, CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 5, 20, 10, 30, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def city():
    return make_cart_city()


@pytest.fixture
def shopper():
    return CustomerFactory()


def add(shopper, product, quantity=1, city_code="shanghai"):
    return carts.add_line(customer_id=shopper.pk, city_code=city_code, product_id=product.pk, quantity=quantity)


def lines_of(shopper) -> list[tuple[int, int]]:
    return list(CartLine.objects.filter(cart__customer=shopper).order_by("pk").values_list("product_id", "quantity"))


# --- One cart per shopper and city --------------------------------------------------------


def test_the_first_read_creates_an_empty_cart_and_later_reads_find_it(city, shopper):
    first = carts.cart_get(customer_id=shopper.pk, city_code="shanghai")
    again = carts.cart_get(customer_id=shopper.pk, city_code="shanghai")
    beijing = carts.cart_get(customer_id=shopper.pk, city_code="beijing")

    assert first.cart.pk == again.cart.pk != beijing.cart.pk
    assert Cart.objects.filter(customer=shopper).count() == 2
    assert first.lines == () and first.item_count == 0
    # Nothing to deliver, nothing to pay; the threshold still shows.
    assert (first.pricing.total_fen, first.pricing.delivery_fee_fen) == (0, 0)
    assert (first.free_delivery_from_fen, first.amount_to_free_delivery_fen) == (16900, 16900)


def test_an_unknown_or_inactive_city_has_no_cart(city, shopper):
    CityFactory(code="hangzhou", name="Hangzhou", active=False)

    for code in ("atlantis", "hangzhou"):
        with pytest.raises(UnknownCity):
            carts.cart_get(customer_id=shopper.pk, city_code=code)
        with pytest.raises(UnknownCity):
            add(shopper, city.milk, city_code=code)

    assert not Cart.objects.exists()


# --- Adding -------------------------------------------------------------------------------


def test_adding_merges_into_the_products_line(city, shopper):
    first = add(shopper, city.milk, 2)
    second = add(shopper, city.milk, 3)
    rice = add(shopper, city.rice)

    assert first.line_id == second.line_id != rice.line_id
    assert lines_of(shopper) == [(city.milk.pk, 5), (city.rice.pk, 1)]
    assert [line.line.quantity for line in rice.cart.lines] == [5, 1]


def test_a_line_holds_at_most_99(city, shopper):
    add(shopper, city.rice, 60)

    with pytest.raises(QuantityLimit) as raised:
        add(shopper, city.rice, 40)

    assert raised.value.code == "quantity_limit"
    assert raised.value.details["quantity"] == 60
    assert lines_of(shopper) == [(city.rice.pk, 60)]
    add(shopper, city.rice, 39)
    assert lines_of(shopper) == [(city.rice.pk, 99)]


@pytest.mark.parametrize(
    ("quantity", "error"),
    [(0, InvalidInput), (-1, InvalidInput), (100, QuantityLimit), (True, InvalidInput), ("3", InvalidInput),
     (1.5, InvalidInput)],
)  # fmt: skip
def test_a_bad_quantity_is_refused_and_nothing_is_written(city, shopper, quantity, error):
    with pytest.raises(error):
        add(shopper, city.milk, quantity)

    assert not CartLine.objects.exists()


def test_a_product_sold_by_weight_is_not_deliverable(city, shopper):
    with pytest.raises(NotDeliverable) as raised:
        add(shopper, city.apples)

    assert raised.value.code == "not_deliverable"
    assert raised.value.details == {"product_id": city.apples.pk, "reason": "sold_by_weight"}
    assert "weighed in the store" in raised.value.message
    assert not CartLine.objects.exists()


def test_a_product_no_active_location_of_the_city_carries_is_refused(city, shopper):
    for product in (city.elsewhere, city.closed_only, ProductFactory()):
        with pytest.raises(NotSoldInCity) as raised:
            add(shopper, product)
        assert raised.value.details == {"product_id": product.pk, "city": "shanghai"}

    assert not CartLine.objects.exists()


def test_an_unknown_or_inactive_product_is_not_found(city, shopper):
    for product_id in (city.retired.pk, 0, -5, 2**63, city.milk.pk + 10_000):
        with pytest.raises(ProductNotFound):
            carts.add_line(customer_id=shopper.pk, city_code="shanghai", product_id=product_id, quantity=1)

    assert not CartLine.objects.exists()


def test_a_product_with_nothing_left_may_still_be_added(city, shopper):
    change = add(shopper, city.sold_out)

    (line,) = change.cart.lines
    assert (line.info.available_units, line.info.available, line.info.unavailable_reason) == (0, False, "out_of_stock")


def test_a_cart_holds_at_most_200_lines(city, shopper):
    cart = carts.cart_get(customer_id=shopper.pk, city_code="shanghai").cart
    products = stocked_products(city, 200)
    CartLine.objects.bulk_create(CartLine(cart=cart, product=product, quantity=1) for product in products)

    with pytest.raises(TooManyLines) as raised:
        add(shopper, city.milk)

    assert raised.value.details == {"max_lines": 200}
    assert CartLine.objects.filter(cart=cart).count() == 200
    add(shopper, products[0], 2)  # merging into a line still works
    assert CartLine.objects.get(cart=cart, product=products[0]).quantity == 3


# --- Changing and removing ----------------------------------------------------------------


def test_changing_and_removing_lines(city, shopper):
    milk = add(shopper, city.milk, 2).line_id
    rice = add(shopper, city.rice).line_id

    priced = carts.change_line_quantity(customer_id=shopper.pk, line_id=milk, quantity=7)
    assert [(line.line.pk, line.line.quantity) for line in priced.lines] == [(milk, 7), (rice, 1)]

    priced = carts.remove_line(customer_id=shopper.pk, line_id=milk)
    assert [line.line.pk for line in priced.lines] == [rice]


@pytest.mark.parametrize("quantity", [0, 100, -3, None])
def test_changing_to_a_bad_quantity_changes_nothing(city, shopper, quantity):
    line_id = add(shopper, city.milk, 2).line_id

    with pytest.raises(DomainError):
        carts.change_line_quantity(customer_id=shopper.pk, line_id=line_id, quantity=quantity)

    assert lines_of(shopper) == [(city.milk.pk, 2)]


def test_another_shoppers_line_is_not_found_and_untouched(city, shopper):
    theirs = add(CustomerFactory(), city.milk, 2).line_id

    with pytest.raises(CartLineNotFound):
        carts.change_line_quantity(customer_id=shopper.pk, line_id=theirs, quantity=9)
    with pytest.raises(CartLineNotFound):
        carts.remove_line(customer_id=shopper.pk, line_id=theirs)
    for missing in (0, -1, 2**63, theirs + 1000):
        with pytest.raises(CartLineNotFound):
            carts.remove_line(customer_id=shopper.pk, line_id=missing)

    assert CartLine.objects.get(pk=theirs).quantity == 2
    assert not Cart.objects.filter(customer=shopper).exists()


# --- Availability -------------------------------------------------------------------------


def test_availability_sums_the_citys_active_locations(city, shopper):
    """Milk: 50 - 10 reserved at the store, 5 at the warehouse; the closed store's 1000
    and Beijing's 1000 do not count."""
    priced = add(shopper, city.milk, 45).cart
    (line,) = priced.lines
    assert (line.info.available_units, line.info.available, line.info.unavailable_reason) == (45, True, None)

    priced = add(shopper, city.milk, 1).cart
    (line,) = priced.lines
    assert (line.info.available_units, line.info.available, line.info.unavailable_reason) == (
        45,
        False,
        "not_enough_stock",
    )
    assert priced.all_available is False


def test_availability_is_shown_up_to_99(city, shopper):
    Stock.objects.filter(location=city.store, product=city.milk).update(on_hand=5000)

    (line,) = add(shopper, city.milk, 99).cart.lines

    assert (line.info.available_units, line.info.available) == (99, True)


def test_lines_that_stopped_being_orderable_say_why(city, shopper):
    milk, rice, water = (add(shopper, product).line_id for product in (city.milk, city.rice, city.water))
    city.milk.active = False
    city.milk.save()
    city.rice.sold_by_weight = True
    city.rice.save()
    Stock.objects.filter(product=city.water).delete()

    priced = carts.cart_get(customer_id=shopper.pk, city_code="shanghai")

    reasons = {line.line.pk: line.info.unavailable_reason for line in priced.lines}
    assert reasons == {milk: "product_inactive", rice: "not_deliverable", water: "not_sold_in_city"}
    assert priced.all_available is False


# --- Prices and the delivery fee ----------------------------------------------------------


def test_delivery_sells_at_the_base_price_not_a_stores(city, shopper):
    (line,) = add(shopper, city.milk, 3).cart.lines

    assert line.info.unit_price_fen == 1290  # the store's 1190 is a shelf price
    assert (line.priced.line_total_fen, line.priced.final_fen) == (3870, 3870)


def test_the_fee_shows_below_16900_fen_of_goods_and_not_at_16900(city, shopper):
    below = add(shopper, city.water).cart  # 16,899 fen

    assert (below.pricing.goods_subtotal_fen, below.pricing.delivery_fee_fen, below.pricing.total_fen) == (
        16899,
        800,
        17699,
    )
    assert (below.free_delivery_from_fen, below.amount_to_free_delivery_fen) == (16900, 1)
    assert [(a.source, a.amount_fen) for a in below.adjustments] == [("delivery_fee", 800)]

    carts.remove_line(customer_id=shopper.pk, line_id=below.lines[0].line.pk)
    at = add(shopper, city.rice).cart  # 16,900 fen

    assert (at.pricing.goods_subtotal_fen, at.pricing.delivery_fee_fen, at.pricing.total_fen) == (16900, 0, 16900)
    assert at.amount_to_free_delivery_fen == 0
    assert at.adjustments == ()


def test_the_threshold_counts_goods_after_discounts(city, shopper):
    BrandOfTheDay.objects.create(date=NOW.date(), brand=city.rice.brand, percent_off=10)

    priced = add(shopper, city.rice).cart

    assert (priced.pricing.discount_fen, priced.pricing.delivery_fee_fen) == (1690, 800)
    assert priced.amount_to_free_delivery_fen == 1690


def test_the_citys_own_fee_rule_applies(city, shopper):
    DeliveryFeeRule.objects.create(city=city.city, fee_fen=500, free_from_fen=9900)

    priced = add(shopper, city.milk, 2).cart

    assert (priced.pricing.delivery_fee_fen, priced.free_delivery_from_fen) == (500, 9900)
    assert priced.amount_to_free_delivery_fen == 9900 - 2580


def test_without_any_fee_rule_delivery_is_free(city, shopper):
    DeliveryFeeRule.objects.all().delete()

    priced = add(shopper, city.milk).cart

    assert (priced.pricing.delivery_fee_fen, priced.free_delivery_from_fen, priced.amount_to_free_delivery_fen) == (
        0,
        None,
        0,
    )


# --- What checkout uses -------------------------------------------------------------------


def test_checkout_reads_the_locked_cart_with_its_lines(city, shopper):
    add(shopper, city.milk, 2)
    add(shopper, city.rice)

    with transaction.atomic():
        cart, lines = carts.cart_for_checkout(customer_id=shopper.pk, city_code="shanghai")
        priced = carts.price_cart(cart=cart, lines=lines)

    assert cart.customer_id == shopper.pk and cart.city.code == "shanghai"
    assert [(info.product.pk, info.line.quantity, info.available) for info in lines] == [
        (city.milk.pk, 2, True),
        (city.rice.pk, 1, True),
    ]
    assert priced.pricing.goods_subtotal_fen == 2580 + 16900


def test_locking_a_cart_that_does_not_exist_yet_creates_it(city, shopper):
    with transaction.atomic():
        cart = carts.lock_cart(customer_id=shopper.pk, city_id=city.city.pk)

    assert Cart.objects.get(customer=shopper).pk == cart.pk


def test_clearing_a_cart(city, shopper):
    add(shopper, city.milk, 2)
    cart_id = add(shopper, city.rice).cart.cart.pk

    with transaction.atomic():
        assert carts.clear_cart(cart_id=cart_id) == 2

    assert lines_of(shopper) == []
    assert Cart.objects.filter(pk=cart_id).exists()


def test_restoring_an_unpaid_orders_lines_merges_them_back_capped_at_99(city, shopper):
    cart_id = add(shopper, city.milk, 90).cart.cart.pk
    add(shopper, city.rice)

    dropped = carts.restore_lines(
        cart_id=cart_id,
        lines=[(city.milk.pk, 5), (city.milk.pk, 10), (city.water.pk, 3), (city.apples.pk, 1), (city.retired.pk, 2)],
    )

    assert lines_of(shopper) == [(city.milk.pk, 99), (city.rice.pk, 1), (city.water.pk, 3)]
    assert dropped == sorted([(city.apples.pk, 1), (city.retired.pk, 2)])


def test_restoring_into_a_full_cart_returns_what_did_not_fit(city, shopper):
    cart = carts.cart_get(customer_id=shopper.pk, city_code="shanghai").cart
    products = stocked_products(city, 199)
    CartLine.objects.bulk_create(CartLine(cart=cart, product=product, quantity=1) for product in products)

    dropped = carts.restore_lines(cart_id=cart.pk, lines=[(city.rice.pk, 1), (city.water.pk, 2), (products[0].pk, 4)])

    assert CartLine.objects.filter(cart=cart).count() == 200
    assert CartLine.objects.get(cart=cart, product=products[0]).quantity == 5
    assert CartLine.objects.filter(cart=cart, product=city.rice).exists()
    assert dropped == [(city.water.pk, 2)]


def test_restoring_into_a_missing_cart_returns_everything(city):
    assert carts.restore_lines(cart_id=999_999, lines=[(city.milk.pk, 2)]) == [(city.milk.pk, 2)]
    assert carts.restore_lines(cart_id=999_999, lines=[]) == []
