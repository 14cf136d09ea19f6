"""Delivery carts: one per shopper per city, holding anything sold in that city.

A cart is not tied to a store: delivery sells the whole assortment of the city, from
whichever fulfilment location routing picks at checkout, so a product may be added when
some active location of the city carries it (has a ``Stock`` row), whether or not any is
left; the priced cart says what is available now. Products sold by weight are refused:
they are weighed in the store, so there is no fixed quantity to deliver.

Writes follow the baskets' rule (``checkout.baskets``): take the cart's row lock first
(``lock_cart``), inside one transaction, then read and merge lines, so two taps on "add"
never lose an update. Checkout locks the cart the same way (``cart_for_checkout``) before
it locks stock or slots, so the cart always comes first in the lock order.

Reading is fetch-then-compute: ``fetch_cart_lines`` gets every line with its product and
its availability in the city in one query, ``price_cart`` hands them to the pricing
engine with channel "delivery" (which adds the city's delivery fee below its
free-delivery threshold). Delivery sells at the product's base price: ``LocationPrice``
overrides are a store's shelf prices. A read is a fixed number of queries, whatever the
number of lines. Coupons are chosen at checkout, so the cart is priced without any.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Least

from miniprogram_api.core import clock
from miniprogram_api.core.errors import InvalidInput, NotFound, Unprocessable
from promotions.loading import load_promotions
from promotions.pricing import Adjustment, DeliveryFee, PricedBasket, PricedLine, PricingLine, Promotions, compute
from stores.models import City, Product, Stock
from stores.selectors import MAX_ID, ProductNotFound

from .addresses import active_city
from .errors import QuantityLimit, TooManyLines
from .models import Cart, CartLine

# The database's own check (cart_line_quantity_1_to_99) is the last word on quantities.
MAX_LINE_QUANTITY = 99
# Every read prices every line; 200 distinct products is far past a household's order.
MAX_LINES = 200
# Availability is shown exactly up to this many units and as this number above it: the
# shopper needs "enough for my quantity", not the city's stock depth.
AVAILABILITY_CAP = 99

# Why a line cannot be ordered now (``CartLineInfo.unavailable_reason``).
PRODUCT_INACTIVE = "product_inactive"
NOT_DELIVERABLE = "not_deliverable"
NOT_SOLD_IN_CITY = "not_sold_in_city"
OUT_OF_STOCK = "out_of_stock"
NOT_ENOUGH_STOCK = "not_enough_stock"


class CartLineNotFound(NotFound):
    """Also what another shopper's cart line is."""

    code = "cart_line_not_found"
    default_message = "Your cart has no line with this id."


class NotSoldInCity(NotFound):
    """The product is in the catalogue, but no active location of the city carries it."""

    code = "not_sold_in_city"
    default_message = "This product is not sold for delivery in this city."


class NotDeliverable(Unprocessable):
    code = "not_deliverable"
    default_message = (
        "This product is sold by weight: it is weighed in the store, so it cannot be delivered. "
        "Buy it in the store with scan & pay."
    )


# --- What a read returns ------------------------------------------------------------------


@dataclass(frozen=True)
class CartLineInfo:
    """A line with its product (joined), what the city's active locations have available
    now (capped at ``AVAILABILITY_CAP``), and whether any of them carries the product."""

    line: CartLine
    available_units: int
    sold_in_city: bool

    @property
    def product(self) -> Product:
        return self.line.product

    @property
    def unit_price_fen(self) -> int:
        return self.line.product.base_price_fen

    @property
    def unavailable_reason(self) -> str | None:
        """None when the line can be ordered as it is; else the first reason it cannot."""
        product = self.line.product
        if not product.active:
            return PRODUCT_INACTIVE
        if product.sold_by_weight:
            return NOT_DELIVERABLE
        if not self.sold_in_city:
            return NOT_SOLD_IN_CITY
        if self.available_units <= 0:
            return OUT_OF_STOCK
        if self.available_units < self.line.quantity:
            return NOT_ENOUGH_STOCK
        return None

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None

    def pricing_line(self) -> PricingLine:
        line = self.line
        return PricingLine(
            key=line.pk,
            product_id=line.product_id,
            quantity=line.quantity,
            unit_price_fen=self.unit_price_fen,
            brand_id=line.product.brand_id,
            category_id=line.product.category_id,
        )


