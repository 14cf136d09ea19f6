"""Catalogue read benchmark: stores nearest first, product list, product detail, barcode lookup.

Seeds a database with the demo data, starts gunicorn on a loopback port, logs in a demo
shopper through the sandbox, then drives each endpoint with concurrent clients for a
bounded number of requests and prints requests per second and latency percentiles. It
also prints the SQL queries each endpoint runs per request, measured in-process.

    .venv/bin/python bench/catalogue.py                    # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/catalogue.py                # PostgreSQL + Redis

Options: --requests N per endpoint (default 2000), --concurrency C (default 8),
--workers W gunicorn workers (default 2), --port P (default 8765).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

import common
import requests

sys.path.insert(0, str(common.ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    var_dir = os.environ.get("VAR_DIR") or tempfile.mkdtemp(prefix="bench-var-")
    base = f"http://127.0.0.1:{args.port}"
    env = common.configure_environment(
        base=base, var_dir=var_dir, extra={"THROTTLE_LOGIN": "100000/min", "THROTTLE_LOOKUP": "1000000/min"}
    )
    print(f"database: {env.get('DATABASE_URL', 'sqlite (' + var_dir + ')')}; cache: {env.get('REDIS_URL') or 'locmem'}")
    common.migrate_and_seed(env)

    import django

    django.setup()
    targets = pick_targets()
    print_query_counts(targets)

    with common.gunicorn(port=args.port, workers=args.workers, env=env):
        token = login(base)
        print(
            f"\nload: {args.requests} requests per endpoint, {args.concurrency} concurrent clients, "
            f"gunicorn {args.workers} sync workers, 2 cores shared with the load generator"
        )
        print(f"{'endpoint':<34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, path in targets["paths"].items():
            run_load(base, token, name, path, args.requests, args.concurrency)


def pick_targets() -> dict:
    from stores.models import Barcode, Location, Product, Stock

    store = Location.objects.filter(kind="store", active=True, city__code="shanghai").order_by("code").first()
    carried = Stock.objects.filter(location=store, product__barcodes__isnull=False).values_list("product_id", flat=True)
    barcode = Barcode.objects.filter(product_id__in=carried[:50]).order_by("id").first()
    product = Product.objects.order_by("id").first()
    return {
        "paths": {
            "stores nearest (page 20)": "/api/v1/stores?city=shanghai&lat=31.2304&lng=121.4737",
            "products list (page 20)": "/api/v1/products",
            "products search 'milk'": "/api/v1/products?search=milk",
            "product detail": f"/api/v1/products/{product.pk}",
            "barcode lookup at a store": f"/api/v1/stores/{store.pk}/products/lookup?barcode={barcode.code}",
        }
    }


def print_query_counts(targets: dict) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from miniprogram_api.accounts.models import Customer
    from miniprogram_api.accounts.tokens import issue_token

    shopper = Customer.objects.filter(is_staff=False).order_by("id").first()
    raw, _ = issue_token(customer=shopper)
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    print(f"\n{'endpoint':<34} {'queries/request':>16}")
    for name, path in targets["paths"].items():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:200])
        print(f"{name:<34} {len(ctx.captured_queries):>16}")


def login(base: str) -> str:
    code = requests.post(f"{base}/sandbox/wechat/login-codes", json={"shopper": "bench"}, timeout=10).json()["code"]
    response = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": code}, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def run_load(base: str, token: str, name: str, path: str, total: int, concurrency: int) -> None:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                ok = session.get(base + path, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors += 0 if ok else 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    print(f"{name:<34} {total / wall:>8.0f} {q[49] * 1000:>8.1f} {q[94] * 1000:>8.1f} {q[98] * 1000:>8.1f} {errors:>7}")


if __name__ == "__main__":
    main()
