"""A basket and its lines as plain values, read and written in SQL.

A scan is the busiest request of the product: every shopper in every store sends one per
item picked up, and each reads the whole basket back. Built with the ORM it spent several
times longer building queries and model instances than the database spent running them
(bench/RESULTS.md), so the statements every basket change runs are written here, once, by
hand, in SQL that PostgreSQL and SQLite both run. They take and return plain values: the
pricing engine, the order snapshot and the API read the dataclasses as they are.

Call the writers inside ``transaction.atomic()``, after ``lock_basket``: the basket's row
lock is what serialises changes to one basket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection

from promotions.pricing import PricingLine

from .models import Basket, BasketLine


@dataclass(frozen=True, slots=True)
class BasketInfo:
    """The basket as the API shows it: its row and its store's code and name."""

    id: int
    customer_id: int
    store_id: int
    store_code: str
    store_name: str
    status: str
    updated_at: dt.datetime

    @classmethod
    def of(cls, basket: Basket) -> BasketInfo:
        """From a basket read with its store (``select_related("store")``)."""
        store = basket.store
        return cls(
            id=basket.pk,
            customer_id=basket.customer_id,
            store_id=store.pk,
            store_code=store.code,
            store_name=store.name,
            status=basket.status,
            updated_at=basket.updated_at,
        )


class BasketLineInfo(NamedTuple):
    """A line with what the basket shows of its product and the store's price now (per kg
    for a weighed product). The field order is ``_LINES_SQL``'s column order: a row of it,
    as a named tuple (a frozen dataclass cost eight times more to build, per line, per scan)."""

    id: int
    product_id: int
    kind: str
    barcode: str
    quantity: int
    weight_g: int | None
    label_price_fen: int | None
    sku: str
    name: str
    image_url: str
    age_restricted: bool
    brand_id: int | None
    category_id: int | None
    store_price_fen: int

    @property
    def item_count(self) -> int:
        """Units: a unit line's quantity; a scale label is one item."""
        return self.quantity if self.kind == BasketLine.Kind.UNIT else 1

    def pricing_line(self) -> PricingLine:
        """A unit line at the store's price; a scale label at its own (positional: one per
        line per scan)."""
        fixed = self.label_price_fen if self.kind != BasketLine.Kind.UNIT else None
        return PricingLine(
            self.id, self.product_id, self.quantity, self.store_price_fen, fixed, self.brand_id, self.category_id
        )


# The row lock and the touch in one statement: an UPDATE locks the row until the transaction
# ends (SQLite's IMMEDIATE transaction already holds the database's write lock). A change
# that is then refused (a frozen basket, a bad line) rolls the touch back with it.
_LOCK_SQL = """
    UPDATE checkout_basket SET updated_at = %s
    WHERE id = %s AND customer_id = %s
    RETURNING status, store_id,
        (SELECT l.code FROM stores_location l WHERE l.id = checkout_basket.store_id),
        (SELECT l.name FROM stores_location l WHERE l.id = checkout_basket.store_id)
"""

_LINES_SQL = """
    SELECT bl.id, bl.product_id, bl.kind, bl.barcode, bl.quantity, bl.weight_g, bl.label_price_fen,
           p.sku, p.name, p.image_url, p.age_restricted, p.brand_id, p.category_id,
           COALESCE(lp.price_fen, p.base_price_fen)
    FROM checkout_basketline bl
    JOIN stores_product p ON p.id = bl.product_id
    LEFT JOIN stores_locationprice lp ON lp.location_id = %s AND lp.product_id = bl.product_id
    WHERE bl.basket_id = %s
    ORDER BY bl.id
"""

# A product code's units, in one statement: the product the GTIN names, if this store (an
# open store, not a warehouse) sells it and it is not sold by weight, is added to its unit
# line, or a unit line is created. No row comes back when the code names no such product
# or the line would pass 99 (the caller then finds out which). The conflict target is the
# partial unique index of unit lines (``basket_line_one_unit_line_per_product``); its
# predicate is spelled out, not bound, so the database can match the index.
_ADD_PRODUCT_UNITS_SQL = """
    INSERT INTO checkout_basketline AS bl (basket_id, product_id, kind, barcode, quantity, created_at)
    SELECT %s, s.product_id, 'unit', %s, %s, %s
    FROM stores_stock s
    JOIN stores_location l ON l.id = s.location_id
    JOIN stores_product p ON p.id = s.product_id
    WHERE s.location_id = %s AND l.kind = 'store' AND l.active AND p.active AND NOT p.sold_by_weight
      AND p.id = (SELECT b.product_id FROM stores_barcode b WHERE b.gtin = %s)
    ON CONFLICT (basket_id, product_id) WHERE kind = 'unit'
    DO UPDATE SET quantity = bl.quantity + excluded.quantity WHERE bl.quantity + excluded.quantity <= %s
    RETURNING id
"""

