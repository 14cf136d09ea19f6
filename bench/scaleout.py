"""Scale-out: two API processes and two Celery workers with one beat, against one
PostgreSQL and one Redis, driven by many shoppers at once; then the invariants.

What runs (all on loopback):

* two API processes (gunicorn, sync workers) on ``--port`` and ``--port + 1``; each has
  its own ``PUBLIC_BASE_URL``, so the providers notify the process that created a trade;
* the payment and WeChat sandbox in a third gunicorn (``--port + 2``, threaded), as the
  providers are outside our processes: a confirm there waits on our notification handler
  while our checkouts wait on the provider, so sharing sync workers would deadlock;
* two Celery workers (prefork, ``--worker-concurrency`` each) and one ``celery beat``, on a
  queue of their own (``<CACHE_KEY_PREFIX>-scaleout``, the prefix ``bench`` unless set, and
  the cache keys under that prefix) in a Redis that may be shared, with the
  fulfilment jobs every 2 s (``PICK_LISTS_EVERY_SECONDS``, ``DISPATCH_EVERY_SECONDS``).

``--shoppers`` threads each log in through the sandbox, then loop until ``--duration``
is up over three journeys (``scaleout_journeys``): scan & pay, delivery and gift cards
(buy, share, claim, spend), sending each request to the two API processes in turn. Then:

1. the paid orders settle (every after-payment job done);
2. every paid delivery order is made due now (the city's cut-off passed, its slot starting
   within the next hour; as ``make_due_now`` in the fulfilment tests) and beat's pick-list
   and dispatch jobs, run by the two workers, dispatch them;
3. the processes stop and the invariants are checked in the database
   (``scaleout_invariants``), each printed PASS or FAIL; the exit status is 1 if any fails.

It prints journeys and requests per second, latency percentiles per journey step, how each
journey ended, the tasks each worker ran, CPU seconds per process group, peak PostgreSQL
connections and the Redis keys of the run. Needs PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_scaleout REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/scaleout.py --duration 45 --shoppers 60

The database named in DATABASE_URL is dropped and recreated and seeded with the demo data
(``seed_demo``, ``seed_demo_promotions``, ``seed_demo_delivery``). Bench only: the city's
scan & go stores are open around the clock; its locations take ``--slot-capacity`` orders
per slot and the live flash-sale items have ``--flash-quota`` units, small so that shoppers
contend for them; and when the dispatch step needs it the city's couriers take more
shipments per slot. Loopback only; bounded by ``--duration`` plus the settling timeouts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import common
import scaleout_invariants
import scaleout_journeys
import scaleout_measure
from scaleout_measure import Sampler

sys.path.insert(0, str(common.ROOT))

RADIUS_KM = 12
DUE_WINDOWS = 11  # windows starting 5, 10, ... 55 minutes from now: all within the dispatch lead


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=45, help="seconds during which journeys start")
    parser.add_argument("--shoppers", type=int, default=60, help="concurrent shoppers (threads)")
    parser.add_argument("--mix", default="scan_and_pay=5,delivery=3,gift_card=2", help="journey weights")
    parser.add_argument("--api-workers", type=int, default=3, help="gunicorn sync workers per API process")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="prefork processes per Celery worker")
    parser.add_argument("--city", default="shanghai")
    parser.add_argument(
        "--slot-capacity", type=int, default=3, help="orders per slot at each of the city's locations (contention)"
    )
    parser.add_argument("--flash-quota", type=int, default=12, help="units of each live flash-sale item (contention)")
    parser.add_argument("--settle-timeout", type=int, default=150, help="seconds to wait for payments and dispatch")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8781, help="API 1; API 2 and the sandbox take the next two")
    args = parser.parse_args()
    mix = {name: float(weight) for name, weight in (part.split("=") for part in args.mix.split(","))}

    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("scale-out needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL")
    shown = {name: os.environ[name] for name in ("DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX") if name in os.environ}
    prefix = os.environ.get("CACHE_KEY_PREFIX", "bench")
    queue = f"{prefix}-scaleout"
    var_dir = tempfile.mkdtemp(prefix="bench-scaleout-")
    apis = [f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"]
    sandbox = f"http://127.0.0.1:{args.port + 2}"
    env = common.configure_environment(
        base=apis[0],
        var_dir=var_dir,
        extra={
            "CACHE_KEY_PREFIX": prefix,
            "CELERY_QUEUE": queue,
            "WECHAT_API_BASE_URL": f"{sandbox}/sandbox/wechat",
            "WECHATPAY_BASE_URL": f"{sandbox}/sandbox/wechatpay",
            "ALIPAY_GATEWAY_URL": f"{sandbox}/sandbox/alipay/gateway.do",
            # Every shopper comes from 127.0.0.1: the per-IP login throttle would refuse them.
            "THROTTLE_LOGIN": "1000000/min",
            "THROTTLE_LOOKUP": "1000000/min",
            "PICK_LISTS_EVERY_SECONDS": "2",
            "DISPATCH_EVERY_SECONDS": "2",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": os.devnull,
        },
    )
    python = Path(sys.executable)
    python = python.relative_to(common.ROOT) if python.is_relative_to(common.ROOT) else python
    print("command:", shlex.join([*(f"{k}={v}" for k, v in shown.items()), str(python), *sys.argv]))
    print(f"database: {database_url}; redis: {redis_url}, key prefix {prefix!r}, queue {queue!r}")
    common.recreate_database(database_url)
    common.migrate_and_seed(env)
    for command in ("seed_demo_promotions", "seed_demo_delivery"):
        subprocess.run(
            [sys.executable, "manage.py", command, "-v0"],
            cwd=common.ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    import django

    django.setup()
    plan_parts, reserved_before = prepare(
        args.city, args.shoppers, args.seed, slot_capacity=args.slot_capacity, flash_quota=args.flash_quota
    )
    purge(queue)
    print(
        f"city {args.city}: {len(plan_parts['stores'])} scan & go stores, "
        f"{sum(len(b) for b in plan_parts['barcodes'].values())} store barcodes, "
        f"{len(plan_parts['delivery_products'])} delivery products, {len(plan_parts['flash_products'])} on a live "
        f"flash sale; {args.shoppers} shoppers, mix {mix}; "
        f"2 API processes x {args.api_workers} gunicorn sync workers, sandbox 2 workers x 12 threads, "
        f"2 Celery workers x {args.worker_concurrency} (prefork) + 1 beat; "
        f"{os.cpu_count()} cores shared by everything, load generator included"
    )

    logs = Path(var_dir)
    with ExitStack() as stack:
        # Threads: the providers are not our bottleneck, and a confirm waits on our notify
        # while our checkouts wait on the provider.
        sandbox_pid = stack.enter_context(
            gunicorn(port=args.port + 2, workers=2, threads=12, env={**env, "DB_CONN_MAX_AGE": "0"})
        )
        api_pids = [
            stack.enter_context(
                gunicorn(port=args.port + i, workers=args.api_workers, env={**env, "PUBLIC_BASE_URL": base})
            )
            for i, base in enumerate(apis)
        ]
        worker_env = {**env, "LOG_LEVEL": "INFO"}
        workers = [
            stack.enter_context(
                celery(
                    [
                        *("worker", "-n", f"scaleout{i}@%h", "--concurrency", str(args.worker_concurrency)),
                        *("--without-gossip", "--without-mingle", "--loglevel", "INFO"),
                    ],
                    env=worker_env,
                    log=logs / f"worker{i}.log",
                )
            )
            for i in (1, 2)
        ]
        beat = stack.enter_context(celery(["beat", "--loglevel", "INFO"], env=worker_env, log=logs / "beat.log"))
        for log in (logs / "worker1.log", logs / "worker2.log"):
            wait_for_line(log, " ready.", seconds=60)

        groups = {
            "API 1": [api_pids[0]],
            "API 2": [api_pids[1]],
            "Celery workers": workers,
            "beat": [beat],
            "sandbox (the providers)": [sandbox_pid],
        }
        sampler = Sampler(database_url.rsplit("/", 1)[1], groups)
        sampler.start()
        plan = scaleout_journeys.Plan(
            apis=apis, sandbox=sandbox, mix=mix, deadline=time.monotonic() + args.duration, **plan_parts
        )
        own_cpu = time.process_time()
        recorder, pool, wall = scaleout_journeys.drive(plan, shoppers=args.shoppers, seed=args.seed)
        own_cpu = time.process_time() - own_cpu
        cpu = sampler.stop()
        print(f"\nload: {wall:.1f} s (journeys start for {args.duration} s; those under way finish)")
        busy, available = sampler.machine
        print(
            f"machine during the load: {busy:.0f} of {available:.0f} core-seconds busy, "
            f"{sum(cpu.values()) + own_cpu:.0f} of them this run's processes (the rest: other work on the machine)"
        )

        settled = wait_until(paid_orders_settled, seconds=args.settle_timeout)
        print(
            f"after payment: every paid order's job done {settled:.1f} s after the load"
            if settled is not None
            else f"after payment: jobs still not done after {args.settle_timeout} s"
        )
        due = make_paid_shipments_due(args.city)
        dispatched = wait_until(paid_shipments_dispatched, seconds=args.settle_timeout)
        print(
            f"dispatch: {due['orders']} paid delivery orders ({due['shipments']} shipments) made due in "
            f"{DUE_WINDOWS} windows of the next hour (couriers' slot capacity {due['courier_capacity']}); "
            + (
                f"all dispatched by beat {dispatched:.1f} s later"
                if dispatched is not None
                else f"NOT all dispatched after {args.settle_timeout} s"
            )
        )
        redis_keys = scaleout_measure.redis_usage(redis_url, prefix, queue)
    tasks = {f"worker {i}": scaleout_measure.tasks_run(logs / f"worker{i}.log") for i in (1, 2)}
    purge(queue)

    report(recorder, wall=wall, cpu=cpu, own_cpu=own_cpu, sampler=sampler, tasks=tasks, redis_keys=redis_keys)
    print(f"unclaimed shares left in the pool: {len(pool)}")
    checks = scaleout_invariants.run_all(reserved_before=reserved_before, confirmed=recorder.confirmed)
    checks.insert(0, no_server_errors(recorder))
    print("\ninvariants")
    for name, passed, detail in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {detail}")
    failed = [name for name, passed, _ in checks if not passed]
    print(f"\n{len(checks) - len(failed)} of {len(checks)} checks passed" + (f"; FAILED: {failed}" if failed else ""))
    print(f"logs of the workers and beat: {logs}")
    return 1 if failed else 0


# --- Preparing the data -----------------------------------------------------------------


def prepare(city_code: str, shoppers: int, seed: int, *, slot_capacity: int, flash_quota: int):
    """The stores, barcodes and delivery products the shoppers use, one address point per
    shopper; and the stock reserved before the run, per (location, product).

    Small slot capacities and flash-sale quotas, so that shoppers contend for them within a
    short run."""
    from miniprogram_api.core import clock
    from promotions.models import FlashSaleItem
    from stores.models import Barcode, City, Location, Stock

    city = City.objects.get(code=city_code)
    stores = Location.objects.filter(city=city, kind="store", active=True, scan_and_go_enabled=True).order_by("code")
    # Bench only: open around the clock, so the run does not depend on the hour.
    stores.update(opens_at="00:00", closes_at="00:00")
    Location.objects.filter(city=city).update(slot_capacity=slot_capacity)
    now = clock.now()
    live = FlashSaleItem.objects.filter(sale__starts_at__lte=now, sale__ends_at__gt=now)
    live.update(quota=flash_quota)
    flash = set(live.values_list("product_id", flat=True))
    barcodes, flash_barcodes = {}, {}
    for store in stores:
        carried = Stock.objects.filter(
            location=store, product__sold_by_weight=False, product__active=True, on_hand__gt=0
        )
        barcodes[store.pk] = sorted(
            set(
                Barcode.objects.filter(product_id__in=carried.values("product_id"))
                .order_by("product_id")
                .values_list("code", flat=True)
            )
        )
        flash_barcodes[store.pk] = sorted(
            Barcode.objects.filter(
                product_id__in=carried.filter(product_id__in=flash).values("product_id")
            ).values_list("code", flat=True)
        )
    held = (
        Stock.objects.filter(
            location__city=city,
            location__active=True,
            product__active=True,
            product__sold_by_weight=False,
            on_hand__gt=0,
        )
        .values_list("product_id", flat=True)
        .distinct()
        .order_by("product_id")
    )
    rng = random.Random(seed)
    addresses = []
    for _ in range(shoppers):
        bearing, km = rng.uniform(0, 2 * math.pi), RADIUS_KM * math.sqrt(rng.random())
        lat = float(city.latitude) + km * math.cos(bearing) / 111.195
        lng = float(city.longitude) + km * math.sin(bearing) / (111.195 * math.cos(math.radians(float(city.latitude))))
        addresses.append((float(Decimal(f"{lat:.6f}")), float(Decimal(f"{lng:.6f}"))))
    reserved_before = {
        (loc, product): units
        for loc, product, units in Stock.objects.filter(reserved__gt=0).values_list(
            "location_id", "product_id", "reserved"
        )
    }
    parts = {
        "city": city.code,
        "stores": [store.pk for store in stores],
        "barcodes": barcodes,
        "flash_barcodes": flash_barcodes,
        "delivery_products": list(held),
        "flash_products": sorted(flash & set(held)),
        "addresses": addresses,
    }
    return parts, reserved_before


# --- Processes ---------------------------------------------------------------------------


@contextmanager
def gunicorn(*, port: int, workers: int, env: dict[str, str], threads: int = 1):
    """``common.gunicorn``, yielding the master's pid for the CPU accounting."""
    before = set(scaleout_measure.children(os.getpid()))
    with common.gunicorn(port=port, workers=workers, env=env, threads=threads):
        started = [pid for pid in scaleout_measure.children(os.getpid()) if pid not in before]
        yield started[0]


