"""Exit gate throughput: online verifications under 32 concurrent gates, and offline ones.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_gate REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/gate.py

(a) Online. Drops and recreates the database named in DATABASE_URL, migrates, seeds the
demo data, makes N paid in-store orders at one store with their exit passes
(``checkout.exitpass.issue_exit_pass``) and 32 gates at that store, starts gunicorn, then
drives ``POST /api/gate/v1/verify`` twice:

1. saturated: ``wrk`` (Debian package ``wrk``) with 32 connections that never pause, each
   wrk thread presenting its own share of the passes once, every tenth request replaying
   a pass that thread already presented (sometimes while the first presentation is still
   in flight), as a shared screenshot would: the most verifications per second;
2. paced: 32 gates (Python threads, one ``requests.Session`` each) that each scan a pass
   every ``--interval`` seconds (default 0.5 s, far busier than a real exit lane), starting
   at random offsets, again with every tenth scan a replay: the latency a gate sees.

It prints requests per second, p50/p99 latency and the decisions of each run, and checks
in the database that no pass opened the gate twice. Target: p99 under 25 ms at 32
concurrent gates. (A saturated closed loop with 32 requests always in flight can only meet
it above 32 / 0.025 s = 1,280 requests per second, by Little's law.)

(b) Offline. ``gate_verifier.offline.OfflineVerifier`` in this one process over 20,000
distinct passes (in memory), then a smaller run with the gate's state file (fsync per
decision, as a gate runs), then replays of passes already used.

Loopback only; bounded by ``--duration``. Options: --passes, --duration, --connections,
--threads, --workers, --port, --interval, --paced-seconds, --offline-tokens,
--offline-file-tokens, --skip-online.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import common
import requests

sys.path.insert(0, str(common.ROOT))

P99_TARGET_MS = 25

LUA = """
local tokens = {TOKENS}
local gates = {GATES}
local nthreads = {NTHREADS}
local fresh, n, next_fresh = {}, 0, 1
init = function(args)
  math.randomseed(tid * 7919)
  for i = tid, #tokens, nthreads do fresh[#fresh + 1] = tokens[i] end