# ``_ADD_PRODUCT_UNITS_SQL`` with the lock, the touch and the read of the lines, as one
# statement and so one transaction of its own, for PostgreSQL (SQLite has no data-modifying
# WITH). The statement sees the database as of its start; the line count it checks and the
# lines it reads are only right if no change to the basket committed since, and every
# change to a basket's lines also touches the basket's row. So the lock is taken only on
# the row version that start saw (its ``xmin``): after waiting on a concurrent change
# PostgreSQL re-checks the newest version, the condition fails, and nothing is written or
# read. The basket is touched only if a line was written.
#
# The lines come back as ``_LINES_SQL`` reads them, followed on every row by the written
# line's id and the store's id, code and name: the line as written (``line``, which the
# start of the statement cannot see), then every other line as of the start. Product and
# price are looked up per line (``LATERAL ... OFFSET 0`` keeps the planner, which cannot
# know how many lines a WITH returns, from scanning the whole catalogue to hash-join it).
_SCAN_PRODUCT_UNITS_SQL = """
    WITH basket AS (
        SELECT bk.id, bk.store_id FROM checkout_basket bk
        WHERE bk.id = %(basket_id)s AND bk.customer_id = %(customer_id)s AND bk.status = 'open'
          AND bk.xmin = (SELECT x.xmin FROM checkout_basket x WHERE x.id = %(basket_id)s)
        FOR UPDATE
    ), line AS (
        INSERT INTO checkout_basketline AS bl (basket_id, product_id, kind, barcode, quantity, created_at)
        SELECT basket.id, s.product_id, 'unit', %(barcode)s, %(quantity)s, %(now)s
        FROM basket
        JOIN stores_stock s ON s.location_id = basket.store_id
        JOIN stores_location l ON l.id = s.location_id
        JOIN stores_product p ON p.id = s.product_id
        WHERE l.kind = 'store' AND l.active AND p.active AND NOT p.sold_by_weight
          AND p.id = (SELECT b.product_id FROM stores_barcode b WHERE b.gtin = %(gtin)s)
          AND (EXISTS (SELECT 1 FROM checkout_basketline c
                       WHERE c.basket_id = basket.id AND c.product_id = p.id AND c.kind = 'unit')
               OR (SELECT count(*) FROM checkout_basketline c WHERE c.basket_id = basket.id) < %(max_lines)s)
        ON CONFLICT (basket_id, product_id) WHERE kind = 'unit'
        DO UPDATE SET quantity = bl.quantity + excluded.quantity
            WHERE bl.quantity + excluded.quantity <= %(max_quantity)s
        RETURNING bl.id, bl.basket_id, bl.product_id, bl.kind, bl.barcode, bl.quantity, bl.weight_g, bl.label_price_fen
    ), touched AS (
        UPDATE checkout_basket bk SET updated_at = %(now)s FROM line WHERE bk.id = line.basket_id
    ), written AS (
        SELECT line.id, basket.store_id, st.code, st.name
        FROM line JOIN basket ON basket.id = line.basket_id JOIN stores_location st ON st.id = basket.store_id
    ), lines AS (
        SELECT line.id, line.product_id, line.kind, line.barcode, line.quantity, line.weight_g, line.label_price_fen
        FROM line
        UNION ALL
        SELECT c.id, c.product_id, c.kind, c.barcode, c.quantity, c.weight_g, c.label_price_fen
        FROM checkout_basketline c JOIN line ON c.basket_id = line.basket_id AND c.id <> line.id
    )
    SELECT bl.id, bl.product_id, bl.kind, bl.barcode, bl.quantity, bl.weight_g, bl.label_price_fen,
           p.sku, p.name, p.image_url, p.age_restricted, p.brand_id, p.category_id,
           COALESCE((SELECT lp.price_fen FROM stores_locationprice lp
                     WHERE lp.location_id = written.store_id AND lp.product_id = bl.product_id), p.base_price_fen),
           written.id, written.store_id, written.code, written.name
    FROM lines bl
    CROSS JOIN written
    CROSS JOIN LATERAL (
        SELECT p.sku, p.name, p.image_url, p.age_restricted, p.brand_id, p.category_id, p.base_price_fen
        FROM stores_product p WHERE p.id = bl.product_id OFFSET 0
    ) p
    ORDER BY bl.id
"""

