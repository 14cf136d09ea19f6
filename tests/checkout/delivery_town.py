"""A small delivery town for the slot, checkout and API tests: a home, the locations around
it, products priced so the delivery fee threshold is easy to hit, and helpers to fill a
cart and check it out.

Distances from ``HOME`` (north is +latitude; 0.009 degrees of latitude is about 1 km):
the near store 1 km (pick-up station, express, open around the clock), the warehouse
5 km, the plain store 3 km east (no pick-up station, no express). ``FAR_HOME`` is 6 km
south of home: 7 km from the near store, too far for express.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from rest_framework.test import APIClient

from checkout import carts, delivery_slots
from checkout.models import Address
from miniprogram_api.core import clock
from promotions.models import DeliveryFeeRule
from stores.models import City, Location, Product
from tests.factories import CityFactory, LocationFactory, ProductFactory, StockFactory

HOME = (Decimal("31.230400"), Decimal("121.473700"))
FAR_HOME = (Decimal("31.176400"), Decimal("121.473700"))
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Town:
    city: City
    near_store: Location
    warehouse: Location
    plain_store: Location
    milk: Product  # 12.90, at the near store and the warehouse
    rice: Product  # 84.50: two are 169.00, free delivery
    oil: Product  # 89.00, only at the warehouse
    tea: Product  # 35.00, only at the near store


def make_town(*, stock: int = 50) -> Town:
    city = CityFactory()
    DeliveryFeeRule.objects.update_or_create(city=city, defaults={"fee_fen": 800, "free_from_fen": 16900})
    near_store = LocationFactory(
        code="SHN",
        name="Near Store",
        latitude="31.239400",
        longitude="121.473700",
        opens_at=dt.time(0, 0),
        closes_at=dt.time(0, 0),
        has_pickup_station=True,
        offers_express=True,
        city=city,
    )
    warehouse = LocationFactory(
        code="SHW",
        name="Pudong Warehouse",
        kind=Location.Kind.WAREHOUSE,
        latitude="31.275400",
        longitude="121.473700",
        has_pickup_station=False,
        city=city,
    )
    plain_store = LocationFactory(
        code="SHP",
        name="Plain Store",
        latitude="31.230400",
        longitude="121.505200",
        has_pickup_station=False,
        city=city,
    )
    milk = ProductFactory(sku="200001", name="Fresh Milk 950ml", base_price_fen=1290)
    rice = ProductFactory(sku="200002", name="Northeast Rice 5kg", base_price_fen=8450)
    oil = ProductFactory(sku="200003", name="Peanut Oil 5L", base_price_fen=8900)
    tea = ProductFactory(sku="200004", name="Longjing Tea 100g", base_price_fen=3500)
    for product in (milk, rice, tea):
        StockFactory(location=near_store, product=product, on_hand=stock)
    for product in (milk, rice, oil):
        StockFactory(location=warehouse, product=product, on_hand=stock)
    return Town(
        city=city,
        near_store=near_store,
        warehouse=warehouse,
        plain_store=plain_store,
        milk=milk,
        rice=rice,
        oil=oil,
        tea=tea,
    )


def address_for(customer, city: City, where: tuple[Decimal, Decimal] = HOME) -> Address:
    return Address.objects.create(
        customer=customer,
        city=city,
        recipient="Li Lei",
        phone="13800138000",
        text="Room 501, 1 Test Road",
        latitude=where[0],
        longitude=where[1],
    )


def fill_cart(customer, city: City, items: dict[Product, int]) -> None:
    for product, quantity in items.items():
        carts.add_line(customer_id=customer.pk, city_code=city.code, product_id=product.pk, quantity=quantity)


def next_slot(city: City, window: str = "09:00-12:00") -> str:
    """The id of the first bookable next-day slot in ``window``, as the slot list gives it."""
    city.refresh_from_db()
    return delivery_slots.Slot(date=delivery_slots.delivery_date(city=city, now=clock.now()), window=window).id


def checkout(
    client: APIClient,
    city: City,
    *,
    address: Address | None = None,
    pickup_store: Location | None = None,
    slot: str | None = None,
    coupon_ids: list[int] | None = None,
    key: str | None = None,
    method: str = "wechat_pay",
):
    body: dict = {"city": city.code, "slot": slot or next_slot(city), "payment_method": method}
    if address is not None:
        body["address_id"] = address.pk
    if pickup_store is not None:
        body["pickup_store_id"] = pickup_store.pk
    if coupon_ids is not None:
        body["coupon_ids"] = coupon_ids
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/cart/checkout", body, format="json", **headers)


def shanghai(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """A Shanghai wall-clock moment, as an aware UTC datetime (what the clock returns)."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(dt.UTC)
