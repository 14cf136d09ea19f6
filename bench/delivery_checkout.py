"""Cart checkout latency: shoppers with a 10-line cart in one city checking out for delivery.

Seeds the demo data into a fresh database, then gives each of ``--shoppers`` shoppers a
token, an address within 12 km of the city centre and a cart of ``--lines`` distinct
packaged products the city's locations hold (1-3 units each), to be delivered in one of
tomorrow's four windows. Bench only: every location's ``slot_capacity`` is raised so that
full slots do not refuse checkouts (capacity is what the concurrency tests cover).

Two gunicorn servers run: one for the API, one for the payment sandbox the checkouts
create their WeChat Pay trades at (one server for both would have its sync workers wait
on themselves). Then:

1. in-process, one at a time: ``POST /api/v1/cart/checkout`` through Django's test client
   for half the shoppers (after a few untimed ones that count the queries), with the
   provider call (the HTTP round trip to the sandbox) timed on its own;
2. over HTTP against the API server: the other half, ``--concurrency`` at a time.

It prints p50/p95/p99 in milliseconds, queries per checkout, checkouts per second, how
the orders were split into shipments, and checks that the stock reserved equals the
units the shipments hold. Run with SQLite (default) or PostgreSQL:

    .venv/bin/python bench/delivery_checkout.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_delivery .venv/bin/python bench/delivery_checkout.py

The database named in DATABASE_URL is dropped and recreated. Loopback only.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import common
import requests

sys.path.insert(0, str(common.ROOT))

SEED = 5
QUERY_SAMPLES = 5
RADIUS_KM = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--city", default="shanghai")
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers of the API server")
    parser.add_argument("--port", type=int, default=8768, help="the API's; the sandbox's is the next one")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="bench-delivery-")  # always fresh: the shoppers are created anew
    base, sandbox = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
    env = common.configure_environment(
        base=base,
        var_dir=var_dir,
        extra={
            "WECHATPAY_BASE_URL": f"{sandbox}/sandbox/wechatpay",
            "ALIPAY_GATEWAY_URL": f"{sandbox}/sandbox/alipay/gateway.do",
            "LOG_LEVEL": "WARNING",  # not a line per payment created
        },
    )
    common.recreate_database(env.get("DATABASE_URL", ""))
    print(f"database: {env.get('DATABASE_URL', 'sqlite (' + var_dir + ')')}; cache: {env.get('REDIS_URL') or 'locmem'}")
    common.migrate_and_seed(env)

    import django

    django.setup()
    shoppers, city, location_count, reserved_before = prepare(args.city, args.shoppers, args.lines)
    in_process, over_http = shoppers[: len(shoppers) // 2], shoppers[len(shoppers) // 2 :]
    print(
        f"city: {city}, {location_count} active locations; {len(shoppers)} shoppers, each with an address "
        f"within {RADIUS_KM} km and a cart of {args.lines} lines; API gunicorn {args.workers} sync workers, "
        f"sandbox gunicorn 2; 2 cores shared by servers, database and load generator"
    )

    with ExitStack() as servers:
        servers.enter_context(common.gunicorn(port=args.port, workers=args.workers, env=env))
        servers.enter_context(common.gunicorn(port=args.port + 1, workers=2, env=env))
        queries, timings, provider = checkout_in_process(city, in_process[:QUERY_SAMPLES], in_process[QUERY_SAMPLES:])
        http_timings, wall, failures = checkout_over_http(base, city, over_http, args.concurrency)

    print(f"\n{'what':<58} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'per s':>7}")
    row("in-process, one at a time (whole request)", timings, len(timings) / (sum(timings) / 1000))
    row("  of which the provider call (HTTP to the sandbox)", provider, None)
    row(
        "  without the provider call",
        [t - p for t, p in zip(timings, provider, strict=True)],
        len(timings) / ((sum(timings) - sum(provider)) / 1000),
    )
    row(f"over HTTP, {args.concurrency} at a time", http_timings, len(http_timings) / wall)
    print(f"\nqueries per checkout ({args.lines} lines, in-process, incl. the token check): {sorted(set(queries))}")
    print(f"failed checkouts: {failures}")
    check_orders(reserved_before)


def prepare(city_code: str, count: int, lines: int):
    """Shoppers with a token, an address and a full cart: (token, address id, slot id)."""
    from django.db.models import Sum

    from checkout import addresses, carts, delivery_slots
    from miniprogram_api.accounts.models import Customer
    from miniprogram_api.accounts.tokens import issue_token
    from miniprogram_api.core import clock
    from stores.models import City, Location, Stock

    city = City.objects.get(code=city_code)
    locations = Location.objects.filter(city=city, active=True)
    locations.update(slot_capacity=1_000_000)
    held = (
        Stock.objects.filter(location__in=locations, product__active=True, product__sold_by_weight=False)
        .values_list("product_id", flat=True)
        .distinct()
        .order_by("product_id")
    )
    products = list(held)
    slots = [slot.id for slot in delivery_slots.next_day_slots(city=city, now=clock.now())]
    rng = random.Random(SEED)
    reserved_before = Stock.objects.aggregate(units=Sum("reserved"))["units"] or 0
    shoppers = []
    for i in range(count):
        customer = Customer.objects.create_user(
            username=f"bench-delivery-{i}", openid=f"o-bench-delivery-{i:05d}", wechat_appid="bench"
        )
        raw, _ = issue_token(customer=customer)
        bearing, km = rng.uniform(0, 2 * math.pi), RADIUS_KM * math.sqrt(rng.random())
        latitude = float(city.latitude) + km * math.cos(bearing) / 111.195
        longitude = float(city.longitude) + km * math.sin(bearing) / (
            111.195 * math.cos(math.radians(float(city.latitude)))
        )
        address = addresses.create_address(
            customer_id=customer.pk,
            recipient=f"Bench {i}",
            phone="13800138000",
            text=f"Room {i}, 1 Bench Road",
            city_code=city.code,
            latitude=round_decimal(latitude),
            longitude=round_decimal(longitude),
        )
        for product_id in rng.sample(products, lines):
            carts.add_line(
                customer_id=customer.pk, city_code=city.code, product_id=product_id, quantity=rng.randint(1, 3)
            )
        shoppers.append((raw, address.pk, slots[i % len(slots)]))
    return shoppers, city.code, locations.count(), reserved_before


def round_decimal(value: float):
    from decimal import Decimal

    return Decimal(f"{value:.6f}")


def body(city: str, address_id: int, slot: str) -> dict:
    return {"city": city, "address_id": address_id, "slot": slot, "payment_method": "wechat_pay"}


def checkout_in_process(city: str, samples, timed):
    """(queries of the sampled checkouts, ms per timed checkout, ms of its provider call)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from checkout import delivery_checkout

    provider_ms: list[float] = []
    real = delivery_checkout.create_at_provider

    def timed_provider(payment):
        started = time.perf_counter()
        try:
            return real(payment)
        finally:
            provider_ms.append((time.perf_counter() - started) * 1000)

    delivery_checkout.create_at_provider = timed_provider
    client = Client(SERVER_NAME="127.0.0.1")

    def post(token: str, address_id: int, slot: str):
        response = client.post(
            "/api/v1/cart/checkout",
            body(city, address_id, slot),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        if response.status_code != 201:
            raise SystemExit(f"checkout failed: {response.status_code} {response.content[:300]!r}")

    queries = []
    for shopper in samples:
        with CaptureQueriesContext(connection) as captured:
            post(*shopper)
        queries.append(len(captured))
    provider_ms.clear()
    timings = []
    for shopper in timed:
        started = time.perf_counter()
        post(*shopper)
        timings.append((time.perf_counter() - started) * 1000)
    delivery_checkout.create_at_provider = real
    return queries, timings, provider_ms


def checkout_over_http(base: str, city: str, shoppers, concurrency: int):
    """(ms per checkout, wall-clock seconds, failed checkouts) with ``concurrency`` in flight."""

    def one(shopper) -> tuple[float, bool]:
        token, address_id, slot = shopper
        started = time.perf_counter()
        response = requests.post(
            f"{base}/api/v1/cart/checkout",
            json=body(city, address_id, slot),
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            timeout=60,
        )
        return (time.perf_counter() - started) * 1000, response.status_code == 201

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, shoppers))
    wall = time.perf_counter() - started
    return [ms for ms, _ in results], wall, sum(1 for _, ok in results if not ok)