@dataclass(frozen=True)
class PricedCartLine:
    info: CartLineInfo
    priced: PricedLine

    @property
    def line(self) -> CartLine:
        return self.info.line

    @property
    def product(self) -> Product:
        return self.info.line.product


@dataclass(frozen=True)
class PricedCart:
    """A cart (with its city) priced for delivery now. ``delivery_fee`` is the city's fee
    rule (None: delivery is always free)."""

    cart: Cart
    lines: tuple[PricedCartLine, ...]
    pricing: PricedBasket
    delivery_fee: DeliveryFee | None

    @property
    def adjustments(self) -> tuple[Adjustment, ...]:
        return self.pricing.adjustments

    @property
    def item_count(self) -> int:
        return sum(line.line.quantity for line in self.lines)

    @property
    def all_available(self) -> bool:
        return all(line.info.available for line in self.lines)

    @property
    def free_delivery_from_fen(self) -> int | None:
        """Goods after discounts from which delivery is free; None when it always is."""
        rule = self.delivery_fee
        return rule.free_from_fen if rule is not None and rule.fee_fen else None

    @property
    def amount_to_free_delivery_fen(self) -> int:
        """How much more (after discounts) the shopper must add for free delivery."""
        threshold = self.free_delivery_from_fen
        if threshold is None:
            return 0
        return max(0, threshold - (self.pricing.goods_subtotal_fen - self.pricing.discount_fen))


@dataclass(frozen=True)
class CartChange:
    cart: PricedCart
    line_id: int  # the line the change created or touched


class LockedCart(NamedTuple):
    """What checkout reads under the cart's lock (``cart_for_checkout``)."""

    cart: Cart
    lines: list[CartLineInfo]


# --- Reading ------------------------------------------------------------------------------


def cart_get(*, customer_id: int, city_code: str) -> PricedCart:
    """The shopper's cart in the city, priced; created (empty) on the first read."""
    city = active_city(code=city_code)
    cart, _ = Cart.objects.get_or_create(customer_id=customer_id, city=city)
    cart.city = city
    return priced_cart(cart)


def priced_cart(cart: Cart) -> PricedCart:
    """``cart`` (with its city set or joined) priced now, lines fetched afresh."""
    return price_cart(cart=cart, lines=fetch_cart_lines(cart=cart))


def fetch_cart_lines(*, cart: Cart) -> list[CartLineInfo]:
    """Every line of the cart with its product and the city's availability: one query."""
    stock = Stock.objects.filter(
        product_id=OuterRef("product_id"), location__city_id=cart.city_id, location__active=True
    )
    units = stock.order_by().values("product_id").annotate(units=Sum(F("on_hand") - F("reserved"))).values("units")
    lines = (
        CartLine.objects.filter(cart_id=cart.pk)
        .select_related("product")
        .annotate(city_units=Coalesce(Subquery(units[:1], output_field=IntegerField()), Value(0)), sold=Exists(stock))
        .order_by("pk")
    )
    return [
        CartLineInfo(line=line, available_units=min(max(line.city_units, 0), AVAILABILITY_CAP), sold_in_city=line.sold)
        for line in lines
    ]


def price_cart(
    *,
    cart: Cart,
    lines: Sequence[CartLineInfo],
    coupon_ids: Sequence[int] = (),
    order_id: int | None = None,
    now: dt.datetime | None = None,
) -> PricedCart:
    """Price fetched lines for delivery in the cart's city. Checkout passes the chosen
    ``coupon_ids`` (and ``order_id`` when pricing its unpaid order again); a cart read
    passes none. An empty cart owes no delivery fee: there is nothing to deliver."""
    now = now or clock.now()
    pricing_lines = [info.pricing_line() for info in lines]
    promotions = load_promotions(
        product_ids={line.product_id for line in pricing_lines},
        channel="delivery",
        city_id=cart.city_id,
        customer_id=cart.customer_id,
        coupon_ids=coupon_ids,
        order_id=order_id,
        now=now,
    )
    fee_rule = promotions.delivery_fee
    if not pricing_lines:
        promotions = Promotions(coupons=promotions.coupons)
    pricing = compute(lines=pricing_lines, channel="delivery", promotions=promotions, now=now)
    priced = {line.key: line for line in pricing.lines}
    return PricedCart(
        cart=cart,
        lines=tuple(PricedCartLine(info=info, priced=priced[info.line.pk]) for info in lines),
        pricing=pricing,
        delivery_fee=fee_rule,
    )


