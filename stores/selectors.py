"""Read queries for stores and the catalogue: plain functions with keyword-only arguments.

Each returns model instances (or a small dataclass) with everything its caller shows
already joined or annotated, so rendering a page never goes back to the database: the
number of queries does not grow with the page size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Case, FloatField, OuterRef, Q, QuerySet, Subquery, Value, When

from miniprogram_api.core import clock
from miniprogram_api.core.errors import InvalidInput, NotFound
from miniprogram_api.core.money import price_for_weight_fen

from .barcodes import ProductCode, UnknownBarcode, VariableMeasureCode, parse
from .geo import GeoPoint, distance_m_expression
from .models import City, Location, LocationPrice, Product, Stock

# Primary keys are 64-bit; a larger id in a URL or a filter cannot exist, and SQLite
# raises OverflowError if asked about one, so such ids are answered as "not found".
MAX_ID = 2**63 - 1


class UnknownCity(InvalidInput):
    code = "unknown_city"
    default_message = "There is no city with this code."


class NotSoldHere(NotFound):
    """The product is in the catalogue but this store does not carry it (no stock row)."""

    code = "not_sold_here"
    default_message = "This store does not sell this product."


class StoreNotFound(NotFound):
    """Unknown, closed down, or a warehouse (shoppers cannot walk into one)."""

    code = "store_not_found"
    default_message = "There is no open store with this id."


class ProductNotFound(NotFound):
    code = "product_not_found"
    default_message = "There is no product with this id."


def _store_not_found() -> NotFound:
    return StoreNotFound()


# --- Stores -------------------------------------------------------------------------------


def _stores() -> QuerySet[Location]:
    """Locations a shopper can walk into: active stores, not warehouses."""
    return Location.objects.filter(kind=Location.Kind.STORE, active=True).select_related("city")


def store_list(*, city_code: str | None = None, near: GeoPoint | None = None) -> QuerySet[Location]:
    """Active stores, nearest to ``near`` first when given, else by code.

    Each row has ``distance_m`` (a float, or None without ``near``). A city code that
    names no city raises ``UnknownCity`` rather than listing nothing, so a client with a
    stale or mistyped code learns that instead of showing "no stores in this city".
    """
    stores = _stores()
    if city_code:
        city_id = City.objects.filter(code=city_code).values_list("pk", flat=True).first()
        if city_id is None:
            raise UnknownCity(details={"city": city_code})
        stores = stores.filter(city_id=city_id)
    if near is None:
        return stores.annotate(distance_m=Value(None, output_field=FloatField())).order_by("code")
    return stores.annotate(distance_m=distance_m_expression(near)).order_by("distance_m", "code")


def store_get(*, store_id: int) -> Location:
    store = _stores().filter(pk=store_id).first() if 0 < store_id <= MAX_ID else None
    if store is None:
        raise _store_not_found()
    return store


# --- Catalogue ----------------------------------------------------------------------------


def new_product_window(*, today: dt.date) -> tuple[dt.date, dt.date]:
    """The launch dates (both ends included) that make a product "new" on ``today``.

    A product launched today is on its first day, so ``NEW_PRODUCT_DAYS`` days of launch
    dates end today; a launch date in the future is not new yet (announced, not on shelf).
    """
    return today - dt.timedelta(days=settings.NEW_PRODUCT_DAYS - 1), today


def _is_new_q() -> Q:
    first, last = new_product_window(today=clock.local_today())
    return Q(launch_date__gte=first, launch_date__lte=last)


def _products() -> QuerySet[Product]:
    """Active products with brand and category joined and ``is_new`` annotated."""
    is_new = Case(When(_is_new_q(), then=Value(True)), default=Value(False), output_field=BooleanField())
    return Product.objects.filter(active=True).select_related("brand", "category").annotate(is_new=is_new)


def product_list(
    *,
    search: str = "",
    brand_id: int | None = None,
    category_id: int | None = None,
    is_new: bool | None = None,
) -> QuerySet[Product]:
    """Active products by id. ``search`` matches a part of the name or the whole SKU;
    ``category_id`` includes the category's direct children, because shoppers browse by
    top-level aisle ("Dairy") while products sit in the aisle's sections ("Yoghurt")."""
    products = _products()
    if search:
        products = products.filter(Q(name__icontains=search) | Q(sku=search))
    if brand_id is not None:
        products = products.filter(brand_id=brand_id)
    if category_id is not None:
        products = products.filter(Q(category_id=category_id) | Q(category__parent_id=category_id))
    if is_new is not None:
        # The same rule as the annotation, spelled on the column so its index can serve it.
        products = products.filter(_is_new_q()) if is_new else products.exclude(_is_new_q())
    return products.order_by("id")


