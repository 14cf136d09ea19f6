"""Scan throughput: many shoppers scanning into their baskets at once, against a ceiling.

Seeds the demo data, opens a basket for each of N shoppers at one store, starts gunicorn,
then drives with ``wrk`` (Debian package ``wrk``):

1. the ceiling: ``GET /api/v1/me``, the cheapest authenticated endpoint (token check only);
2. ``POST /api/v1/baskets/{id}/scan``: each request is a random shopper scanning one of
   the store's products, so baskets grow and lines merge under real row locks. Baskets
   grow all round, so the faster the server, the bigger they get (40-60 lines); with
   ``--trip N`` shoppers instead walk in, scan N items one after another (interleaved
   with the other shoppers in the store) and leave, so baskets hold 1 to N lines whatever
   the speed.

The database is made to look like one that has been running: each shopper has finished
trips behind them (``--history`` expired baskets of 15 lines each), and between rounds the
emptied baskets' dead rows are vacuumed and the statistics refreshed, as autovacuum does
(run this against a PostgreSQL with autovacuum on or off: the bench does its work either
way). Without that history the first statements of every connection were planned for an
empty lines table, and prepared statements kept those plans (a scan of the whole table)
for the connection's life.

The load generator, the server and the database share the machine, whose speed drifts by
a third within minutes with whatever else it runs; two back-to-back runs would compare the
endpoints as much as the moments. So each of ``--rounds`` rounds interleaves the two in
``--slice``-second slices (me, scan, scan, me, ...) until each has had ``--duration``
seconds, and a round's figures sum its slices: requests per second over the whole time,
p50 the median of the slices', p99 the worst slice's. It prints every round, the CPU each
request cost the server, the database, Redis and the load generator (from ``/proc``, so
Linux, and nothing else busy), the median ratio, and the SQL statements each request runs,
counted in-process. Use PostgreSQL, as production does:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_scan REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/scan.py --shoppers 200 --duration 20 --connections 32 --workers 4 --rounds 3

The database named in DATABASE_URL is dropped and recreated. Loopback only; bounded by
``2 x --rounds x --duration``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import common

sys.path.insert(0, str(common.ROOT))

LUA = """
local shoppers = {SHOPPERS}
local barcodes = {BARCODES}
math.randomseed(os.time() + (tonumber(tostring({}):sub(8)) or 0))
request = function()
  local s = shoppers[math.random(#shoppers)]
  local b = barcodes[math.random(#barcodes)]
  return wrk.format("POST", "/api/v1/baskets/" .. s[2] .. "/scan",
    {["Authorization"] = "Bearer " .. s[1], ["Content-Type"] = "application/json"},
    '{"barcode": "' .. b .. '"}')
end
"""
# ``--trip``: each wrk thread keeps ``ACTIVE`` shoppers walking the aisles at once and sends
# each request for the next of them in turn; a shopper scans ``TRIP`` items (drawn at
# random, so a few are scanned twice) and leaves, and the next shopper from this slice's
# list walks in with an empty basket. So every basket grows from 1 to ``TRIP`` lines, however
# fast the server is. Each slice gets shoppers of its own (``SHOPPERS``), split between the
# threads; a thread that runs out starts its list again.
TRIP_LUA = """
local shoppers = {SHOPPERS}
local barcodes = {BARCODES}
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
init = function(args)
  queue, nexti, active, turn = {}, 1, {}, 0
  for i = id + 1, #shoppers, {THREADS} do queue[#queue + 1] = shoppers[i] end
  math.randomseed(os.time() + id * 7919)
  for a = 1, {ACTIVE} do active[a] = arrive() end
end
arrive = function()
  local shopper = queue[nexti]
  nexti = nexti % #queue + 1
  return {shopper = shopper, left = {TRIP}}
end
request = function()
  turn = turn % #active + 1
  if active[turn].left == 0 then active[turn] = arrive() end
  local t = active[turn]
  t.left = t.left - 1
  local b = barcodes[math.random(#barcodes)]
  return wrk.format("POST", "/api/v1/baskets/" .. t.shopper[2] .. "/scan",
    {["Authorization"] = "Bearer " .. t.shopper[1], ["Content-Type"] = "application/json"},
    '{"barcode": "' .. b .. '"}')
end
"""
# No ``response`` function in the scripts: wrk would copy every body into Lua for it (the
# scan's is the whole basket, 10 KB), load-generator CPU taken from the shared cores.
# wrk counts non-2xx answers itself.

ME_LUA = """
local tokens = {TOKENS}
request = function()
  return wrk.format("GET", "/api/v1/me", {["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]})
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--history", type=int, default=10, help="finished baskets per shopper")
    parser.add_argument(
        "--trip", type=int, default=0, help="items per shopper's trip (0: random shoppers, baskets grow all round)"
    )
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slice", type=int, default=5, help="seconds per interleaved slice")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    var_dir = tempfile.mkdtemp(prefix="bench-scan-")
    base = f"http://127.0.0.1:{args.port}"
    env = common.configure_environment(base=base, var_dir=var_dir, extra={"THROTTLE_LOOKUP": "10000000/min"})
    common.recreate_database(env.get("DATABASE_URL", ""))
    common.migrate_and_seed(env)

    import django

    django.setup()
    shoppers, barcodes, store = prepare(args.shoppers, args.products, args.history)
    print(f"database: {env.get('DATABASE_URL') or 'sqlite'}; cache: {env.get('REDIS_URL') or 'locmem'}")
    print(
        f"{len(shoppers)} shoppers with open baskets at {store}, {len(barcodes)} products"
        + (f", trips of {args.trip} scans; " if args.trip else ", random shoppers; ")
        + f"{args.history} finished baskets per shopper; "
        f"gunicorn {args.workers} sync workers; wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s of each endpoint per round in {args.slice} s slices; "
        "2 cores shared by server, database and load generator"
    )

    lua_dir = Path(var_dir)
    load = {"threads": args.threads, "connections": args.connections, "duration": args.slice}
    slices = max(1, args.duration // args.slice)
    (lua_dir / "me.lua").write_text(ME_LUA.replace("{TOKENS}", common.lua_list([t for t, _ in shoppers])))
    for n in range(slices):
        if args.trip:  # each slice its own shoppers
            share = len(shoppers) // slices
            script = TRIP_LUA.replace("{SHOPPERS}", lua_shoppers(shoppers[n * share : (n + 1) * share]))
            active = max(1, 2 * args.connections // args.threads)
            script = script.replace("{THREADS}", str(args.threads)).replace("{ACTIVE}", str(active))
            script = script.replace("{TRIP}", str(args.trip))
        else:
            script = LUA.replace("{SHOPPERS}", lua_shoppers(shoppers))
        (lua_dir / f"scan-{n}.lua").write_text(script.replace("{BARCODES}", common.lua_list(barcodes)))
    runs = []
    with common.gunicorn(port=args.port, workers=args.workers, env=env) as master:
        meter = CpuMeter(master)
        for _ in range(args.rounds):
            empty_baskets()  # every round the same trip: baskets grow from nothing
            taken = {"me": [], "scan": []}
            for n in range(slices):
                # ABBA order, so a steady drift in the machine's speed favours neither
                for name in ("me", "scan") if n % 2 == 0 else ("scan", "me"):
                    script = lua_dir / ("me.lua" if name == "me" else f"scan-{n}.lua")
                    with meter.measure() as cpu:
                        result = common.run_wrk(base, script, **load)
                    taken[name].append({**result, "cpu": cpu})
            runs.append((combine(taken["me"]), combine(taken["scan"]), basket_sizes()))

    print(f"\n{'round':<6} {'endpoint':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for n, (ceiling, scan, _) in enumerate(runs, 1):
        for name, result in (("GET /api/v1/me (ceiling)", ceiling), ("POST /baskets/{id}/scan", scan)):
            print(
                f"{n:<6} {name:<32} {result['rps']:>9.0f} {result['p50']:>8.1f} {result['p99']:>8.1f} "
                f"{result['errors']:>8}"
            )
    for n, (_, _, sizes) in enumerate(runs, 1):
        print(f"round {n}: baskets ended with {sizes}")
    parts = (*CpuMeter.PARTS, "total")
    print(f"\nCPU per request, ms\n{'round':<6} {'endpoint':<32} " + " ".join(f"{part:>8}" for part in parts))
    for n, (ceiling, scan, _) in enumerate(runs, 1):
        for name, result in (("GET /api/v1/me (ceiling)", ceiling), ("POST /baskets/{id}/scan", scan)):
            ms = {part: spent / result["requests"] * 1000 for part, spent in result["cpu"].items()}
            ms["total"] = sum(ms.values())
            print(f"{n:<6} {name:<32} " + " ".join(f"{ms[part]:>8.2f}" for part in parts))
    ratios = [scan["rps"] / ceiling["rps"] for ceiling, scan, _ in runs]
    print(f"\nscan / ceiling by round: {', '.join(f'{r:.0%}' for r in ratios)}")
    print(f"scan throughput = {statistics.median(ratios):.0%} of the ceiling, median (target: at least 50%)")
    print_statements(shoppers[0], barcodes[0])


def lua_shoppers(shoppers: list[tuple[str, int]]) -> str:
    """A Lua table of ``{token, basket_id}`` pairs."""
    return "{" + ",".join(f"{{{json.dumps(token)}, {basket_id}}}" for token, basket_id in shoppers) + "}"


def combine(slices: list[dict]) -> dict:
    """One endpoint's figures over a round's slices (see the module docstring)."""
    return {
        "rps": sum(s["requests"] for s in slices) / sum(s["seconds"] for s in slices),
        "p50": statistics.median(s["p50"] for s in slices),
        "p99": max(s["p99"] for s in slices),
        "errors": sum(s["errors"] for s in slices),
        "requests": sum(s["requests"] for s in slices),
        "cpu": {part: sum(s["cpu"][part] for s in slices) for part in CpuMeter.PARTS},
    }


class CpuMeter:
    """CPU seconds each part of the setup spends during a block: gunicorn's workers, every
    PostgreSQL and Redis process on the machine (so run nothing else), and the load
    generator (wrk, this process's child). Divided by requests, it says which part a
    request's cost is in, which the ratio alone does not."""

    PARTS = ("gunicorn", "postgres", "redis", "wrk")

    def __init__(self, master: int):
        self.master = master

    def _now(self) -> dict[str, dict[int, float]]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "gunicorn": common.cpu_seconds(common.process_ids(parent=self.master)),
            "postgres": common.cpu_seconds(common.process_ids(name="postgres")),
            "redis": common.cpu_seconds(common.process_ids(name="redis-server")),
            "wrk": {0: children.ru_utime + children.ru_stime},
        }

    @contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        """Per part, what its processes used; one that ended during the block (an
        autovacuum worker) loses its share, one that started counts whole."""
        spent: dict[str, float] = {}
        before = self._now()
        yield spent
        after = self._now()
        for part in self.PARTS:
            spent[part] = sum(used - before[part].get(pid, 0.0) for pid, used in after[part].items())


def prepare(n_shoppers: int, n_products: int, history: int):
    from checkout.models import Basket
    from miniprogram_api.accounts.models import Customer
    from miniprogram_api.accounts.tokens import issue_token
    from miniprogram_api.core import clock
    from stores.models import Barcode, Location, Stock

    store = Location.objects.filter(kind="store", active=True, scan_and_go_enabled=True).order_by("code").first()
    # Bench only: a store open around the clock, so the run does not depend on the hour.
    Location.objects.filter(pk=store.pk).update(opens_at="00:00", closes_at="00:00")
    carried = Stock.objects.filter(location=store, product__sold_by_weight=False).values_list("product_id", flat=True)
    barcodes = list(
        Barcode.objects.filter(product_id__in=carried)
        .order_by("product_id")
        .values_list("code", flat=True)[:n_products]
    )
    shoppers = []
    for i in range(n_shoppers):
        customer = Customer.objects.create_user(username=f"bench-{i}", openid=f"o-bench-{i:05d}", wechat_appid="bench")
        raw, _ = issue_token(customer=customer)
        basket = Basket.objects.create(customer=customer, store=store, updated_at=clock.now())
        shoppers.append((raw, basket.pk))
    add_history(store_id=store.pk, baskets_per_shopper=history)
    return shoppers, barcodes, store.code


HISTORY_SQL = """
    WITH trips AS (
        INSERT INTO checkout_basket (customer_id, store_id, status, created_at, updated_at)
        SELECT b.customer_id, b.store_id, 'expired', now() - interval '1 day', now() - interval '1 day'
        FROM checkout_basket b, generate_series(1, %(per_shopper)s)
        WHERE b.store_id = %(store_id)s AND b.status = 'open'
        RETURNING id, store_id
    )
    INSERT INTO checkout_basketline (basket_id, product_id, kind, barcode, quantity, created_at)
    SELECT t.id, s.product_id, 'unit', s.code, 1, now() - interval '1 day'
    FROM trips t
    -- t.id in the subquery: 15 products drawn per trip, not once per store and reused
    CROSS JOIN LATERAL (
        SELECT st.product_id, min(b.code) AS code
        FROM stores_stock st JOIN stores_barcode b ON b.product_id = st.product_id
        WHERE st.location_id = t.store_id AND t.id > 0
        GROUP BY st.product_id ORDER BY random() LIMIT 15
    ) s
"""


def add_history(*, store_id: int, baskets_per_shopper: int) -> None:
    """Finished trips for every shopper (expired baskets of 15 lines), as a database that has
    been running holds: lines are never deleted, so the table is never near empty."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(HISTORY_SQL, {"store_id": store_id, "per_shopper": baskets_per_shopper})
    autovacuum()


def autovacuum() -> None:
    """What autovacuum would do after the bench empties its baskets: dead rows vacuumed,
    statistics refreshed (on PostgreSQL; nothing on SQLite)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) checkout_basket, checkout_basketline")


def empty_baskets() -> None:
    """The shoppers' open baskets emptied (their finished ones stay), then vacuumed."""
    from checkout.models import BasketLine

    BasketLine.objects.filter(basket__status="open").delete()
    autovacuum()


def basket_sizes() -> str:
    """What the round's scans left: lines per basket (mean and largest) and units in all."""
    from django.db.models import Count, Max, Sum

    from checkout.models import Basket, BasketLine

    per_basket = Basket.objects.filter(status="open").annotate(n=Count("lines")).aggregate(biggest=Max("n"))
    totals = BasketLine.objects.filter(basket__status="open").aggregate(
        lines=Count("id"), units=Sum("quantity"), baskets=Count("basket", distinct=True)
    )
    mean = totals["lines"] / max(totals["baskets"], 1)
    return (
        f"{mean:.0f} lines on average, at most {per_basket['biggest']} "
        f"({totals['lines']} lines, {totals['units']} units)"
    )


def print_statements(shopper: tuple[str, int], barcode: str) -> None:
    """The SQL statements Django runs for each request (BEGIN and COMMIT included; not the
    connection health check), counted in-process on the same database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    token, basket_id = shopper
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    requests_ = {
        "GET /api/v1/me": lambda: client.get("/api/v1/me"),
        "POST /baskets/{id}/scan": lambda: client.post(
            f"/api/v1/baskets/{basket_id}/scan", {"barcode": barcode}, format="json"
        ),
    }
    print(f"\n{'endpoint':<32} {'statements/request':>19}")
    for name, send in requests_.items():
        send()  # warm: the first request of a process builds what it keeps (the live-deals index)
        with CaptureQueriesContext(connection) as ctx:
            response = send()
        assert response.status_code == 200, (name, response.status_code, response.content[:200])
        print(f"{name:<32} {len(ctx.captured_queries):>19}")


if __name__ == "__main__":
    main()
