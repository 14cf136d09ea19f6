"""Routing a 50-line delivery order over every demo location of a city, in-process.

Seeds the demo data into a fresh database, then draws ``--orders`` orders of 50 distinct
packaged products that some active location of the city holds (1-3 units each) to
addresses within 15 km of the city centre, and times, over ``--rounds`` runs cycling
through those orders:

1. ``plan``: the pure rule on loaded candidates (no database);
2. ``route``: loading the candidates (the queries) and planning, as a cart checkout does.

It prints how the orders were routed (one location, an exact split, the greedy fallback),
p50/p95/p99 in milliseconds and the queries per route; then ``plan`` on two synthetic
cities far bigger than the demo's, at the exact search's budget and past it (where a
greedy rule answers), to show what the budget costs. Run with SQLite (default) or
PostgreSQL:

    .venv/bin/python bench/routing.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_routing .venv/bin/python bench/routing.py

The database named in DATABASE_URL is dropped and recreated.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter

import common

sys.path.insert(0, str(common.ROOT))

LINES = 50
SEED = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--city", default="shanghai")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()

    var_dir = os.environ.get("VAR_DIR") or tempfile.mkdtemp(prefix="bench-var-")
    env = common.configure_environment(base="http://127.0.0.1:1", var_dir=var_dir)
    common.recreate_database(env.get("DATABASE_URL", ""))
    print(f"database: {env.get('DATABASE_URL', 'sqlite (' + var_dir + ')')}")
    common.migrate_and_seed(env)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stores.models import City, Location, Stock
    from stores.routing import load_candidates, plan, route

    city = City.objects.get(code=args.city)
    locations = Location.objects.filter(city=city, active=True)
    kinds = Counter(locations.values_list("kind", flat=True))
    held = Stock.objects.filter(location__in=locations, product__sold_by_weight=False, on_hand__gt=0)
    sold = list(held.values_list("product_id", flat=True).distinct().order_by("product_id"))
    orders = draw_orders(city, sold, args.orders)
    print(
        f"city: {city.code}, {kinds['store']} stores and {kinds['warehouse']} warehouses active; "
        f"{len(sold)} packaged products held there; {len(orders)} orders of {LINES} lines"
    )

    loaded = [
        (destination, wanted, load_candidates(city_id=city.pk, product_ids=wanted.keys()))
        for destination, wanted in orders
    ]
    plans = [plan(destination=d, wanted=w, candidates=c) for d, w, c in loaded]
    methods = Counter(p.explanation["method"] for p in plans)
    shipments = Counter(len(p.shipments) for p in plans)
    unserved = sum(1 for p in plans if p.unserved)
    print(
        f"routed: {dict(methods)}; shipments per order {dict(sorted(shipments.items()))}; "
        f"orders with unserved units {unserved}"
    )

    with CaptureQueriesContext(connection) as queries:
        route(city_id=city.pk, destination=orders[0][0], wanted=orders[0][1])

    print(f"\n{'what':<56} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    report(
        f"plan (pure, {LINES} lines, {sum(kinds.values())} locations)",
        0,
        cycling(lambda d, w, c: plan(destination=d, wanted=w, candidates=c), loaded),
        args.rounds,
    )
    report(
        "route (load_candidates + plan)",
        len(queries),
        cycling(lambda d, w: route(city_id=city.pk, destination=d, wanted=w), orders),
        args.rounds,
    )
    for location_count, share in ((84, 2 / 5), (60, 1 / 5)):
        destination, wanted, candidates = synthetic_city(location_count, share)
        result = plan(destination=destination, wanted=wanted, candidates=candidates)
        report(
            f"plan (pure, {LINES} lines, {location_count} synthetic locations)",
            0,
            cycling(lambda d, w, c: plan(destination=d, wanted=w, candidates=c), [(destination, wanted, candidates)]),
            max(20, args.rounds // 10),
        )
        print(f"  {result.explanation['method']}: {result.explanation['notes'][0]}; {len(result.shipments)} shipments")


def draw_orders(city, product_ids: list[int], count: int):
    """Orders to addresses within 15 km of the centre, each of 50 products held in the city."""
    from stores.geo import GeoPoint

    rng = random.Random(SEED)
    orders = []
    for _ in range(count):
        bearing, km = rng.uniform(0, 2 * math.pi), 15 * math.sqrt(rng.random())
        destination = GeoPoint(
            float(city.latitude) + km * math.cos(bearing) / 111.195,
            float(city.longitude) + km * math.sin(bearing) / (111.195 * math.cos(math.radians(float(city.latitude)))),
        )
        orders.append((destination, {p: rng.randint(1, 3) for p in rng.sample(product_ids, LINES)}))
    return orders


def synthetic_city(location_count: int, share: float):
    """Locations each holding a random ``share`` of the 50 products, for the search's worst
    cases: 84 locations holding 2/5 each need 3 or more, and all C(84, 3) sets of 3 fit
    the exact search's budget; 60 holding 1/5 each need 5 or more, and C(60, 5) does not."""
    from stores.geo import GeoPoint
    from stores.routing import Candidate

    rng = random.Random(SEED)
    products = list(range(1, LINES + 1))
    destination = GeoPoint(31.2304, 121.4737)
    candidates = [
        Candidate(
            location_id=i,
            code=f"BIG{i:03d}",
            kind="store",
            point=GeoPoint(31.2304 + rng.uniform(-0.2, 0.2), 121.4737 + rng.uniform(-0.2, 0.2)),
            available={p: rng.randint(3, 50) for p in rng.sample(products, round(LINES * share))},
        )
        for i in range(location_count)
    ]
    return destination, {p: 2 for p in products}, candidates


def cycling(work, arguments):
    position = 0

    def step():
        nonlocal position
        work(*arguments[position % len(arguments)])
        position += 1

    return step


def report(label: str, queries: int, work, rounds: int) -> None:
    for _ in range(10):
        work()  # warm caches and the interpreter
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[math.ceil(len(timings) * 0.95) - 1]
    p99 = timings[math.ceil(len(timings) * 0.99) - 1]
    print(f"{label:<56} {queries:>8} {statistics.median(timings):>8.2f} {p95:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
