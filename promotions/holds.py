"""What an unpaid order holds of the limited promotions, and what becomes of it.

Checkout prices a basket and, in the transaction that writes the order, calls
``hold_for_order``: the coupons the price used are locked on the order and the units it
sells at a flash price are taken from their quotas. Payment turns the holds into uses
(``confirm_for_order``); a payment timeout or a cancellation gives them back
(``release_for_order``); a full return gives back the coupons still valid
(``restore_coupons_for_order``). Each runs inside its caller's transaction, so the order and what
it holds are written, or undone, together.

Coupons move with one conditional UPDATE each way, so two checkouts of one coupon cannot
both lock it. Flash-sale items are row-locked in item id order everywhere (coupons first,
then items), so two checkouts never take the same rows in opposite orders, and ``sold``
moves only under those locks (a CHECK keeps it within the quota as the last word).

Orders live in ``checkout``, above this app: they are named here by their plain id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Case, F, IntegerField, Sum, Value, When

from miniprogram_api.core.errors import Conflict

from .models import Coupon, FlashSaleItem, FlashSaleReservation
from .pricing import PricedBasket

logger = logging.getLogger(__name__)

Reservation = FlashSaleReservation.Status


class CouponUnavailable(Conflict):
    """A coupon that priced the basket was used or locked by another checkout a moment
    before this one could lock it."""

    code = "coupon_unavailable"
    default_message = "A chosen coupon has just been used on another order; check out again without it."


class FlashSaleSoldOut(Conflict):
    code = "flash_sale_sold_out"
    default_message = "A flash-sale item in the basket has just sold out; check the basket's new price."


class FlashSaleLimitReached(Conflict):
    code = "flash_sale_limit_reached"
    default_message = "You already have as many of a flash-sale item as one shopper may buy at the flash price."


@dataclass(frozen=True)
class NotRetaken:
    """What a late payment could not take back after its order had been closed: coupons
    used or locked by another order since, and flash units (item id -> units) sold out or
    past the shopper's limit since. Empty (falsy) on an ordinary payment."""

    coupon_ids: tuple[int, ...] = ()
    flash_units: Mapping[int, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.coupon_ids or self.flash_units)


def flash_units(priced: PricedBasket) -> dict[int, int]:
    """Units sold at a flash price, by flash-sale item id (in id order: the lock order)."""
    units: dict[int, int] = defaultdict(int)
    for adjustment in priced.adjustments:
        if adjustment.source == "flash_sale" and adjustment.item_id is not None and adjustment.units:
            units[adjustment.item_id] += adjustment.units
    return dict(sorted(units.items()))


# --- Checkout -----------------------------------------------------------------------------


def hold_for_order(*, order_id: int, customer_id: int, priced: PricedBasket, now: dt.datetime) -> None:
    """Lock the coupons ``priced`` applied on the new order ``order_id`` and take its flash
    units from their quotas, or raise (``CouponUnavailable``, ``FlashSaleSoldOut``,
    ``FlashSaleLimitReached``) so the caller's transaction, order and all, rolls back.

    Pricing read the quotas and coupons without locks, a moment earlier; this checks them
    again under the locks, where another checkout can no longer change them.
    """
    _require_transaction()
    _lock_coupons(order_id=order_id, customer_id=customer_id, coupon_ids=priced.applied_coupon_ids, now=now)
    wanted = flash_units(priced)
    if wanted:
        _take_flash_units(order_id=order_id, customer_id=customer_id, wanted=wanted)


def _lock_coupons(*, order_id: int, customer_id: int, coupon_ids: Iterable[int], now: dt.datetime) -> None:
    ids = sorted(set(coupon_ids))
    if not ids:
        return
    locked = Coupon.objects.filter(
        pk__in=ids,
        customer_id=customer_id,
        status=Coupon.Status.AVAILABLE,
        valid_from__lte=now,
        valid_until__gt=now,
    ).update(status=Coupon.Status.LOCKED, order_id=order_id)
    if locked != len(ids):
        mine = set(Coupon.objects.filter(pk__in=ids, order_id=order_id).values_list("pk", flat=True))
        raise CouponUnavailable(details={"coupon_ids": [cid for cid in ids if cid not in mine]})


def _take_flash_units(*, order_id: int, customer_id: int, wanted: dict[int, int]) -> None:
    items = list(
        FlashSaleItem.objects.select_for_update()
        .filter(pk__in=wanted)
        .order_by("pk")
        .only("id", "product_id", "quota", "sold", "per_customer_limit")
    )
    found = {item.pk for item in items}
    for item_id in wanted:
        if item_id not in found:  # the sale was deleted since pricing
            raise FlashSaleSoldOut(details={"item_id": item_id, "remaining": 0})
    taken = _customer_units(customer_id=customer_id, item_ids=wanted)
    for item in items:
        units = wanted[item.pk]
        details = {"item_id": item.pk, "product_id": item.product_id}
        if item.sold + units > item.quota:
            raise FlashSaleSoldOut(details={**details, "remaining": item.quota - item.sold})
        if taken[item.pk] + units > item.per_customer_limit:
            raise FlashSaleLimitReached(
                details={**details, "limit": item.per_customer_limit, "already": taken[item.pk]}
            )
    FlashSaleItem.objects.filter(pk__in=wanted).update(
        sold=F("sold")
        + Case(*(When(pk=item_id, then=Value(units)) for item_id, units in wanted.items()), output_field=IntegerField())
    )
    FlashSaleReservation.objects.bulk_create(
        FlashSaleReservation(item_id=item_id, customer_id=customer_id, order_id=order_id, quantity=units)
        for item_id, units in wanted.items()
    )


