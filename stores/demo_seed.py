"""Turning the tables of ``stores.demo_data`` into rows, for ``manage.py seed_demo``.

Deterministic: every value comes from ``demo_data.SEED`` and stable keys (city and location
codes, SKUs, GTINs), never from database ids or the order rows come back in. Two databases
seeded from the same tables hold the same catalogue, assortment, prices and stock, and a
second run finds every row it would create already there and creates nothing. Existing
rows are never updated, so what staff changed in a demo database survives a reseed.

The one input that is not fixed is the date. Launch dates count back from the local
(Asia/Shanghai) day of the run that creates the product, so a freshly seeded database
always has products that are new (launched in the last few weeks); a reseed leaves the
dates it finds alone.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from miniprogram_api.core.money import divide_round_half_up

from . import demo_data
from .barcodes import gs1_check_digit
from .models import Barcode, Brand, Category, City, Location, LocationPrice, Product, Stock

BATCH_SIZE = 2000
NEW_PRODUCT_SHARE = 0.05  # launched 0-25 days before the seeding day
LONG_TAIL_SHARE = 0.08  # only warehouses carry these: online-only assortment
SECOND_BARCODE_SHARE = 0.03  # a second EAN-13, as for a repackaged or promotional pack
# Each store carries a fixed share in this range of what is not long tail, which makes
# 70-85 % of the whole assortment.
STORE_CARRY_PERCENT = (78, 88)
WAREHOUSE_CARRY_PERCENT = 96
STORE_WEIGHED_CARRY_PERCENT = 95  # every store has a fresh counter
OUT_OF_STOCK_PER_MILLE = 20
PRICE_OVERRIDE_PER_MILLE = 30
OVERRIDE_PERCENTS = (85, 88, 90, 92, 95, 105, 108, 110)


@dataclass(frozen=True)
class ProductSpec:
    """One product as the tables describe it, before it has a database id."""

    sku: str
    name: str
    brand: str
    category: str
    base_price_fen: int
    barcodes: tuple[str, ...] = ()  # printed codes, EAN-13 or UPC-A
    plu_code: str | None = None  # set for weighed items, which carry no GTIN
    launch_days_ago: int | None = None
    long_tail: bool = False

    @property
    def sold_by_weight(self) -> bool:
        return self.plu_code is not None


@dataclass
class Tally:
    created: int = 0
    existing: int = 0


# --- Reading the tables ----------------------------------------------------------------


def _table_rows(text: str) -> list[tuple[list[str], list[str]]]:
    """Split a text table into (header fields, indented items) pairs."""
    rows: list[tuple[list[str], list[str]]] = []
    for line in text.strip("\n").splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            rows[-1][1].extend(item.strip() for item in line.split(";") if item.strip())
        else:
            rows.append(([field.strip() for field in line.split("|")], []))
    return rows


def _priced(item: str) -> tuple[str, int]:
    label, fen = item.rsplit("=", 1)
    return label.strip(), int(fen)


def location_rows(text: str) -> list[dict]:
    """The STORES and WAREHOUSES tables as Location field values (without kind and city)."""
    rows = []
    for fields, _ in _table_rows(text):
        code, name, address, coords, hours = fields[:5]
        features = set(fields[5].split()) if len(fields) > 5 else set()
        latitude, longitude = (Decimal(part.strip()) for part in coords.split(","))
        opens, closes = (dt.time.fromisoformat(part) for part in hours.split("-"))
        rows.append(
            {
                "code": code,
                "name": name,
                "address": address,
                "latitude": latitude,
                "longitude": longitude,
                "opens_at": opens,
                "closes_at": closes,
                "has_pickup_station": "pickup" in features,
                "scan_and_go_enabled": "scan" in features,
                "active": "closed" not in features,
            }
        )
    return rows


def nice_price(fen: int) -> int:
    """Round a computed price to what a shelf label shows: 3.50, 39.90, 259.00."""
    if fen < 1000:
        return max(10, divide_round_half_up(fen, 10) * 10)
    if fen < 10000:
        return divide_round_half_up(fen, 100) * 100 - 10
    return divide_round_half_up(fen, 1000) * 1000 - 100


# --- The catalogue ---------------------------------------------------------------------


def _company_prefixes(rng: random.Random) -> dict[str, str]:
    """A made-up GS1 company prefix per brand: 69x + 4 digits (China), or UPC 0 + 5 digits."""
    prefixes: dict[str, str] = {}
    taken: set[str] = set()
    for name, _ in demo_data.BRANDS:
        while True:
            if name in demo_data.IMPORTED_BRANDS:
                prefix = f"0{rng.randrange(10000, 100000)}"
            else:
                prefix = f"69{rng.randrange(10)}{rng.randrange(10000):04d}"
            if prefix not in taken:
                break
        taken.add(prefix)
        prefixes[name] = prefix
    return prefixes


def _gtin(prefix: str, item_reference: int) -> str:
    """EAN-13 from a 7-digit prefix, UPC-A from a 6-digit one; 5-digit item reference."""
    body = f"{prefix}{item_reference:05d}"
    return body + str(gs1_check_digit(body))


@functools.cache
def catalogue() -> tuple[ProductSpec, ...]:
    """Every demo product, packaged goods first, then the weighed fresh food.

    One ``random.Random(SEED)`` stream, drawn the same number of times for every product
    whatever the outcome, so a flag on one product never shifts the draws of the next.
    """
    rng = random.Random(demo_data.SEED)
    prefixes = _company_prefixes(rng)
    item_references: dict[str, int] = {}
    specs: list[ProductSpec] = []
    for fields, items in _table_rows(demo_data.PRODUCT_LINES):
        category, brand = fields[0], fields[1]
        size_items = [item.strip() for item in fields[2].split(";")] if len(fields) > 2 else []
        sizes = [_priced(item) for item in size_items + [i for i in items if "=" in i]]
        for line in (i for i in items if "=" not in i):
            name, _, percent = line.partition(" @")
            for size, fen in sizes:
                item_references[brand] = reference = item_references.get(brand, 0) + 1
                second, new, recent_days, old_days, long_tail = (
                    rng.random(),
                    rng.random(),
                    rng.randint(0, 25),
                    rng.randint(60, 1800),
                    rng.random(),
                )
                codes = [_gtin(prefixes[brand], reference)]
                if second < SECOND_BARCODE_SHARE and brand not in demo_data.IMPORTED_BRANDS:
                    codes.append(_gtin(prefixes[brand], 50000 + reference))
                specs.append(
                    ProductSpec(
                        sku=f"P{len(specs) + 1:06d}",
                        name=f"{brand} {name} {size}",
                        brand=brand,
                        category=category,
                        base_price_fen=nice_price(divide_round_half_up(fen * int(percent), 100)) if percent else fen,
                        barcodes=tuple(codes),
                        launch_days_ago=recent_days if new < NEW_PRODUCT_SHARE else old_days,
                        long_tail=long_tail < LONG_TAIL_SHARE,
                    )
                )
    for fields, items in _table_rows(demo_data.WEIGHED):
        category = fields[0]
        for offset, item in enumerate(items):
            name, fen = _priced(item)
            plu = str(demo_data.PLU_BLOCKS[category] + offset)
            specs.append(
                ProductSpec(
                    sku=f"W{plu}",
                    name=name,
                    brand=demo_data.HOUSE_BRAND,
                    category=category,
                    base_price_fen=fen,
                    plu_code=plu,
                )
            )
    return tuple(specs)


# --- Writing rows ----------------------------------------------------------------------


def _create_missing(model, key: str, wanted: list) -> Tally:
    """Insert the unsaved ``wanted`` instances whose ``key`` is not in the table yet."""
    have = set(model.objects.values_list(key, flat=True))
    missing = [obj for obj in wanted if getattr(obj, key) not in have]
    model.objects.bulk_create(missing, batch_size=BATCH_SIZE)
    return Tally(created=len(missing), existing=len(wanted) - len(missing))


def seed_cities() -> Tally:
    return _create_missing(
        City,
        "code",
        [
            City(code=code, name=name, name_zh=name_zh, latitude=Decimal(lat), longitude=Decimal(lng))
            for code, name, name_zh, lat, lng, _ in demo_data.CITIES
        ],
    )


def seed_locations() -> Tally:
    """Stores and warehouses; each code starts with its city's prefix (BJ001, BJ-WH1)."""
    city_ids = dict(City.objects.values_list("code", "id"))
    by_prefix = {prefix: city_ids[code] for code, *_, prefix in demo_data.CITIES}
    wanted = []
    for kind, table in ((Location.Kind.STORE, demo_data.STORES), (Location.Kind.WAREHOUSE, demo_data.WAREHOUSES)):
        for row in location_rows(table):
            wanted.append(Location(kind=kind, city_id=by_prefix[row["code"][:2]], **row))
    return _create_missing(Location, "code", wanted)