end
request = function()
  n = n + 1
  local token
  if (n % 10 == 0 and next_fresh > 1) or next_fresh > #fresh then
    token = fresh[math.random(math.max(next_fresh - 1, 1))]
  else
    token = fresh[next_fresh]
    next_fresh = next_fresh + 1
  end
  return wrk.format("POST", "/api/gate/v1/verify",
    {["Authorization"] = "Gate " .. gates[(n % #gates) + 1], ["Content-Type"] = "application/json"},
    '{"token": "' .. token .. '"}')
end
"""

SETUP_LUA = """
local count = 0
setup = function(thread)
  count = count + 1
  thread:set("tid", count)
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=8000)
    parser.add_argument("--gates", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between scans at each paced gate")
    parser.add_argument("--paced-seconds", type=int, default=15)
    parser.add_argument("--offline-tokens", type=int, default=20_000)
    parser.add_argument("--offline-file-tokens", type=int, default=2_000)
    parser.add_argument("--skip-online", action="store_true")
    args = parser.parse_args()
    if not args.skip_online and not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")

    var_dir = tempfile.mkdtemp(prefix="bench-gate-")
    base = f"http://127.0.0.1:{args.port}"
    env = common.configure_environment(base=base, var_dir=var_dir)
    common.recreate_database(env.get("DATABASE_URL", ""))
    common.migrate_and_seed(env)

    import django

    django.setup()
    print(f"database: {env.get('DATABASE_URL') or 'sqlite'}; cache: {env.get('REDIS_URL') or 'locmem'}")
    if not args.skip_online:
        online(args, base, env, Path(var_dir))
    offline(args)


# --- (a) online ------------------------------------------------------------------------


def online(args, base: str, env: dict, var_dir: Path) -> None:
    started = time.perf_counter()
    store, tokens = make_passes(args.passes)
    gates = make_gates(store, args.gates)
    print(
        f"\n(a) online: {len(tokens)} exit passes at store {store.code} and {len(gates)} gates "
        f"(made in {time.perf_counter() - started:.0f} s); gunicorn {args.workers} sync workers; "
        f"wrk {args.threads} threads, {args.connections} connections, {args.duration} s; "
        "2 cores shared by server, database and load generator"
    )
    paced_share = len(gates) * (int(args.paced_seconds / args.interval) + 2)
    wrk_tokens, paced_tokens = tokens[:-paced_share], tokens[-paced_share:]
    script = var_dir / "verify.lua"
    script.write_text(
        SETUP_LUA
        + LUA.replace("{TOKENS}", common.lua_list(wrk_tokens))
        .replace("{GATES}", common.lua_list(gates))
        .replace("{NTHREADS}", str(args.threads))
    )
    with common.gunicorn(port=args.port, workers=args.workers, env=env):
        check_one(base, gates[0])
        saturated = common.run_wrk(
            base, script, threads=args.threads, connections=args.connections, duration=args.duration
        )
        saturated_decisions = count_decisions()
        paced = run_paced(base, gates, paced_tokens, args)

    print(f"\n{'POST /api/gate/v1/verify':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'requests':>9} {'non-2xx':>8}")
    rows = (
        (f"saturated: wrk, {args.connections} connections", saturated),
        (f"paced: {len(gates)} gates, a scan per {args.interval:g} s", paced),
    )
    for name, result in rows:
        print(
            f"{name:<40} {result['rps']:>7.0f} {result['p50']:>7.1f} {result['p99']:>7.1f} "
            f"{result['requests']:>9} {result['errors']:>8}"
        )
    for name, result in rows:
        met = "met" if result["p99"] < P99_TARGET_MS else "NOT met"
        print(f"{name.split(':')[0]}: p99 {result['p99']:.1f} ms, target under {P99_TARGET_MS} ms {met}")
    print(f"saturated run {saturated_decisions}")
    print(f"both runs    {count_decisions()}")
    check_passes(len(tokens))


def run_paced(base: str, gates: list[str], tokens: list[str], args) -> dict:
    """Each gate scans its own passes, one every ``interval`` seconds (a replay each tenth)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + args.paced_seconds

    def gate(index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Gate {gates[index]}"
        mine = tokens[index :: len(gates)]
        rng = random.Random(index)
        next_at = time.monotonic() + rng.uniform(0, args.interval)
        n = fresh = 0
        while True:
            time.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() >= deadline:
                return
            n += 1
            if (n % 10 == 0 and fresh) or fresh >= len(mine):
                token = mine[rng.randrange(max(fresh, 1))]
            else:
                token, fresh = mine[fresh], fresh + 1
            started = time.perf_counter()
            response = session.post(f"{base}/api/gate/v1/verify", json={"token": token}, timeout=10)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                errors[0] += response.status_code != 200
            next_at += args.interval

    started = time.perf_counter()
    threads = [threading.Thread(target=gate, args=(i,)) for i in range(len(gates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "rps": len(latencies) / wall,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "requests": len(latencies),
        "errors": errors[0],
    }


def make_passes(n: int):
    """N paid scan & pay orders at one store (made with the ORM, as a paid checkout leaves
    them), each with its exit pass issued the way payment issues it."""
    from django.db import transaction

    from checkout.exitpass import issue_exit_pass
    from checkout.models import Order
    from miniprogram_api.accounts.models import Customer
    from miniprogram_api.core import clock
    from stores.models import Location

    store = Location.objects.filter(kind="store", active=True, scan_and_go_enabled=True).order_by("code").first()
    shopper = Customer.objects.create_user(username="bench-gate", openid="o-bench-gate", wechat_appid="bench")
    now = clock.now()
    orders = Order.objects.bulk_create(
        Order(
            number=f"BG{i:010d}",
            customer=shopper,
            channel=Order.Channel.IN_STORE,
            store=store,
            state=Order.State.PAID,
            payment_method=Order.PaymentMethod.WECHAT_PAY,
            item_count=1 + i % 12,
            goods_subtotal_fen=990 + 37 * i % 20000,
            total_fen=990 + 37 * i % 20000,
            payment_deadline=now,
            paid_at=now,
        )
        for i in range(n)
    )
    tokens = []
    with transaction.atomic():
        for order in orders:
            tokens.append(issue_exit_pass(order_id=order.pk).token)
    return store, tokens


def make_gates(store, n: int) -> list[str]:
    """``key_id:secret`` for N gates at the store."""
    from checkout import gates

    credentials = []
    for i in range(n):
        gate, secret = gates.create_gate(store_id=store.pk, name=f"Bench exit {i + 1:02d}")
        credentials.append(f"{gate.key_id}:{secret}")
    return credentials


def check_one(base: str, credential: str) -> None:
    response = requests.post(
        f"{base}/api/gate/v1/verify",
        json={"token": "EP1.not-a-pass"},
        headers={"Authorization": f"Gate {credential}"},
        timeout=10,
    )
    if response.status_code >= 500 or response.status_code in (401, 403, 404):
        raise SystemExit(f"verify endpoint not usable: {response.status_code} {response.text[:300]}")


def count_decisions() -> str:
    from django.db.models import Count

    from checkout.models import GateEvent

    events = GateEvent.objects.filter(offline=False, exit_pass__isnull=False)
    by_decision = dict(events.values_list("decision").annotate(n=Count("id")).order_by())
    by_reason = dict(events.filter(decision="deny").values_list("reason").annotate(n=Count("id")).order_by())
    return (
        f"decisions: {by_decision.get('open', 0)} open, {by_decision.get('audit', 0)} audit, "
        f"{by_decision.get('deny', 0)} deny {by_reason or ''}"
    )


def check_passes(n_passes: int) -> None:
    from django.db.models import Count

    from checkout.models import ExitPass, GateEvent

    spent = GateEvent.objects.filter(offline=False, exit_pass__isnull=False, decision__in=["open", "audit"])
    twice = spent.values("exit_pass").annotate(n=Count("id")).filter(n__gt=1).count()
    used = ExitPass.objects.filter(used_at__isnull=False).count()
    print(
        f"passes: {n_passes} issued, {used} used, {spent.count()} open/audit decisions; "
        f"passes that let someone out twice: {twice}"
    )


# --- (b) offline -----------------------------------------------------------------------


def offline(args) -> None:
    from checkout import exit_keys
    from checkout.gate_offline import keys_document
    from gate_verifier import token as pass_token
    from gate_verifier.offline import OfflineVerifier, load_keys

    key_id, private_key = exit_keys.signing_key()
    store_id = 1
    now = int(time.time())
    total = max(args.offline_tokens, args.offline_file_tokens)
    started = time.perf_counter()
    tokens = [
        pass_token.encode(
            pass_token.PassClaims(key_id, 10_000_000 + i, 20_000_000 + i, store_id, 3, 4590, now, now + 1800, False),
            private_key,
        )
        for i in range(total)
    ]
    sign_rate = total / (time.perf_counter() - started)
    document = keys_document()
    keys = load_keys(json.dumps(document))
    print(f"\n(b) offline: OfflineVerifier in one process, {len(keys)} key(s); signing ran at {sign_rate:,.0f}/s")
    print(f"{'run':<44} {'decisions':>10} {'per s':>10} {'opened':>8}")

    gate = OfflineVerifier(store_id, keys, clock_skew_seconds=document["clock_skew_seconds"])
    rate, opened = timed(gate, tokens[: args.offline_tokens])
    print(f"{'distinct passes, in memory':<44} {args.offline_tokens:>10} {rate:>10,.0f} {opened:>8}")
    replays = tokens[: min(2000, args.offline_tokens)]
    rate, opened = timed(gate, replays)
    print(f"{'replays of used passes (already_used)':<44} {len(replays):>10} {rate:>10,.0f} {opened:>8}")
    pending = len(gate.pending_events())
    started = time.perf_counter()
    gate.mark_uploaded()
    print(f"journal: {pending} events pending, cleared in {(time.perf_counter() - started) * 1000:.0f} ms")

    with tempfile.TemporaryDirectory(prefix="bench-gate-state-") as state_dir:
        path = Path(state_dir) / "gate.jsonl"
        gate = OfflineVerifier(store_id, keys, path, clock_skew_seconds=document["clock_skew_seconds"])
        file_tokens = tokens[: args.offline_file_tokens]
        rate, opened = timed(gate, file_tokens)
        label = "distinct passes, state file + fsync"
        print(f"{label:<44} {len(file_tokens):>10} {rate:>10,.0f} {opened:>8}")
        started = time.perf_counter()
        rebooted = OfflineVerifier(store_id, keys, path)
        reload_ms = (time.perf_counter() - started) * 1000
        assert all(rebooted.decide(t).reason == "already_used" for t in file_tokens[:100])
        print(f"reboot: state file of {path.stat().st_size:,} bytes read back in {reload_ms:.0f} ms")


def timed(gate, tokens: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    opened = sum(1 for token in tokens if gate.decide(token).decision == "open")
    return len(tokens) / (time.perf_counter() - started), opened


if __name__ == "__main__":
    main()