def product_get(*, product_id: int) -> Product:
    """One active product with its barcodes prefetched."""
    product = None
    if 0 < product_id <= MAX_ID:
        product = _products().prefetch_related("barcodes").filter(pk=product_id).first()
    if product is None:
        raise ProductNotFound()
    return product


# --- A scan at a store --------------------------------------------------------------------


@dataclass(frozen=True)
class ProductAtStore:
    """What a scanned code is at one store: the product, its price there and its stock.

    ``price_fen`` is the store's price (per kilogram for weighed products). The
    ``line_price_fen`` is what this one scan costs: the unit price for a product code, the
    printed price for a price label, weight x price per kg for a weight label, and None for
    a product code of a weighed product (only a scale label says how much was weighed).
    """

    product: Product
    store_id: int
    scanned: ProductCode | VariableMeasureCode
    price_fen: int
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def in_stock(self) -> bool:
        return self.available > 0

    @property
    def embedded_price_fen(self) -> int | None:
        return self.scanned.price_fen if isinstance(self.scanned, VariableMeasureCode) else None

    @property
    def weight_g(self) -> int | None:
        return self.scanned.weight_g if isinstance(self.scanned, VariableMeasureCode) else None

    @property
    def line_price_fen(self) -> int | None:
        if self.embedded_price_fen is not None:
            return self.embedded_price_fen
        if self.weight_g is not None:
            return price_for_weight_fen(weight_g=self.weight_g, price_per_kg_fen=self.price_fen)
        if self.product.sold_by_weight:
            return None
        return self.price_fen


def product_at_store(*, store_id: int, barcode: str) -> ProductAtStore:
    """Resolve a scanned ``barcode`` at a store, in two queries when all goes well.

    A product code is found by its GTIN; an in-store label by the product's PLU code (a
    weight label only for a product sold by weight, since its price is per kg). Errors, in
    the order a shopper should hear them: ``InvalidBarcode`` (a misread: scan again), the
    store ``NotFound``, ``UnknownBarcode``, then ``NotSoldHere``. Telling the store's
    absence apart costs a query only on those error paths.
    """
    scanned = parse(barcode)
    if not 0 < store_id <= MAX_ID:
        raise _store_not_found()

    product = _products().filter(_scanned_code_q(scanned)).first()
    if product is None:
        _raise_if_no_store(store_id)
        raise UnknownBarcode(details={"barcode": scanned.printed})

    stock = (
        Stock.objects.filter(product=product, location_id=store_id, **_STORE_STOCK)
        .annotate(override_price_fen=_store_price_override())
        .values("on_hand", "reserved", "override_price_fen")
        .first()
    )
    if stock is None:
        _raise_if_no_store(store_id)
        raise NotSoldHere(details={"store_id": store_id, "product_id": product.pk})
    return _found(product, store_id, scanned, stock["override_price_fen"], stock["on_hand"], stock["reserved"])


# What a basket scan reads of the product: its line's figures and what the basket shows of
# it (brand and category ids too: the pricing engine matches promotions by them). The
# columns ``_SCAN_SQL`` selects first, in this order.
SCAN_PRODUCT_FIELDS = ("id", "sku", "name", "image_url", "age_restricted", "sold_by_weight", "base_price_fen",
                       "brand_id", "category_id")  # fmt: skip