def seed_categories() -> Tally:
    """Parents before children, so each child can point at its parent's id."""
    tally = Tally()
    for parents in (True, False):
        ids = dict(Category.objects.values_list("slug", "id"))
        rows = [row for row in demo_data.CATEGORIES if (row[3] is None) == parents]
        part = _create_missing(
            Category,
            "slug",
            [
                Category(slug=slug, name=name, name_zh=name_zh, parent_id=ids.get(parent) if parent else None)
                for slug, name, name_zh, parent in rows
            ],
        )
        tally.created += part.created
        tally.existing += part.existing
    return tally


def seed_brands() -> Tally:
    return _create_missing(Brand, "name", [Brand(name=name, name_zh=name_zh) for name, name_zh in demo_data.BRANDS])


def seed_products(*, today: dt.date) -> Tally:
    brand_ids = dict(Brand.objects.values_list("name", "id"))
    category_ids = dict(Category.objects.values_list("slug", "id"))
    return _create_missing(
        Product,
        "sku",
        [
            Product(
                sku=spec.sku,
                name=spec.name,
                brand_id=brand_ids[spec.brand],
                category_id=category_ids[spec.category],
                launch_date=today - dt.timedelta(days=spec.launch_days_ago)
                if spec.launch_days_ago is not None
                else None,
                age_restricted=spec.category in demo_data.AGE_RESTRICTED_CATEGORIES,
                sold_by_weight=spec.sold_by_weight,
                plu_code=spec.plu_code,
                base_price_fen=spec.base_price_fen,
            )
            for spec in catalogue()
        ],
    )


