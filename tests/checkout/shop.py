"""A small store for basket tests: products of every kind a shopper scans, and their codes.

Shared by the service, API, concurrency and expiry tests, so each test reads as "scan the
milk" rather than as twenty lines of factories.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stores.barcodes import gs1_check_digit
from stores.models import Location, Product
from tests.factories import (
    BarcodeFactory,
    LocationFactory,
    LocationPriceFactory,
    ProductFactory,
    StockFactory,
)

MILK_EAN = "6901234567892"
BEER_EAN = "6920152400012"
APPLE_EAN = "6971234500014"
NOT_SOLD_EAN = "6935284400014"
UNKNOWN_EAN = "6901234000016"
APPLE_PLU = "12345"
BREAD_PLU = "54321"


def ean13(body: str) -> str:
    return body + str(gs1_check_digit(body))


def price_label(plu: str, price_fen: int, prefix: str = "20") -> str:
    """An in-store price label (prefix 20: 5-digit item code, 5-digit price in fen)."""
    return ean13(f"{prefix}{plu}{price_fen:05d}")


def weight_label(plu: str, weight_g: int, prefix: str = "25") -> str:
    """An in-store weight label (prefix 25: 5-digit item code, 5-digit weight in grams)."""
    return ean13(f"{prefix}{plu}{weight_g:05d}")


@dataclass
class Shop:
    store: Location
    milk: Product  # 12.90 in the catalogue, 11.90 at this store
    beer: Product  # age restricted, 6.50
    apples: Product  # sold by weight, 19.90 per kg
    bread: Product  # in-store bakery, price labels, 15.00
    not_sold: Product  # in the catalogue, not carried by this store


def make_shop(**store_fields) -> Shop:
    """A 24-hour scan & pay store (so no test depends on the time of day) with stock of all
    but ``not_sold``."""
    store = LocationFactory(
        code="PSQ",
        name="People's Square",
        opens_at=dt.time(0, 0),
        closes_at=dt.time(0, 0),
        **store_fields,
    )
    milk = ProductFactory(sku="100001", name="Bright Fresh Milk 950ml", base_price_fen=1290)
    beer = ProductFactory(sku="100002", name="Tsingtao Beer 500ml", base_price_fen=650, age_restricted=True)
    apples = ProductFactory(
        sku="100003", name="Fuji Apples", base_price_fen=1990, sold_by_weight=True, plu_code=APPLE_PLU
    )
    bread = ProductFactory(sku="100004", name="Bakery Milk Loaf", base_price_fen=1500, plu_code=BREAD_PLU)
    not_sold = ProductFactory(sku="100005", name="Imported Olive Oil", base_price_fen=8900)
    for product, code in ((milk, MILK_EAN), (beer, BEER_EAN), (apples, APPLE_EAN), (not_sold, NOT_SOLD_EAN)):
        BarcodeFactory(product=product, code=code)
    for product in (milk, beer, apples, bread):
        StockFactory(location=store, product=product, on_hand=100)
    LocationPriceFactory(location=store, product=milk, price_fen=1190)
    return Shop(store=store, milk=milk, beer=beer, apples=apples, bread=bread, not_sold=not_sold)