_ADD_UNITS_SQL = "UPDATE checkout_basketline SET quantity = quantity + %s WHERE id = %s"

_INSERT_LINE_SQL = """
    INSERT INTO checkout_basketline
        (basket_id, product_id, kind, barcode, quantity, weight_g, label_price_fen, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
    RETURNING id
"""


def lock_basket_row(*, customer_id: int, basket_id: int, now: dt.datetime) -> BasketInfo | None:
    """Lock the shopper's basket and mark it touched at ``now``; None if it is not theirs.

    Call inside ``transaction.atomic()``. The status is whatever the basket's is: the caller
    decides whether it may change.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_SQL, [connection.ops.adapt_datetimefield_value(now), basket_id, customer_id])
        row = cursor.fetchone()
    if row is None:
        return None
    status, store_id, store_code, store_name = row
    return BasketInfo(
        id=basket_id,
        customer_id=customer_id,
        store_id=store_id,
        store_code=store_code,
        store_name=store_name,
        status=status,
        updated_at=now,
    )


def fetch_basket_lines(*, basket_id: int, store_id: int) -> list[BasketLineInfo]:
    """Every line, first scanned first, with its product and the store's price now: one
    statement, whatever the number of lines."""
    with connection.cursor() as cursor:
        cursor.execute(_LINES_SQL, [store_id, basket_id])
        lines = [BasketLineInfo._make(row) for row in cursor.fetchall()]
    if connection.vendor == "sqlite":  # 0/1 for a boolean; the API promises true/false
        lines = [line._replace(age_restricted=bool(line.age_restricted)) for line in lines]
    return lines


def add_product_units(
    *,
    basket_id: int,
    store_id: int,
    gtin: str,
    barcode: str,
    quantity: int,
    max_quantity: int,
    now: dt.datetime,
) -> int | None:
    """Add ``quantity`` of the product ``gtin`` names to its unit line (created if need be,
    with the code as printed); return the line's id, or None if nothing was written."""
    created_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_ADD_PRODUCT_UNITS_SQL, [basket_id, barcode, quantity, created_at, store_id, gtin, max_quantity])
        row = cursor.fetchone()
    return None if row is None else row[0]


class ScannedUnits(NamedTuple):
    basket: BasketInfo
    line_id: int
    lines: list[BasketLineInfo]


def scan_product_units(
    *,
    customer_id: int,
    basket_id: int,
    gtin: str,
    barcode: str,
    quantity: int,
    max_quantity: int,
    max_lines: int,
    now: dt.datetime,
) -> ScannedUnits | None:
    """The everyday scan in one statement (PostgreSQL): add ``quantity`` of the product
    ``gtin`` names to the shopper's open basket, touched at ``now``; return the basket, the
    line's id and every line as ``fetch_basket_lines`` reads them. None, with nothing
    written, for anything else: not their basket or not open, a code the store cannot add,
    a line past ``max_quantity`` or a new line past ``max_lines``, or a change to the basket
    that committed while the statement ran. The caller then takes the transactional path,
    which says which."""
    params = {
        "customer_id": customer_id,
        "basket_id": basket_id,
        "gtin": gtin,
        "barcode": barcode,
        "quantity": quantity,
        "max_quantity": max_quantity,
        "max_lines": max_lines,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        cursor.execute(_SCAN_PRODUCT_UNITS_SQL, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    width = len(BasketLineInfo._fields)
    line_id, store_id, store_code, store_name = rows[0][width:]
    basket = BasketInfo(
        id=basket_id,
        customer_id=customer_id,
        store_id=store_id,
        store_code=store_code,
        store_name=store_name,
        status=Basket.Status.OPEN,
        updated_at=now,
    )
    return ScannedUnits(basket, line_id, [BasketLineInfo._make(row[:width]) for row in rows])


def add_units(*, line_id: int, quantity: int) -> None:
    """Add to a unit line's quantity; the database does the adding (and its CHECK keeps it
    within 1-99)."""
    with connection.cursor() as cursor:
        cursor.execute(_ADD_UNITS_SQL, [quantity, line_id])


def insert_line(
    *,
    basket_id: int,
    product_id: int,
    kind: str,
    barcode: str,
    quantity: int,
    weight_g: int | None,
    label_price_fen: int | None,
    now: dt.datetime,
) -> int:
    """Write a new line; return its id."""
    values = [basket_id, product_id, kind, barcode, quantity, weight_g, label_price_fen]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_LINE_SQL, [*values, connection.ops.adapt_datetimefield_value(now)])
        return cursor.fetchone()[0]
