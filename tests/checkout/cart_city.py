"""A city for cart tests: locations of every state, and products sold, not sold and weighed.

Shared by the cart service, API and admin tests, so each test reads as "add the milk".
"""

from __future__ import annotations

from dataclasses import dataclass

from promotions.models import DeliveryFeeRule
from stores.models import City, Location, Product
from tests.factories import CityFactory, LocationFactory, LocationPriceFactory, ProductFactory, StockFactory


@dataclass
class CartCity:
    city: City
    store: Location  # active store: milk 50 on hand, 10 reserved
    warehouse: Location  # active warehouse: milk 5 on hand
    closed: Location  # inactive store: milk 1000 on hand (not counted), and the only stock of `closed_only`
    milk: Product  # base 1290, 1190 at the store (a store price: delivery ignores it); 45 available
    rice: Product  # base 16900 (the free-delivery threshold), plenty of stock
    water: Product  # base 16899, plenty of stock
    sold_out: Product  # a stock row with nothing left
    apples: Product  # sold by weight
    closed_only: Product  # carried only by the inactive store
    elsewhere: Product  # carried only in another city
    retired: Product  # inactive, though stocked


def make_cart_city() -> CartCity:
    # The default fee rule comes from a data migration, which a transactional test's flush
    # removes for the tests after it: make sure it is there.
    DeliveryFeeRule.objects.get_or_create(city=None, defaults={"fee_fen": 800, "free_from_fen": 16_900})
    city = CityFactory()
    beijing = CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")
    store = LocationFactory(city=city, code="SH-STORE")
    warehouse = LocationFactory(city=city, code="SH-WH", kind=Location.Kind.WAREHOUSE, has_pickup_station=False)
    closed = LocationFactory(city=city, code="SH-CLOSED", active=False)
    beijing_store = LocationFactory(city=beijing, code="BJ-STORE", latitude="39.904200", longitude="116.407400")

    milk = ProductFactory(name="Milk", base_price_fen=1290)
    rice = ProductFactory(name="Rice 10 kg", base_price_fen=16900)
    water = ProductFactory(name="Water crate", base_price_fen=16899)
    sold_out = ProductFactory(name="Sold-out tea")
    apples = ProductFactory(name="Apples", sold_by_weight=True, plu_code="12345", base_price_fen=1990)
    closed_only = ProductFactory(name="Closed-store cake")
    elsewhere = ProductFactory(name="Beijing duck")
    retired = ProductFactory(name="Retired soap", active=False)

    StockFactory(location=store, product=milk, on_hand=50, reserved=10)
    StockFactory(location=warehouse, product=milk, on_hand=5)
    StockFactory(location=closed, product=milk, on_hand=1000)
    StockFactory(location=beijing_store, product=milk, on_hand=1000)
    LocationPriceFactory(location=store, product=milk, price_fen=1190)
    for product in (rice, water):
        StockFactory(location=warehouse, product=product, on_hand=500)
    StockFactory(location=store, product=sold_out, on_hand=3, reserved=3)
    StockFactory(location=store, product=apples, on_hand=20_000)
    StockFactory(location=closed, product=closed_only, on_hand=10)
    StockFactory(location=beijing_store, product=elsewhere, on_hand=10)
    StockFactory(location=store, product=retired, on_hand=10)
    return CartCity(
        city, store, warehouse, closed, milk, rice, water, sold_out, apples, closed_only, elsewhere, retired
    )


def stocked_products(city: CartCity, count: int) -> list[Product]:
    """``count`` more products, each carried by the city's store."""
    products = ProductFactory.create_batch(count, base_price_fen=100)
    for product in products:
        StockFactory(location=city.store, product=product, on_hand=10)
    return products
