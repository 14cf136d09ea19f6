"""Pricing a big basket: 200 lines against 20 live promotions, in-process.

Seeds the demo data into a fresh database, then sets up 20 live promotions touching the
basket: 17 flash sales (one item each, on products in the basket), a Brand of the Day on
the brand with most lines, an amount-off coupon and a free-delivery coupon the shopper
chose. It then times, over ``--rounds`` runs:

1. ``compute``: the pure engine on loaded promotions (no database);
2. ``price_lines``: loading the promotions (the queries) and computing, as a basket read
   or a checkout does, for scan & pay and for delivery.

and prints p50/p95/p99 in milliseconds and the queries per pricing. Target: under 5 ms
in-process. Run with SQLite (default) or PostgreSQL:

    .venv/bin/python bench/pricing.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_pricing .venv/bin/python bench/pricing.py

The database named in DATABASE_URL is dropped and recreated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections import Counter

import common

sys.path.insert(0, str(common.ROOT))

LINES = 200
FLASH_SALES = 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()

    var_dir = os.environ.get("VAR_DIR") or tempfile.mkdtemp(prefix="bench-var-")
    env = common.configure_environment(base="http://127.0.0.1:1", var_dir=var_dir)
    common.recreate_database(env.get("DATABASE_URL", ""))
    print(f"database: {env.get('DATABASE_URL', 'sqlite (' + var_dir + ')')}")
    common.migrate_and_seed(env)

    import django

    django.setup()
    lines, customer_id, store, coupon_ids = set_up_basket_and_promotions()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from miniprogram_api.core import clock
    from promotions.loading import load_promotions
    from promotions.pricing import compute, price_lines

    now = clock.now()
    promotions = load_promotions(
        product_ids={line.product_id for line in lines},
        channel="delivery",
        store_id=store.pk,
        city_id=store.city_id,
        customer_id=customer_id,
        coupon_ids=coupon_ids,
        now=now,
    )
    print(
        f"basket: {len(lines)} lines; live promotions: {len(promotions.flash)} flash sales, "
        f"{'a' if promotions.brand_deal else 'no'} Brand of the Day, {len(promotions.coupons)} coupons chosen"
    )
    priced = compute(lines=lines, channel="delivery", promotions=promotions, now=now)
    kinds = Counter(adjustment.source for adjustment in priced.adjustments)
    print(
        f"result: subtotal {priced.goods_subtotal_fen} fen, discount {priced.discount_fen} fen, "
        f"fee {priced.delivery_fee_fen} fen, total {priced.total_fen} fen; adjustments {dict(kinds)}"
    )
    print(f"\n{'what':<44} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    report(
        "compute (pure, 200 lines, 20 promotions)",
        0,
        lambda: compute(lines=lines, channel="delivery", promotions=promotions, now=now),
        args.rounds,
    )
    for channel in ("in_store", "delivery"):

        def load_and_compute(channel=channel):
            return price_lines(
                lines=lines,
                channel=channel,
                store_id=store.pk,
                city_id=store.city_id,
                customer_id=customer_id,
                coupon_ids=coupon_ids,
                now=now,
            )

        with CaptureQueriesContext(connection) as queries:
            load_and_compute()
        report(f"price_lines {channel} (load + compute)", len(queries), load_and_compute, args.rounds)


def report(label: str, queries: int, work, rounds: int) -> None:
    for _ in range(10):
        work()  # warm caches and the interpreter
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(f"{label:<44} {queries:>8} {statistics.median(timings):>8.2f} {p95:>8.2f} {p99:>8.2f}")


def set_up_basket_and_promotions():
    """200 products sold at a demo store become the lines; promotions are created live now."""
    from django.contrib.auth import get_user_model

    from miniprogram_api.core import clock
    from promotions.coupons import issue_coupons
    from promotions.models import BrandOfTheDay, CouponTemplate, DeliveryFeeRule, FlashSale, FlashSaleItem
    from promotions.pricing import PricingLine
    from stores.models import Location, Product

    now = clock.now()
    store = Location.objects.filter(kind=Location.Kind.STORE, active=True).order_by("code").first()
    products = list(Product.objects.filter(active=True, sold_by_weight=False).order_by("id")[:LINES])
    lines = [
        PricingLine(
            key=index,
            product_id=product.pk,
            quantity=1 + index % 3,
            unit_price_fen=product.base_price_fen,
            brand_id=product.brand_id,
            category_id=product.category_id,
        )
        for index, product in enumerate(products, start=1)
    ]
    window = {"starts_at": now - dt.timedelta(hours=1), "ends_at": now + dt.timedelta(days=1)}
    for product in products[:FLASH_SALES]:
        sale = FlashSale.objects.create(name=f"Flash {product.sku}", **window)
        FlashSaleItem.objects.create(
            sale=sale, product=product, flash_price_fen=max(1, product.base_price_fen * 7 // 10), quota=100
        )
    top_brand = Counter(product.brand_id for product in products).most_common(1)[0][0]
    BrandOfTheDay.objects.update_or_create(
        date=clock.local_today(), defaults={"brand_id": top_brand, "percent_off": 15, "active": True}
    )
    DeliveryFeeRule.objects.get_or_create(city=None, defaults={"fee_fen": 800, "free_from_fen": 1_000_000_000})
    customer = get_user_model().objects.create(username="bench-pricing")
    validity = {"valid_from": now - dt.timedelta(days=1), "valid_until": now + dt.timedelta(days=7)}
    amount_off = CouponTemplate.objects.create(
        name="满99减10", kind="amount_off", threshold_fen=9900, amount_off_fen=1000, **validity
    )
    free_delivery = CouponTemplate.objects.create(name="Free delivery", kind="free_delivery", **validity)
    coupon_ids = [
        issue_coupons(template_id=template.pk, customer_id=customer.pk)[0].pk
        for template in (amount_off, free_delivery)
    ]
    return lines, customer.pk, store, coupon_ids


if __name__ == "__main__":
    main()