# --- Locking (for changes and for checkout) -----------------------------------------------


def lock_cart(*, customer_id: int, city_id: int) -> Cart:
    """The shopper's cart in the city, row-locked until the transaction ends; created if
    missing. Call inside ``transaction.atomic()``, before reading or writing its lines,
    and before locking stock or slot rows (the cart comes first in the lock order)."""
    carts = Cart.objects.select_for_update(of=("self",)).select_related("city")
    cart = carts.filter(customer_id=customer_id, city_id=city_id).first()
    if cart is None:
        try:
            with transaction.atomic():  # a savepoint: a racing creator's row wins
                Cart.objects.create(customer_id=customer_id, city_id=city_id)
        except IntegrityError:
            pass
        cart = carts.get(customer_id=customer_id, city_id=city_id)
    return cart


def cart_for_checkout(*, customer_id: int, city_code: str) -> LockedCart:
    """The shopper's cart in the city, locked, with its lines fetched: what checkout prices
    (``price_cart``), routes and empties (``clear_cart``) in the same transaction."""
    city = active_city(code=city_code)
    cart = lock_cart(customer_id=customer_id, city_id=city.pk)
    return LockedCart(cart=cart, lines=fetch_cart_lines(cart=cart))


def clear_cart(*, cart_id: int) -> int:
    """Remove every line (checkout, once the order holds them); return how many. Call
    under the cart's lock, in the transaction that writes the order."""
    deleted, _ = CartLine.objects.filter(cart_id=cart_id).delete()
    Cart.objects.filter(pk=cart_id).update(updated_at=clock.now())
    return deleted


def restore_lines(*, cart_id: int, lines: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Put an unpaid order's ``(product_id, quantity)`` back into its cart when the order
    closes, merging into lines the shopper has added since (capped at 99 a line) and
    adding new lines while there is room (200 lines). Products no longer active or sold by
    weight are not put back. Returns what could not be put back, for the order's log.

    Takes the cart's lock: call it before locking stock rows in the same transaction (the
    cart comes first, as in checkout), or in a transaction of its own.
    """
    wanted = Counter()
    for product_id, quantity in lines:
        if quantity > 0:
            wanted[product_id] += quantity
    if not wanted:
        return []
    with transaction.atomic():
        if Cart.objects.select_for_update().filter(pk=cart_id).first() is None:
            return sorted(wanted.items())
        restorable = set(
            Product.objects.filter(pk__in=wanted, active=True, sold_by_weight=False).values_list("pk", flat=True)
        )
        existing = dict(CartLine.objects.filter(cart_id=cart_id).values_list("product_id", "pk"))
        dropped = [(pid, qty) for pid, qty in sorted(wanted.items()) if pid not in restorable]
        new_lines = []
        for product_id in sorted(restorable):
            quantity = wanted[product_id]
            if product_id in existing:
                CartLine.objects.filter(pk=existing[product_id]).update(
                    quantity=Least(F("quantity") + quantity, Value(MAX_LINE_QUANTITY))
                )
            elif len(existing) + len(new_lines) < MAX_LINES:
                new_lines.append(
                    CartLine(cart_id=cart_id, product_id=product_id, quantity=min(quantity, MAX_LINE_QUANTITY))
                )
            else:
                dropped.append((product_id, quantity))
        CartLine.objects.bulk_create(new_lines)
        Cart.objects.filter(pk=cart_id).update(updated_at=clock.now())
    return sorted(dropped)


# --- Changing a cart ----------------------------------------------------------------------


def add_line(*, customer_id: int, city_code: str, product_id: int, quantity: int = 1) -> CartChange:
    """Add ``quantity`` of a product: merged into its line if there is one (refused past 99
    with ``QuantityLimit``), else a new line (refused past 200 with ``TooManyLines``)."""
    quantity = _checked_quantity(quantity)
    city = active_city(code=city_code)
    product = _deliverable_product(product_id=product_id, city=city)
    with transaction.atomic():
        cart = lock_cart(customer_id=customer_id, city_id=city.pk)
        line = CartLine.objects.filter(cart_id=cart.pk, product_id=product.pk).first()
        if line is not None:
            if line.quantity + quantity > MAX_LINE_QUANTITY:
                raise QuantityLimit(
                    "At most 99 of one product per cart.",
                    details={"line_id": line.pk, "quantity": line.quantity, "max_quantity": MAX_LINE_QUANTITY},
                )
            CartLine.objects.filter(pk=line.pk).update(quantity=F("quantity") + quantity)
        else:
            if CartLine.objects.filter(cart_id=cart.pk).count() >= MAX_LINES:
                raise TooManyLines("Your cart holds at most 200 different products.", details={"max_lines": MAX_LINES})
            line = CartLine.objects.create(cart_id=cart.pk, product=product, quantity=quantity)
        _touch(cart)
    return CartChange(cart=priced_cart(cart), line_id=line.pk)


def change_line_quantity(*, customer_id: int, line_id: int, quantity: int) -> PricedCart:
    """Set a line's quantity (1-99); returns the line's cart, priced."""
    quantity = _checked_quantity(quantity)
    with transaction.atomic():
        cart = _lock_cart_of_line(customer_id=customer_id, line_id=line_id)
        if not CartLine.objects.filter(pk=line_id, cart_id=cart.pk).update(quantity=quantity):
            raise CartLineNotFound(details={"line_id": line_id})
        _touch(cart)
    return priced_cart(cart)


def remove_line(*, customer_id: int, line_id: int) -> PricedCart:
    """Remove a line; returns the line's cart, priced."""
    with transaction.atomic():
        cart = _lock_cart_of_line(customer_id=customer_id, line_id=line_id)
        deleted, _ = CartLine.objects.filter(pk=line_id, cart_id=cart.pk).delete()
        if not deleted:
            raise CartLineNotFound(details={"line_id": line_id})
        _touch(cart)
    return priced_cart(cart)