@contextmanager
def celery(arguments: list[str], *, env: dict[str, str], log: Path):
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "miniprogram_api", *arguments],
            cwd=common.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process.pid
        finally:
            process.terminate()  # warm shutdown: tasks under way finish
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_for_line(log: Path, text: str, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.3)
    raise SystemExit(f"{log.name}: no {text!r} within {seconds} s:\n{log.read_text(errors='replace')[-3000:]}")


def purge(queue: str) -> None:
    from miniprogram_api.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


# --- Settling, and making delivery orders due ---------------------------------------------


def wait_until(condition, *, seconds: float) -> float | None:
    """Seconds until ``condition()`` held, or None after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def paid_orders_settled() -> bool:
    from checkout.after_payment_models import AfterPaymentJob

    return not AfterPaymentJob.objects.filter(done_at__isnull=True).exists()


def paid_shipments_dispatched() -> bool:
    from checkout.delivery_models import Shipment

    return not (
        Shipment.objects.filter(order__channel="delivery", order__state="paid").exclude(status="dispatched").exists()
    )


def make_paid_shipments_due(city_code: str) -> dict:
    """The city's cut-off has passed and every paid delivery order's slot starts within the
    next hour (the dispatch lead): beat's jobs pick and dispatch them now. The orders are
    spread over ``DUE_WINDOWS`` windows; the couriers' slot capacity is raised only if the
    busiest window would not fit the city's couriers."""
    from django.db.models import Count
    from django.utils import timezone

    from checkout.delivery_models import Courier, Shipment
    from checkout.models import Order
    from miniprogram_api.core import clock
    from stores.models import City

    City.objects.filter(code=city_code).update(delivery_cutoff=dt.time(0, 0))
    orders = list(Order.objects.filter(channel="delivery", state="paid").order_by("pk").values_list("pk", flat=True))
    now = clock.now()
    busiest = 0
    for k in range(DUE_WINDOWS):
        ids = orders[k::DUE_WINDOWS]
        start = timezone.localtime(now + dt.timedelta(minutes=5 * (k + 1)))
        window = f"{start:%H:%M}-{start + dt.timedelta(hours=3):%H:%M}"
        Order.objects.filter(pk__in=ids).update(slot_date=start.date(), slot=window)
        Shipment.objects.filter(order_id__in=ids).update(slot_date=start.date(), slot=window)
        busiest = max(busiest, Shipment.objects.filter(order_id__in=ids).count())
    couriers = Courier.objects.filter(city__code=city_code, active=True)
    count = couriers.count()
    capacity = max(couriers.values_list("slot_capacity", flat=True), default=0)
    if count and busiest > count * capacity:
        capacity = math.ceil(busiest / count)
        couriers.update(slot_capacity=capacity)
    shipments = Shipment.objects.filter(order_id__in=orders).aggregate(n=Count("pk"))["n"]
    return {"orders": len(orders), "shipments": shipments, "courier_capacity": capacity}