def seed_barcodes() -> Tally:
    product_ids = dict(Product.objects.values_list("sku", "id"))
    wanted = [
        Barcode(product_id=product_ids[spec.sku], gtin=code.zfill(14), code=code)
        for spec in catalogue()
        for code in spec.barcodes
    ]
    return _create_missing(Barcode, "gtin", wanted)


def _hash_ints(*key: str) -> tuple[int, int, int, int]:
    """Four independent 32-bit numbers fixed by ``key``, whatever order pairs are visited in."""
    digest = hashlib.blake2b("|".join((str(demo_data.SEED), *key)).encode(), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "big") for i in range(0, 16, 4))  # type: ignore[return-value]


@functools.cache
def _store_carry_percent(code: str) -> int:
    low, high = STORE_CARRY_PERCENT
    return low + _hash_ints(code)[0] % (high - low + 1)


def _carry_percent(location: Location, spec: ProductSpec) -> int:
    if location.kind == Location.Kind.WAREHOUSE:
        return WAREHOUSE_CARRY_PERCENT
    if spec.long_tail:
        return 0
    if spec.sold_by_weight:
        return STORE_WEIGHED_CARRY_PERCENT
    return _store_carry_percent(location.code)


def _on_hand(location: Location, spec: ProductSpec, draw: int) -> int:
    """Units, or grams for weighed items; a few per mille are sold out."""
    if draw % 1000 < OUT_OF_STOCK_PER_MILLE:
        return 0
    warehouse = location.kind == Location.Kind.WAREHOUSE
    if spec.sold_by_weight:
        low, high = (20_000, 100_000) if warehouse else (5_000, 50_000)
    else:
        low, high = (20, 500) if warehouse else (1, 200)
    return low + (draw // 1000) % (high - low + 1)


def _override_price(spec: ProductSpec, draw: int) -> int:
    percent = OVERRIDE_PERCENTS[draw % len(OVERRIDE_PERCENTS)]
    price = nice_price(divide_round_half_up(spec.base_price_fen * percent, 100))
    if price == spec.base_price_fen:
        price = spec.base_price_fen + (10 if percent > 100 else -10)
    return max(price, 10)


def seed_assortment() -> tuple[Tally, Tally]:
    """Stock rows (what each location carries) and the stores' own prices.

    Stores carry 70-85 % of the assortment (never the long tail) and nearly all the fresh
    counter; warehouses carry 96 % of everything, long tail included, which is what
    next-day delivery can offer beyond a store's shelves. A few per cent of a store's
    products have a LocationPrice differing from the base price.
    """
    product_ids = dict(Product.objects.values_list("sku", "id"))
    codes = [row["code"] for row in location_rows(demo_data.STORES) + location_rows(demo_data.WAREHOUSES)]
    locations = list(Location.objects.filter(code__in=codes).order_by("code"))
    have_stock = set(Stock.objects.values_list("location_id", "product_id"))
    have_price = set(LocationPrice.objects.values_list("location_id", "product_id"))
    stock_rows: list[Stock] = []
    price_rows: list[LocationPrice] = []
    stock, prices = Tally(), Tally()
    for location in locations:
        for spec in catalogue():
            carry_draw, stock_draw, price_draw, override_draw = _hash_ints(location.code, spec.sku)
            if carry_draw % 100 >= _carry_percent(location, spec):
                continue
            pair = (location.id, product_ids[spec.sku])
            if pair in have_stock:
                stock.existing += 1
            else:
                stock_rows.append(
                    Stock(location_id=pair[0], product_id=pair[1], on_hand=_on_hand(location, spec, stock_draw))
                )
            if location.kind == Location.Kind.STORE and price_draw % 1000 < PRICE_OVERRIDE_PER_MILLE:
                if pair in have_price:
                    prices.existing += 1
                else:
                    price = _override_price(spec, override_draw)
                    price_rows.append(LocationPrice(location_id=pair[0], product_id=pair[1], price_fen=price))
    Stock.objects.bulk_create(stock_rows, batch_size=BATCH_SIZE)
    LocationPrice.objects.bulk_create(price_rows, batch_size=BATCH_SIZE)
    stock.created, prices.created = len(stock_rows), len(price_rows)
    return stock, prices


def seed_admin(*, username: str, password: str) -> str:
    """The demo superuser. One that exists keeps its password, unless it has none."""
    user_model = get_user_model()
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        user_model.objects.create_superuser(username, password)
        return "created"
    if not user.has_usable_password():
        user.set_password(password)
        user.save(update_fields=["password"])
        return "existing, password set"
    return "existing, unchanged"


def seed_shoppers(*, appid: str, openid_for: Callable[[str], str]) -> Tally:
    """Demo shoppers as a first WeChat login would have created them.

    ``openid_for(shopper)`` is the openid the sandbox mints for that name, so a sandbox
    login as "li-na" finds 李娜 here. Username and fields match ``accounts.services``; the unionid
    is left for that first login to fill in, as it does for any customer.
    """
    customers = get_user_model().objects
    tally = Tally()
    for shopper, nickname in demo_data.SHOPPERS:
        openid = openid_for(shopper)
        if customers.filter(wechat_appid=appid, openid=openid).exists():
            tally.existing += 1
            continue
        customers.create_user(
            username=f"wx:{appid}:{openid}"[:150], nickname=nickname, wechat_appid=appid, openid=openid
        )
        tally.created += 1
    return tally


@transaction.atomic
def seed_demo(
    *,
    today: dt.date,
    admin_username: str,
    admin_password: str,
    shoppers_appid: str | None = None,
    openid_for: Callable[[str], str] | None = None,
) -> dict[str, Tally | str]:
    """Everything, in one transaction: a failed run leaves the database as it was.

    Returns what was done per kind of row, for the command's summary. Shoppers are seeded
    only with an app id and the sandbox's openids (when the sandbox is on).
    """
    report: dict[str, Tally | str] = {
        "cities": seed_cities(),
        "locations": seed_locations(),
        "categories": seed_categories(),
        "brands": seed_brands(),
        "products": seed_products(today=today),
        "barcodes": seed_barcodes(),
    }
    report["stock rows"], report["store prices"] = seed_assortment()
    report["demo admin"] = seed_admin(username=admin_username, password=admin_password)
    if shoppers_appid is not None and openid_for is not None:
        report["shoppers"] = seed_shoppers(appid=shoppers_appid, openid_for=openid_for)
    return report