def _customer_units(*, customer_id: int, item_ids: Iterable[int]) -> dict[int, int]:
    """Units of each item the shopper holds on unpaid orders or bought, read under the items'
    locks: every checkout of these items waits for them, so the count cannot move."""
    rows = (
        FlashSaleReservation.objects.filter(item_id__in=list(item_ids), customer_id=customer_id)
        .exclude(status=Reservation.RELEASED)
        .values("item_id")
        .annotate(units=Sum("quantity"))
        .values_list("item_id", "units")
    )
    units: dict[int, int] = defaultdict(int)
    units.update(rows)
    return units


# --- Payment ------------------------------------------------------------------------------


def confirm_for_order(*, order_id: int, now: dt.datetime, coupon_ids: Sequence[int] = ()) -> NotRetaken:
    """The order is paid: its locked coupons become used and its held units sold.

    ``coupon_ids`` are the coupons the order was priced with. They matter only for a
    payment that arrives after the order was closed, when its coupons and units had been
    given back: each is taken again if nobody else has it (a released coupon, even one that
    expired meanwhile, since the order used it while valid; units while the quota and the
    shopper's limit allow). What could not be taken is returned, for the order's record.
    Idempotent: a second call changes nothing and returns what is still missing.
    """
    _require_transaction()
    coupon_ids = sorted(set(coupon_ids))
    used = Coupon.objects.filter(order_id=order_id, status=Coupon.Status.LOCKED).update(
        status=Coupon.Status.USED, used_at=now
    )
    lost_coupons: tuple[int, ...] = ()
    if used < len(coupon_ids):
        lost_coupons = _retake_coupons(order_id=order_id, coupon_ids=coupon_ids, now=now)
    FlashSaleReservation.objects.filter(order_id=order_id, status=Reservation.HELD).update(status=Reservation.SOLD)
    return NotRetaken(coupon_ids=lost_coupons, flash_units=_retake_flash_units(order_id=order_id))


def _retake_coupons(*, order_id: int, coupon_ids: list[int], now: dt.datetime) -> tuple[int, ...]:
    Coupon.objects.filter(
        pk__in=coupon_ids, order_id__isnull=True, status__in=(Coupon.Status.AVAILABLE, Coupon.Status.EXPIRED)
    ).update(status=Coupon.Status.USED, order_id=order_id, used_at=now)
    ours = set(
        Coupon.objects.filter(pk__in=coupon_ids, order_id=order_id, status=Coupon.Status.USED).values_list(
            "pk", flat=True
        )
    )
    return tuple(cid for cid in coupon_ids if cid not in ours)


def _retake_flash_units(*, order_id: int) -> dict[int, int]:
    released = list(
        FlashSaleReservation.objects.filter(order_id=order_id, status=Reservation.RELEASED)
        .order_by("item_id")
        .only("id", "item_id", "customer_id", "quantity")
    )
    if not released:
        return {}
    items = {
        item.pk: item
        for item in FlashSaleItem.objects.select_for_update()
        .filter(pk__in=[r.item_id for r in released])
        .order_by("pk")
        .only("id", "quota", "sold", "per_customer_limit")
    }
    taken = _customer_units(customer_id=released[0].customer_id, item_ids=items)
    lost: dict[int, int] = {}
    for reservation in released:
        item, units = items[reservation.item_id], reservation.quantity
        fits = taken[item.pk] + units <= item.per_customer_limit
        if fits and FlashSaleItem.objects.filter(pk=item.pk, sold__lte=F("quota") - units).update(
            sold=F("sold") + units
        ):
            FlashSaleReservation.objects.filter(pk=reservation.pk).update(status=Reservation.SOLD)
        else:
            lost[item.pk] = units
    return lost


# --- Timeout and cancellation -------------------------------------------------------------


def release_for_order(*, order_id: int, now: dt.datetime) -> None:
    """The order will not be paid: its coupons go back to the shopper (or expire, past
    their validity) and its held units back to their quotas.

    Each reservation is released with a conditional UPDATE on its status before its units
    are given back, so running this twice (or racing a payment that confirms them) gives
    back once at most. Items are updated in id order, the order every lock here takes.
    """
    _require_transaction()
    locked = Coupon.objects.filter(order_id=order_id, status=Coupon.Status.LOCKED)
    locked.filter(valid_until__gt=now).update(status=Coupon.Status.AVAILABLE, order_id=None)
    locked.update(status=Coupon.Status.EXPIRED, order_id=None)
    held = FlashSaleReservation.objects.filter(order_id=order_id, status=Reservation.HELD)
    for pk, item_id, units in held.order_by("item_id").values_list("pk", "item_id", "quantity"):
        if not FlashSaleReservation.objects.filter(pk=pk, status=Reservation.HELD).update(status=Reservation.RELEASED):
            continue
        if not FlashSaleItem.objects.filter(pk=item_id, sold__gte=units).update(sold=F("sold") - units):
            logger.error("flash item %s sold fewer than the %s units order %s gives back", item_id, units, order_id)


# --- Full return ---------------------------------------------------------------------------


def restore_coupons_for_order(*, order_id: int, now: dt.datetime) -> list[int]:
    """A paid order came back whole: the coupons it used return to the shopper while still
    valid (one past its validity stays used: giving back a dead coupon gives nothing).
    Flash-sale units stay sold: the sale's quota counts what was sold, not what is kept.
    Returns the coupon ids restored; a second call restores nothing."""
    _require_transaction()
    used = Coupon.objects.filter(order_id=order_id, status=Coupon.Status.USED, valid_until__gt=now)
    restored = sorted(used.values_list("pk", flat=True))
    Coupon.objects.filter(pk__in=restored, status=Coupon.Status.USED).update(
        status=Coupon.Status.AVAILABLE, order_id=None, used_at=None
    )
    return restored


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Call inside the transaction that changes the order.")
