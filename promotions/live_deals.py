"""Which flash-sale items and Brand of the Day may be live, kept in each process's memory.

Every scan prices the basket, and pricing asks which flash sales and Brand of the Day reach
its products. That answer changes when staff edit a promotion, not when shoppers buy, so
each web process keeps the candidates for the next hour in memory for ``TIMEOUT`` seconds
(no query, not even a Redis round trip, on the busiest path) and drops them at once when a
flash sale, one of its items or a Brand of the Day is saved or deleted in that process.
What changes with every purchase (units sold, what this shopper already holds) is never
kept: ``loading.flash_offers`` reads it for the candidates a basket holds, and only then,
with the sale's switch and window checked again.

So a change staff make reaches every process within ``TIMEOUT`` (a sale set up ahead of
its start is exact to the second: the index holds the next hour's windows, not who is
live), and switching a flash sale off takes effect at once everywhere (its items are read
again with their sale); the Brand of the Day follows within ``TIMEOUT``. The index covers a
span of time, ``[valid_from, valid_until)``, holding every candidate whose window meets
it, so any "now" inside the span is answered exactly by filtering it; a "now" outside (the
next hour, or a test that moves the clock) builds it anew.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from miniprogram_api.core.clock import local_date

from .models import BrandOfTheDay, FlashSale, FlashSaleItem
from .pricing import BrandDeal

SPAN = dt.timedelta(hours=1)
TIMEOUT = 10.0  # seconds
BRAND_OF_THE_DAY_LABEL = "Brand of the Day"


@dataclass(frozen=True)
class FlashWindow:
    """A flash-sale item of an active sale, with the sale's window."""

    item_id: int
    product_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


@dataclass(frozen=True)
class LiveDeals:
    valid_from: dt.datetime
    valid_until: dt.datetime
    flash: dict[int, tuple[FlashWindow, ...]]  # by product id
    brand_days: dict[dt.date, BrandDeal]  # the active Brand of the Day of each date the span meets

    def covers(self, now: dt.datetime) -> bool:
        return self.valid_from <= now < self.valid_until

    def flash_item_ids(self, *, product_ids: Iterable[int], now: dt.datetime) -> list[int]:
        """The items of sales live at ``now`` for these products."""
        return sorted(
            window.item_id
            for product_id in product_ids
            for window in self.flash.get(product_id, ())
            if window.starts_at <= now < window.ends_at
        )

    def brand_deal(self, now: dt.datetime) -> BrandDeal | None:
        """Today's Brand of the Day, by the Shanghai calendar."""
        return self.brand_days.get(local_date(now))


_kept: tuple[LiveDeals, float] | None = None  # the index, and when (time.monotonic) it goes stale


def live_deals(*, now: dt.datetime) -> LiveDeals:
    """The index for ``now``: the one kept, or built (two queries) and kept."""
    global _kept
    kept = _kept
    if kept is not None and kept[1] > time.monotonic() and kept[0].covers(now):
        return kept[0]
    deals = _build(now)
    _kept = (deals, time.monotonic() + TIMEOUT)
    return deals


def forget() -> None:
    """Drop the index after a change: now, and again once the current transaction commits
    (the second drop outlives an index rebuilt from a snapshot taken before the commit)."""
    clear()
    transaction.on_commit(clear)


def clear() -> None:
    """Drop the index this process keeps."""
    global _kept
    _kept = None


def connect_invalidation() -> None:
    """Forget the index whenever a row it is built from is saved or deleted, whoever does
    it (the admin, a seed command, the shell). Bulk ``UPDATE``s send no signal: their
    callers call ``forget`` themselves (the admin's activate/deactivate actions)."""
    for model in (FlashSale, FlashSaleItem, BrandOfTheDay):
        uid = f"live-deals:{model._meta.label}"
        post_save.connect(_forget_on_change, sender=model, dispatch_uid=uid)
        post_delete.connect(_forget_on_change, sender=model, dispatch_uid=uid)


def _forget_on_change(**kwargs) -> None:
    forget()


def _build(now: dt.datetime) -> LiveDeals:
    start, end = now, now + SPAN
    flash: dict[int, list[FlashWindow]] = {}
    items = FlashSaleItem.objects.filter(sale__active=True, sale__starts_at__lt=end, sale__ends_at__gt=start)
    for item_id, product_id, starts_at, ends_at in items.values_list(
        "pk", "product_id", "sale__starts_at", "sale__ends_at"
    ).order_by("pk"):
        flash.setdefault(product_id, []).append(FlashWindow(item_id, product_id, starts_at, ends_at))
    days = BrandOfTheDay.objects.filter(active=True, date__gte=local_date(start), date__lte=local_date(end))
    brand_days = {
        row.date: BrandDeal(
            promotion_id=row.pk,
            brand_id=row.brand_id,
            percent_off=row.percent_off,
            label=row.label or BRAND_OF_THE_DAY_LABEL,
        )
        for row in days.only("id", "date", "brand_id", "percent_off", "label")
    }
    return LiveDeals(
        valid_from=start,
        valid_until=end,
        flash={product_id: tuple(windows) for product_id, windows in flash.items()},
        brand_days=brand_days,
    )