# One row: the store's stock row of the product the code names, with the product and the
# store's own price (LEFT JOIN: most products sell at their base price). The location must
# be an open store, not a warehouse. ``{code}`` is one of the two conditions below.
_SCAN_SQL = """
    SELECT p.id, p.sku, p.name, p.image_url, p.age_restricted, p.sold_by_weight, p.base_price_fen, p.brand_id,
           p.category_id, lp.price_fen, s.on_hand, s.reserved
    FROM stores_stock s
    JOIN stores_location l ON l.id = s.location_id
    JOIN stores_product p ON p.id = s.product_id
    LEFT JOIN stores_locationprice lp ON lp.location_id = s.location_id AND lp.product_id = s.product_id
    WHERE s.location_id = %s AND l.kind = %s AND l.active AND p.active AND {code}
"""
_SCAN_BY_GTIN_SQL = _SCAN_SQL.format(code="p.id = (SELECT b.product_id FROM stores_barcode b WHERE b.gtin = %s)")
_SCAN_BY_PLU_SQL = _SCAN_SQL.format(code="p.plu_code = %s")
_SCAN_BY_WEIGHED_PLU_SQL = _SCAN_SQL.format(code="p.plu_code = %s AND p.sold_by_weight")


def product_for_scan(*, store_id: int, barcode: str) -> ProductAtStore:
    """``product_at_store`` for a basket scan: one statement when all goes well.

    A scan into a basket is the busiest request there is, and Django's query building cost
    several times what the database spends on this one (bench/RESULTS.md), so it is written
    in SQL that PostgreSQL and SQLite both run. The product comes back as ``.only()`` would
    load it (``SCAN_PRODUCT_FIELDS``; any other field is read on access). When the
    statement finds nothing, ``product_at_store`` answers, so the errors and their order
    are the same as the catalogue lookup's.
    """
    scanned = parse(barcode)
    if isinstance(scanned, ProductCode):
        sql, code = _SCAN_BY_GTIN_SQL, scanned.gtin
    else:
        sql = _SCAN_BY_PLU_SQL if scanned.weight_g is None else _SCAN_BY_WEIGHED_PLU_SQL
        code = scanned.item_code
    row = None
    if 0 < store_id <= MAX_ID:
        with connection.cursor() as cursor:
            cursor.execute(sql, [store_id, Location.Kind.STORE, code])
            row = cursor.fetchone()  # at most one: one stock row per product and store
    if row is None:
        return product_at_store(store_id=store_id, barcode=barcode)
    values = dict(zip(SCAN_PRODUCT_FIELDS, row, strict=False))
    values.update(age_restricted=bool(values["age_restricted"]), sold_by_weight=bool(values["sold_by_weight"]))
    override_price_fen, on_hand, reserved = row[len(SCAN_PRODUCT_FIELDS) :]
    return _found(_product_from(values), store_id, scanned, override_price_fen, on_hand, reserved)


def _product_from(values: dict) -> Product:
    """A product as ``.only(*values)`` would load it: any other field is read on access.
    (``from_db`` takes the values in the model's field order; SQLite has 0/1 for booleans,
    so the caller converts them.)"""
    names = [field.attname for field in Product._meta.concrete_fields if field.attname in values]
    return Product.from_db(connection.alias, names, [values[name] for name in names])


# A stock row counts only at an active store (not a warehouse).
_STORE_STOCK = {"location__kind": Location.Kind.STORE, "location__active": True}


def _scanned_code_q(scanned: ProductCode | VariableMeasureCode, *, via: str = "") -> Q:
    """The product a code names: by GTIN, or by PLU for a label (sold by weight, for a
    weight label). ``via`` is the path to the product from the queried model."""
    if isinstance(scanned, ProductCode):
        return Q(**{f"{via}barcodes__gtin": scanned.gtin})
    q = Q(**{f"{via}plu_code": scanned.item_code})
    if scanned.weight_g is not None:
        q &= Q(**{f"{via}sold_by_weight": True})
    return q


def _store_price_override() -> Subquery:
    """A stock row's store price for its product, or None where the base price holds."""
    override = LocationPrice.objects.filter(location_id=OuterRef("location_id"), product_id=OuterRef("product_id"))
    return Subquery(override.values("price_fen")[:1])


def _found(
    product: Product,
    store_id: int,
    scanned: ProductCode | VariableMeasureCode,
    override_price_fen: int | None,
    on_hand: int,
    reserved: int,
) -> ProductAtStore:
    return ProductAtStore(
        product=product,
        store_id=store_id,
        scanned=scanned,
        price_fen=product.base_price_fen if override_price_fen is None else override_price_fen,
        on_hand=on_hand,
        reserved=reserved,
    )


def _raise_if_no_store(store_id: int) -> None:
    if not _stores().filter(pk=store_id).exists():
        raise _store_not_found()