def row(label: str, timings: list[float], per_second: float | None) -> None:
    ordered = sorted(timings)
    p95 = ordered[math.ceil(len(ordered) * 0.95) - 1]
    p99 = ordered[math.ceil(len(ordered) * 0.99) - 1]
    rate = f"{per_second:>7.1f}" if per_second is not None else f"{'':>7}"
    print(f"{label:<58} {len(ordered):>5} {statistics.median(ordered):>8.1f} {p95:>8.1f} {p99:>8.1f} {rate}")


def check_orders(reserved_before: int) -> None:
    """How the orders were split, and that the reservations add up."""
    from django.db.models import Count, Sum

    from checkout.models import Order, ShipmentLine
    from stores.models import Stock

    orders = Order.objects.filter(channel="delivery", customer__username__startswith="bench-delivery-")
    split = Counter(orders.annotate(n=Count("shipments")).values_list("n", flat=True))
    fees = Counter("free" if fee == 0 else "fee" for fee in orders.values_list("delivery_fee_fen", flat=True))
    held = ShipmentLine.objects.filter(shipment__order__in=orders).aggregate(units=Sum("quantity"))["units"] or 0
    reserved = (Stock.objects.aggregate(units=Sum("reserved"))["units"] or 0) - reserved_before
    verdict = "equal" if held == reserved else "DIFFERENT"
    print(
        f"orders: {orders.count()}; shipments per order {dict(sorted(split.items()))}; delivery {dict(fees)}; "
        f"units in shipments {held}, newly reserved in stock {reserved} ({verdict})"
    )


if __name__ == "__main__":
    main()
