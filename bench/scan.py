"""Scan throughput: many shoppers scanning into their baskets at once, against a ceiling.

Seeds the demo data, opens a basket for each of N shoppers at one store, starts gunicorn,
then drives with ``wrk`` (Debian package ``wrk``):

1. the ceiling: ``GET /api/v1/me``, the cheapest authenticated endpoint (token check only);
2. ``POST /api/v1/baskets/{id}/scan``: each request is a random shopper scanning one of
   the store's products, so baskets grow and lines merge under real row locks.

It prints requests per second and p50/p99 latency for both, and the ratio. Use
PostgreSQL, as production does:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_scan REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/scan.py --shoppers 200 --duration 20 --connections 32 --workers 4

The database named in DATABASE_URL is dropped and recreated. Loopback only; bounded by
``--duration``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
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
local non2xx = 0
response = function(status, headers, body)
  if status >= 300 then non2xx = non2xx + 1 end
end
"""

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
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
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
    shoppers, barcodes, store = prepare(args.shoppers, args.products)
    print(f"database: {env.get('DATABASE_URL') or 'sqlite'}; cache: {env.get('REDIS_URL') or 'locmem'}")
    print(
        f"{len(shoppers)} shoppers with open baskets at {store}, {len(barcodes)} products; "
        f"gunicorn {args.workers} sync workers; wrk {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s per run; 2 cores shared by server, database and load generator"
    )

    lua_dir = Path(var_dir)
    shoppers_lua = "{" + ",".join(f"{{{json.dumps(t)}, {b}}}" for t, b in shoppers) + "}"
    (lua_dir / "me.lua").write_text(ME_LUA.replace("{TOKENS}", common.lua_list([t for t, _ in shoppers])))
    scan_lua = LUA.replace("{SHOPPERS}", shoppers_lua).replace("{BARCODES}", common.lua_list(barcodes))
    (lua_dir / "scan.lua").write_text(scan_lua)

    load = {"threads": args.threads, "connections": args.connections, "duration": args.duration}
    with common.gunicorn(port=args.port, workers=args.workers, env=env):
        ceiling = common.run_wrk(base, lua_dir / "me.lua", **load)
        scan = common.run_wrk(base, lua_dir / "scan.lua", **load)

    print(f"\n{'endpoint':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, result in (("GET /api/v1/me (ceiling)", ceiling), ("POST /baskets/{id}/scan", scan)):
        print(f"{name:<32} {result['rps']:>9.0f} {result['p50']:>8.1f} {result['p99']:>8.1f} {result['errors']:>8}")
    print(f"\nscan throughput = {scan['rps'] / ceiling['rps']:.0%} of the ceiling (target: at least 50%)")
    check_baskets()


def prepare(n_shoppers: int, n_products: int):
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
    return shoppers, barcodes, store.code


def check_baskets() -> None:
    from django.db.models import Count, Max, Sum

    from checkout.models import BasketLine

    totals = BasketLine.objects.aggregate(lines=Count("id"), units=Sum("quantity"), biggest=Max("quantity"))
    print(
        f"afterwards: {totals['lines']} basket lines holding {totals['units']} units; largest line {totals['biggest']}"
    )


if __name__ == "__main__":
    main()