# --- Reporting ---------------------------------------------------------------------------


def no_server_errors(recorder) -> tuple[str, bool, str]:
    errors = Counter()
    for (_, step, status, code), n in recorder.statuses.items():
        if status == 0 or status >= 500:
            errors[f"{step} {status} {code}".strip()] += n
    return (
        "no 5xx answers and no dropped requests",
        not errors,
        f"{recorder.requests} requests; 5xx or no answer: {sum(errors.values())} {dict(errors)}",
    )


def report(recorder, *, wall: float, cpu: dict, own_cpu: float, sampler: Sampler, tasks: dict, redis_keys: dict):
    completed = {journey: len(times) for journey, times in recorder.durations.items()}
    total = sum(completed.values())
    api_requests = sum(n for (journey, step, status, code), n in recorder.statuses.items() if "(sandbox)" not in step)
    print(
        f"\njourneys completed: {total} in {wall:.1f} s = {total / wall:.1f}/s "
        f"({', '.join(f'{j} {n} = {n / wall:.1f}/s' for j, n in sorted(completed.items()))})"
    )
    print(
        f"requests: {recorder.requests} = {recorder.requests / wall:.0f}/s "
        f"(to the two API processes {api_requests} = {api_requests / wall:.0f}/s, the rest to the sandbox)"
    )
    print(f"\n{'journey':<13} {'step':<24} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'not 2xx':>8}")
    for (journey, step), times in recorder.timings.items():
        ordered = sorted(times)
        not_ok = sum(
            n
            for (j, s, status, _), n in recorder.statuses.items()
            if (j, s) == (journey, step) and not 200 <= status < 300
        )
        print(
            f"{journey:<13} {step:<24} {len(ordered):>6} {statistics.median(ordered):>8.1f} "
            f"{_pct(ordered, 0.95):>8.1f} {_pct(ordered, 0.99):>8.1f} {not_ok:>8}"
        )
    print(f"\n{'journey':<13} {'whole journey':<24} {'n':>6} {'p50 s':>8} {'p95 s':>8}")
    for journey, seconds in sorted(recorder.durations.items()):
        ordered = sorted(seconds)
        print(
            f"{journey:<13} {'completed':<24} {len(ordered):>6} {statistics.median(ordered):>8.2f} "
            f"{_pct(ordered, 0.95):>8.2f}"
        )
    print("\nhow journeys ended:")
    for (journey, outcome), n in sorted(recorder.outcomes.items()):
        print(f"  {journey:<13} {outcome:<60} {n:>6}")
    print("\ntasks run:")
    for worker, runs in tasks.items():
        print(f"  {worker}: {sum(runs.values())} {dict(sorted(runs.items()))}")
    print("\nCPU seconds during the load (ms per completed journey):")
    for group, seconds in [*sorted(cpu.items()), ("load generator (this process)", own_cpu)]:
        print(f"  {group:<32} {seconds:>7.1f} s  {seconds * 1000 / max(total, 1):>7.1f} ms")
    print(
        f"PostgreSQL connections to the run's database: peak {max(sampler.connections, default=0)}, "
        f"median {statistics.median(sampler.connections) if sampler.connections else 0}"
    )
    print(f"Redis: {redis_keys['keys']} keys of this run, {redis_keys['bytes'] / 1024:.0f} KiB (MEMORY USAGE)")


def _pct(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


if __name__ == "__main__":
    sys.exit(main())
