"""Scan & pay baskets: open one at a store, scan into it, change or remove lines, read it priced.

Every write takes the basket's row lock first (``lock_basket``, or ``FOR UPDATE`` in the
one statement of an everyday scan on PostgreSQL), in the transaction that then merges and
reads lines: the lock serialises all changes to one basket, so two scans from a shaky
phone or a double tap never lose an update, and quantities still move in the database
(``quantity + n``). Nothing else is locked, so no two transactions can take these locks in
opposite orders.

Reading follows Saleor's fetch-then-compute: ``fetch_basket_lines`` gets every line with its
product and this store's current price in one statement (``basket_rows``, in SQL: the scan
path is the busiest of the product), ``price_basket`` turns them into ``PricingLine``s for
the one pricing function and wraps the answer for the API. So a read is a constant number
of queries however many lines the basket has.

Expiry is the sweep's job (``expire_idle_baskets``, every few minutes from Celery beat):
until it runs, a scan keeps an idle basket alive, and the sweep's conditional UPDATE lets
such a scan win.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from miniprogram_api.core import clock
from miniprogram_api.core.errors import InvalidInput
from promotions.pricing import Adjustment, PricedBasket, PricedLine, price_lines
from stores.barcodes import ProductCode, VariableMeasureCode, parse
from stores.models import Location
from stores.selectors import MAX_ID, ProductAtStore, product_for_scan, store_get

from . import basket_rows
from .basket_rows import BasketInfo, BasketLineInfo
from .errors import (
    BasketFrozen,
    BasketLineNotFound,
    BasketNotFound,
    BasketNotOpen,
    ImplausibleLabelPrice,
    ImplausibleLabelWeight,
    LabelQuantityFixed,
    LabelQuantityNotAllowed,
    QuantityLimit,
    ScanAndGoUnavailable,
    StoreClosed,
    TooManyLines,
    WeightLabelRequired,
)
from .models import Basket, BasketLine
from .orders import OrderLineDraft

# The database's own check (basket_line_quantity_1_to_99) is the last word on quantities.
MAX_LINE_QUANTITY = 99
# A basket is one trip through one store. 200 distinct lines is far past a family's weekly
# shop; a basket that grows past it is more likely a client bug or abuse, and every read
# prices every line.
MAX_LINES = 200
# Store scales weigh from a few grams to the 30 kg a scale pan (and a shopper) can take. A
# weight label outside that is a misprint or a doctored code, not a purchase.
WEIGHT_LABEL_MIN_G = 1
WEIGHT_LABEL_MAX_G = 30_000
# A price label on a weighed product implies a weight (price / price per kg). Below 10 g
# nobody weighs a purchase, above 30 kg no scale does: either means the label's price does
# not belong to this product (a misprint, or a cheap label moved onto dear goods).
PRICE_LABEL_MIN_IMPLIED_G = 10
PRICE_LABEL_MAX_IMPLIED_G = 30_000
# A price label on a product sold by the unit (reduced-to-clear stickers, in-store packs)
# may differ from the store price, but by at most half either way: deeper markdowns are
# rare enough for staff to handle at the service desk, and an unattended checkout should
# not accept a label that could have come off another product.
PRICE_LABEL_MIN_PERCENT = 50
PRICE_LABEL_MAX_PERCENT = 150
EXPIRY_BATCH_SIZE = 500

ACTIVE_STATUSES = (Basket.Status.OPEN, Basket.Status.FROZEN)


# --- What a read returns ------------------------------------------------------------------


class PricedBasketLine(NamedTuple):
    info: BasketLineInfo
    priced: PricedLine

    @property
    def unit_price_fen(self) -> int:
        return self.info.store_price_fen

    @property
    def item_count(self) -> int:
        return self.info.item_count


@dataclass(frozen=True)
class PricedBasketInfo:
    """A basket as the shopper sees it: lines, prices and the pricing engine's explanation."""

    basket: BasketInfo
    lines: tuple[PricedBasketLine, ...]
    pricing: PricedBasket

    @property
    def expires_at(self) -> dt.datetime:
        return self.basket.updated_at + settings.BASKET_IDLE_TIMEOUT

    @property
    def item_count(self) -> int:
        return sum(line.item_count for line in self.lines)

    @property
    def has_age_restricted(self) -> bool:
        return any(line.info.age_restricted for line in self.lines)

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        return self.pricing.adjustments