def _lock_cart_of_line(*, customer_id: int, line_id: int) -> Cart:
    """The locked cart holding the shopper's line ``line_id``. The line is looked up, then
    its cart locked; the caller's write repeats ``cart_id`` in its filter, so a line
    removed between the two is "not found", not an error."""
    city_id = None
    if 0 < line_id <= MAX_ID:
        city_id = _lines_of(customer_id).filter(pk=line_id).values_list("cart__city_id", flat=True).first()
    if city_id is None:
        raise CartLineNotFound(details={"line_id": line_id})
    return lock_cart(customer_id=customer_id, city_id=city_id)


def _lines_of(customer_id: int) -> QuerySet[CartLine]:
    return CartLine.objects.filter(cart__customer_id=customer_id)


def _deliverable_product(*, product_id: int, city: City) -> Product:
    """The active product, refused when weighed or when no active location of the city
    carries it. Checked before the cart's lock: these do not depend on the cart."""
    product = None
    if isinstance(product_id, int) and 0 < product_id <= MAX_ID:
        carried = Stock.objects.filter(product_id=OuterRef("pk"), location__city_id=city.pk, location__active=True)
        product = Product.objects.filter(pk=product_id, active=True).annotate(sold=Exists(carried)).first()
    if product is None:
        raise ProductNotFound(details={"product_id": product_id})
    if product.sold_by_weight:
        raise NotDeliverable(details={"product_id": product.pk, "reason": "sold_by_weight"})
    if not product.sold:
        raise NotSoldInCity(details={"product_id": product.pk, "city": city.code})
    return product


def _checked_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidInput("A quantity is a whole number from 1.", code="invalid_quantity")
    if quantity > MAX_LINE_QUANTITY:
        raise QuantityLimit("At most 99 of one product per cart.", details={"max_quantity": MAX_LINE_QUANTITY})
    return quantity


def _touch(cart: Cart) -> None:
    cart.updated_at = clock.now()
    Cart.objects.filter(pk=cart.pk).update(updated_at=cart.updated_at)