@dataclass(frozen=True)
class OpenedBasket:
    basket: PricedBasketInfo
    created: bool


@dataclass(frozen=True)
class ScanResult:
    basket: PricedBasketInfo
    line_id: int


# --- Fetch and price ----------------------------------------------------------------------


def fetch_basket_lines(*, basket: Basket | BasketInfo) -> list[BasketLineInfo]:
    """Every line with its product and the store's current price, in one query."""
    basket_id = basket.pk if isinstance(basket, Basket) else basket.id
    return basket_rows.fetch_basket_lines(basket_id=basket_id, store_id=basket.store_id)


def _price(
    lines: list[BasketLineInfo],
    *,
    store_id: int,
    customer_id: int,
    coupon_ids: Sequence[int] = (),
    order_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[tuple[PricedBasketLine, ...], PricedBasket]:
    """Price fetched lines with the one pricing function, which loads the promotions that
    may apply (a fixed number of queries, whatever the lines). ``coupon_ids`` are the
    shopper's chosen coupons; ``order_id`` names an unpaid order being priced again, whose
    own coupons and flash units count as the shopper's."""
    pricing = price_lines(
        lines=[info.pricing_line() for info in lines],
        channel="in_store",
        store_id=store_id,
        customer_id=customer_id,
        coupon_ids=coupon_ids,
        order_id=order_id,
        now=now or clock.now(),
    )
    priced = {line.key: line for line in pricing.lines}
    return tuple(PricedBasketLine(info=info, priced=priced[info.id]) for info in lines), pricing


def price_basket(*, basket: BasketInfo, lines: list[BasketLineInfo]) -> PricedBasketInfo:
    """The basket as the shopper sees it now: its lines priced with the promotions live."""
    priced, pricing = _price(lines, store_id=basket.store_id, customer_id=basket.customer_id)
    return PricedBasketInfo(basket=basket, lines=priced, pricing=pricing)


def basket_get(*, customer_id: int, basket_id: int) -> PricedBasketInfo:
    """The shopper's basket, priced; another shopper's is ``BasketNotFound``."""
    basket = None
    if 0 < basket_id <= MAX_ID:
        basket = Basket.objects.select_related("store").filter(pk=basket_id, customer_id=customer_id).first()
    if basket is None:
        raise BasketNotFound(details={"basket_id": basket_id})
    return _priced(BasketInfo.of(basket))


def _priced(basket: BasketInfo) -> PricedBasketInfo:
    return price_basket(basket=basket, lines=fetch_basket_lines(basket=basket))


@dataclass(frozen=True)
class OrderSnapshot:
    """What an order keeps of a basket: line drafts, the pricing, its adjustments as JSON."""

    lines: list[OrderLineDraft]
    priced: PricedBasket
    adjustments: list[dict]
    line_keys: list[int]  # the basket line id of each draft, which the adjustments name


def order_snapshot(
    *, basket: Basket, coupon_ids: Sequence[int] = (), order_id: int | None = None, now: dt.datetime | None = None
) -> OrderSnapshot:
    """Price the basket now, with the chosen coupons, and copy what the order must remember
    (names, prices, the explanation), so later catalogue changes never rewrite it. Call it
    under the basket's lock, in the transaction that freezes the basket, so no scan slips
    in between. Adjustments name basket line ids (``line_id``), as the basket response
    does, until ``create_order`` maps them to the order's lines. Each line's
    ``discount_fen`` is everything taken off it: its catalogue deal and its share of every
    order-level discount, so the lines add up to the order's discount."""
    lines, pricing = _price(
        fetch_basket_lines(basket=basket),
        store_id=basket.store_id,
        customer_id=basket.customer_id,
        coupon_ids=coupon_ids,
        order_id=order_id,
        now=now,
    )
    drafts = [
        OrderLineDraft(
            product_id=line.info.product_id,
            sku=line.info.sku,
            name=line.info.name,
            barcode=line.info.barcode,
            kind=line.info.kind,
            quantity=line.info.quantity,
            weight_g=line.info.weight_g,
            unit_price_fen=line.unit_price_fen,
            line_total_fen=line.priced.line_total_fen,
            discount_fen=line.priced.discount_fen,
            age_restricted=line.info.age_restricted,
        )
        for line in lines
    ]
    return OrderSnapshot(
        lines=drafts,
        priced=pricing,
        adjustments=[adjustment_dict(a) for a in pricing.adjustments],
        line_keys=[line.info.id for line in lines],
    )


def adjustment_dict(adjustment: Adjustment) -> dict:
    """An adjustment as the order keeps it; a flash-sale one also says how many units were
    sold at the flash price and from which item's quota."""
    data = {
        "source": adjustment.source,
        "promotion_id": adjustment.promotion_id,
        "line_id": adjustment.line_key,
        "amount_fen": adjustment.amount_fen,
        "label": adjustment.label,
    }
    if adjustment.item_id is not None:
        data.update(units=adjustment.units, item_id=adjustment.item_id)
    return data


# --- Opening ------------------------------------------------------------------------------


def open_basket(*, customer_id: int, store_id: int) -> OpenedBasket:
    """The shopper's basket at this store: the one they have, else a new one.

    An open *or frozen* basket is returned as it is (``created=False``): a frozen one so the
    client can resume its payment, and either even if the store has since closed or
    switched scan & pay off, so a shopper already in the aisles can finish. Only a new
    basket needs the store to offer scan & pay and to be open now. Two requests racing to
    create meet at the database's one-active-basket constraint; the loser returns the
    winner's basket.
    """
    store = store_get(store_id=store_id)
    existing = _active_basket(customer_id=customer_id, store=store)
    if existing is not None:
        return OpenedBasket(basket=_priced(BasketInfo.of(existing)), created=False)

    if not store.scan_and_go_enabled:
        raise ScanAndGoUnavailable(details={"store_id": store.pk})
    if not store.is_open_at(clock.local_now().time()):
        hours = {"opens_at": store.opens_at.isoformat(), "closes_at": store.closes_at.isoformat()}
        raise StoreClosed(details={"store_id": store.pk, **hours})
    try:
        with transaction.atomic():
            basket = Basket.objects.create(customer_id=customer_id, store=store, updated_at=clock.now())
    except IntegrityError:
        existing = _active_basket(customer_id=customer_id, store=store)
        if existing is None:
            raise
        return OpenedBasket(basket=_priced(BasketInfo.of(existing)), created=False)
    return OpenedBasket(basket=price_basket(basket=BasketInfo.of(basket), lines=[]), created=True)


def _active_basket(*, customer_id: int, store: Location) -> Basket | None:
    basket = Basket.objects.filter(customer_id=customer_id, store=store, status__in=ACTIVE_STATUSES).first()
    if basket is not None:
        basket.store = store
    return basket


# --- Changing a basket --------------------------------------------------------------------


def lock_basket(*, customer_id: int, basket_id: int, now: dt.datetime) -> BasketInfo:
    """The shopper's basket, row-locked until the transaction ends and touched at ``now``.

    Call inside ``transaction.atomic()``, before reading or writing the basket's lines; a
    change refused after it rolls the touch back too.
    """
    basket = None
    if 0 < basket_id <= MAX_ID:
        basket = basket_rows.lock_basket_row(customer_id=customer_id, basket_id=basket_id, now=now)
    if basket is None:
        raise BasketNotFound(details={"basket_id": basket_id})
    return basket


def require_open(basket: BasketInfo) -> None:
    details = {"basket_id": basket.id, "status": basket.status}
    if basket.status == Basket.Status.FROZEN:
        raise BasketFrozen(details=details)
    if basket.status != Basket.Status.OPEN:
        raise BasketNotOpen(details=details)


def scan(*, customer_id: int, basket_id: int, barcode: str, quantity: int | None = None) -> ScanResult:
    """Add what the phone scanned and return the priced basket with the line it touched.

    A product code adds ``quantity`` (default 1) to the product's one unit line; a scale
    label is always a line of its own, at its printed price or at its weight times the
    store's price per kg now (kept on the line, as the label is what was weighed). Stock is
    not checked: the shopper is holding the item, whatever the stock count says.

    On PostgreSQL a product code the store sells goes in with one statement, a transaction
    of its own that also reads the lines back (``scan_product_units``): one round trip,
    where a transaction takes five, for the request every shopper sends per item. Anything
    that statement does not write takes the transactional path: the basket locked, a
    product code added in one statement (``add_product_units``), labels and codes it
    cannot add through ``_add_scanned``, which refuses them with the reason, and the lines
    read under the lock; a basket that would pass ``MAX_LINES`` is refused and nothing is
    kept.
    """
    scanned = parse(barcode)  # a misread is answered before any lock is taken
    if isinstance(scanned, VariableMeasureCode):
        if quantity not in (None, 1):
            raise LabelQuantityNotAllowed(details={"quantity": quantity})
        quantity = 1
    quantity = _checked_quantity(1 if quantity is None else quantity)

    now = clock.now()
    if isinstance(scanned, ProductCode) and connection.vendor == "postgresql" and 0 < basket_id <= MAX_ID:
        added = basket_rows.scan_product_units(
            customer_id=customer_id,
            basket_id=basket_id,
            gtin=scanned.gtin,
            barcode=scanned.printed,
            quantity=quantity,
            max_quantity=MAX_LINE_QUANTITY,
            max_lines=MAX_LINES,
            now=now,
        )
        if added is not None:
            return ScanResult(basket=price_basket(basket=added.basket, lines=added.lines), line_id=added.line_id)

    with transaction.atomic():
        basket = lock_basket(customer_id=customer_id, basket_id=basket_id, now=now)
        require_open(basket)
        line_id = None
        if isinstance(scanned, ProductCode):
            line_id = basket_rows.add_product_units(
                basket_id=basket.id,
                store_id=basket.store_id,
                gtin=scanned.gtin,
                barcode=scanned.printed,
                quantity=quantity,
                max_quantity=MAX_LINE_QUANTITY,
                now=now,
            )
        if line_id is None:
            found = product_for_scan(store_id=basket.store_id, barcode=barcode)
            line_id = _add_scanned(basket=basket, found=found, quantity=quantity, now=now)
        lines = fetch_basket_lines(basket=basket)
        if len(lines) > MAX_LINES:
            raise TooManyLines(details={"max_lines": MAX_LINES})
    return ScanResult(basket=price_basket(basket=basket, lines=lines), line_id=line_id)


def change_line_quantity(*, customer_id: int, basket_id: int, line_id: int, quantity: int) -> PricedBasketInfo:
    """Set a unit line's quantity; a label's is fixed at one (``LabelQuantityFixed``)."""
    quantity = _checked_quantity(quantity)
    with transaction.atomic():
        basket = lock_basket(customer_id=customer_id, basket_id=basket_id, now=clock.now())
        require_open(basket)
        lines = _basket_line(basket=basket, line_id=line_id)
        if not lines.filter(kind=BasketLine.Kind.UNIT).update(quantity=quantity):
            kind = lines.values_list("kind", flat=True).first()
            if kind is None:
                raise BasketLineNotFound(details={"line_id": line_id})
            raise LabelQuantityFixed(details={"line_id": line_id, "kind": kind})
    return _priced(basket)


def remove_line(*, customer_id: int, basket_id: int, line_id: int) -> PricedBasketInfo:
    with transaction.atomic():
        basket = lock_basket(customer_id=customer_id, basket_id=basket_id, now=clock.now())
        require_open(basket)
        deleted, _ = _basket_line(basket=basket, line_id=line_id).delete()
        if not deleted:
            raise BasketLineNotFound(details={"line_id": line_id})
    return _priced(basket)


def _basket_line(*, basket: BasketInfo, line_id: int) -> QuerySet[BasketLine]:
    """The line ``line_id`` if it is this basket's (an id past 64 bits matches nothing)."""
    if not 0 < line_id <= MAX_ID:
        return BasketLine.objects.none()
    return BasketLine.objects.filter(pk=line_id, basket_id=basket.id)


def _checked_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidInput("A quantity is a whole number from 1.", code="invalid_quantity")
    if quantity > MAX_LINE_QUANTITY:
        raise QuantityLimit(details={"max_quantity": MAX_LINE_QUANTITY})
    return quantity


def _add_scanned(*, basket: BasketInfo, found: ProductAtStore, quantity: int, now: dt.datetime) -> int:
    """Write a scale label's line, or a product code's units; return the line's id.

    Labels are refused here when implausible, a product code when the product is sold by
    weight or its line would pass 99 (what ``add_product_units`` does not say).
    """
    kind, weight_g, label_price_fen = _line_values(found)
    if kind == BasketLine.Kind.UNIT:
        unit = BasketLine.objects.filter(basket_id=basket.id, product_id=found.product.pk, kind=kind)
        line_id, held = unit.values_list("id", "quantity").first() or (None, 0)
        if held + quantity > MAX_LINE_QUANTITY:
            raise QuantityLimit(details={"line_id": line_id, "quantity": held, "max_quantity": MAX_LINE_QUANTITY})
        if line_id is not None:
            basket_rows.add_units(line_id=line_id, quantity=quantity)
            return line_id
    return basket_rows.insert_line(
        basket_id=basket.id,
        product_id=found.product.pk,
        kind=kind,
        barcode=found.scanned.printed,
        quantity=quantity,
        weight_g=weight_g,
        label_price_fen=label_price_fen,
        now=now,
    )


def _line_values(found: ProductAtStore) -> tuple[str, int | None, int | None]:
    """``(kind, weight_g, label_price_fen)`` for a scan, refusing implausible labels."""
    product, scanned = found.product, found.scanned
    details = {"product_id": product.pk, "barcode": scanned.printed}
    if isinstance(scanned, ProductCode):
        if product.sold_by_weight:
            raise WeightLabelRequired(details=details)
        return BasketLine.Kind.UNIT, None, None

    if scanned.weight_g is not None:
        if not WEIGHT_LABEL_MIN_G <= scanned.weight_g <= WEIGHT_LABEL_MAX_G:
            raise ImplausibleLabelWeight(
                details={**details, "weight_g": scanned.weight_g, "max_weight_g": WEIGHT_LABEL_MAX_G}
            )
        return BasketLine.Kind.WEIGHT_LABEL, scanned.weight_g, found.line_price_fen

    label_fen, store_fen = scanned.price_fen, found.price_fen
    if product.sold_by_weight:  # implied grams = label_fen * 1000 / store_fen, in integers
        plausible = PRICE_LABEL_MIN_IMPLIED_G * store_fen <= label_fen * 1000 <= PRICE_LABEL_MAX_IMPLIED_G * store_fen
    else:
        plausible = PRICE_LABEL_MIN_PERCENT * store_fen <= label_fen * 100 <= PRICE_LABEL_MAX_PERCENT * store_fen
    if not plausible:
        raise ImplausibleLabelPrice(details={**details, "label_price_fen": label_fen, "store_price_fen": store_fen})
    return BasketLine.Kind.PRICE_LABEL, None, label_fen


# --- Expiry -------------------------------------------------------------------------------


def expire_idle_baskets(*, batch_size: int = EXPIRY_BATCH_SIZE) -> int:
    """Mark open baskets untouched for ``BASKET_IDLE_TIMEOUT`` expired; return how many.

    Batches of ``batch_size``, each its own short UPDATE, so no long transaction holds
    baskets a shopper is scanning into. The UPDATE repeats the idle condition: a scan that
    lands between picking a batch and updating it (or holds the basket's lock meanwhile)
    has moved ``updated_at`` on, and its basket stays open. Frozen baskets are left to
    their order's payment timeout.
    """
    cutoff = clock.now() - settings.BASKET_IDLE_TIMEOUT
    expired = 0
    while True:
        ids = _idle_basket_ids(cutoff=cutoff, batch_size=batch_size)
        if ids:
            expired += Basket.objects.filter(pk__in=ids, status=Basket.Status.OPEN, updated_at__lt=cutoff).update(
                status=Basket.Status.EXPIRED
            )
        if len(ids) < batch_size:
            return expired


def _idle_basket_ids(*, cutoff: dt.datetime, batch_size: int) -> list[int]:
    idle = Basket.objects.filter(status=Basket.Status.OPEN, updated_at__lt=cutoff).order_by("pk")
    return list(idle.values_list("pk", flat=True)[:batch_size])
