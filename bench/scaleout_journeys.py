"""The shoppers of ``bench/scaleout.py``: threads that play the mini-program over HTTP,
each sending its requests to the two API processes in turn, through three journeys:

* **scan & pay**: open a basket at the shopper's store, scan 2-6 products (in 30% of
  journeys a flash-sale item too, so shoppers contend for its quota), check out with
  WeChat Pay or Alipay, confirm on the "phone" (the sandbox sends the provider's signed
  notification to the API process that created the trade), wait for ``paid``, fetch the
  exit pass;
* **delivery**: an address (the first time), 2-4 products into the city's cart (30%: a
  flash-sale item too), the slots, checkout, confirm, wait for ``paid``;
* **gift card**: buy a card (or claim one a friend shared), confirm, wait until it is
  issued; then either share it (the token goes to a pool another shopper claims from) or
  spend it at a scan & pay checkout, paying any rest with WeChat Pay or Alipay.

Every request is timed under its journey and step. A refusal the API documents (a full
slot, an item out of stock) ends the journey as "refused: <code>"; anything else unexpected
ends it as "failed: <step> <status> <code>". Imported by ``scaleout.py`` (``bench/`` is on
``sys.path``); Django-free.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests

TIMEOUT = 60
PAID_WAIT_SECONDS = 60
FLASH_SHARE = 0.3  # of scan & pay and delivery journeys that take a flash-sale item too
# What the API may refuse under contention, as documented: the journey gives up cleanly.
EXPECTED_REFUSALS = {
    "slot_full",
    "out_of_stock",
    "slot_unavailable",
    "flash_sale_sold_out",
    "flash_sale_limit_reached",
}


class JourneyEnded(Exception):
    def __init__(self, outcome: str):
        super().__init__(outcome)
        self.outcome = outcome


@dataclass
class Plan:
    """What the shoppers work with, prepared in the database before the run."""

    apis: list[str]
    sandbox: str
    city: str
    stores: list[int]
    barcodes: dict[int, list[str]]  # store id -> barcodes of packaged goods it carries
    flash_barcodes: dict[int, list[str]]  # store id -> those of them on a live flash sale
    delivery_products: list[int]
    flash_products: list[int]  # delivery products on a live flash sale
    addresses: list[tuple[float, float]]  # one point per shopper, within the city
    mix: dict[str, float]  # journey -> weight
    deadline: float  # time.monotonic() after which no journey starts


@dataclass
class Recorder:
    """Timings and outcomes from every thread (appends under one lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)  # (journey, step, status, code)
    outcomes: Counter = field(default_factory=Counter)  # (journey, outcome)
    durations: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    confirmed: list[str] = field(default_factory=list)  # out_trade_no confirmed at the sandbox
    requests: int = 0

    def request(self, journey: str, step: str, ms: float, status: int, code: str) -> None:
        with self.lock:
            self.timings[journey, step].append(ms)
            self.statuses[journey, step, status, code] += 1
            self.requests += 1

    def journey(self, journey: str, outcome: str, seconds: float) -> None:
        with self.lock:
            self.outcomes[journey, outcome] += 1
            if outcome == "completed":
                self.durations[journey].append(seconds)


class SharePool:
    """Share tokens waiting for a friend: (token, sharer's index)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: list[tuple[str, int]] = []

    def put(self, token: str, sharer: int) -> None:
        with self._lock:
            self._tokens.append((token, sharer))

    def take_for(self, claimer: int) -> str | None:
        with self._lock:
            for i, (token, sharer) in enumerate(self._tokens):
                if sharer != claimer:
                    del self._tokens[i]
                    return token
        return None

    def __len__(self) -> int:
        return len(self._tokens)


class Shopper:
    def __init__(self, index: int, plan: Plan, recorder: Recorder, pool: SharePool, seed: int):
        self.index = index
        self.name = f"scaleout-{index:04d}"
        self.plan = plan
        self.recorder = recorder
        self.pool = pool
        self.rng = random.Random(seed * 100_003 + index)
        self.http = requests.Session()
        self.turn = index  # shoppers start on alternate processes, then alternate per request
        self.store = plan.stores[index % len(plan.stores)]
        self.address_id: int | None = None
        self.journey = "login"

    # --- HTTP ---------------------------------------------------------------------------

    def call(self, step: str, method: str, path: str, *, body=None, idempotent=False, sandbox=False) -> dict:
        """One request, timed; the answer's JSON on 2xx, else the journey ends."""
        if sandbox:
            base = self.plan.sandbox
        else:
            base = self.plan.apis[self.turn % len(self.plan.apis)]
            self.turn += 1
        headers = {"Idempotency-Key": str(uuid.uuid4())} if idempotent else {}
        started = time.perf_counter()
        try:
            response = self.http.request(method, base + path, json=body, headers=headers, timeout=TIMEOUT)
            status, answer = response.status_code, _json(response)
        except requests.RequestException as exc:
            status, answer = 0, {"error": {"code": type(exc).__name__}}
        ms = (time.perf_counter() - started) * 1000
        code = answer.get("error", {}).get("code", "") if isinstance(answer.get("error"), dict) else ""
        if not code and status >= 300 and "error" in answer:
            code = str(answer["error"])[:40]  # the sandbox's own error shape
        self.recorder.request(self.journey, step, ms, status, code)
        if 200 <= status < 300:
            return answer
        if code in EXPECTED_REFUSALS:
            raise JourneyEnded(f"refused: {code}")
        raise JourneyEnded(f"failed: {step} {status} {code}".rstrip())

    def login(self) -> None:
        code = self.call("login code (sandbox)", "POST", "/sandbox/wechat/login-codes", body={"shopper": self.name})
        token = self.call("login", "POST", "/api/v1/auth/wechat-login", body={"code": code["code"]})["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    # --- The loop ----------------------------------------------------------------------

    def run(self) -> None:
        self.journey = "login"
        try:
            self.login()
        except JourneyEnded as ended:
            self.recorder.journey("login", ended.outcome, 0)
            return
        journeys = {"scan_and_pay": self.scan_and_pay, "delivery": self.delivery, "gift_card": self.gift_card}
        names, weights = list(self.plan.mix), list(self.plan.mix.values())
        while time.monotonic() < self.plan.deadline:
            self.journey = self.rng.choices(names, weights)[0]
            started = time.perf_counter()
            try:
                outcome = journeys[self.journey]() or "completed"
            except JourneyEnded as ended:
                outcome = ended.outcome
            self.recorder.journey(self.journey, outcome, time.perf_counter() - started)

    # --- Journeys ------------------------------------------------------------------------

    def scan_and_pay(self, gift_card_id: int | None = None) -> None:
        basket = self.call("open basket", "POST", "/api/v1/baskets", body={"store_id": self.store})
        if basket["status"] != "open":
            raise JourneyEnded(f"failed: basket {basket['status']}")
        barcodes = self.rng.sample(
            self.plan.barcodes[self.store], self.rng.randint(2, 6) if gift_card_id is None else 2
        )
        flash = self.plan.flash_barcodes[self.store]
        if flash and self.rng.random() < FLASH_SHARE:
            barcodes.append(self.rng.choice(flash))
        for barcode in barcodes:
            self.call(
                "scan",
                "POST",
                f"/api/v1/baskets/{basket['id']}/scan",
                body={"barcode": barcode, "quantity": self.rng.choice((1, 1, 2))},
            )
        body = {"payment_method": self.method()}
        if gift_card_id is not None:
            body["gift_card_ids"] = [gift_card_id]
        order = self.call(
            "checkout (scan & pay)", "POST", f"/api/v1/baskets/{basket['id']}/checkout", body=body, idempotent=True
        )["order"]
        self.pay(order)
        self.call("exit pass", "GET", f"/api/v1/orders/{order['id']}/exit-pass")

    def delivery(self) -> None:
        if self.address_id is None:
            lat, lng = self.plan.addresses[self.index % len(self.plan.addresses)]
            address = {
                "recipient": f"Shopper {self.index}",
                "phone": "13800138000",
                "text": f"Room {self.index}, 1 Bench Road",
                "city": self.plan.city,
                "latitude": lat,
                "longitude": lng,
            }
            self.address_id = self.call("address", "POST", "/api/v1/addresses", body=address)["id"]
        cart = None
        products = self.rng.sample(self.plan.delivery_products, self.rng.randint(2, 4))
        if self.plan.flash_products and self.rng.random() < FLASH_SHARE:
            products.append(self.rng.choice(self.plan.flash_products))
        for product in products:
            cart = self.call(
                "cart line",
                "POST",
                "/api/v1/cart/lines",
                body={"city": self.plan.city, "product_id": product, "quantity": self.rng.choice((1, 1, 2))},
            )
        slots = self.call("slots", "GET", f"/api/v1/delivery/slots?address_id={self.address_id}")
        open_slots = [
            o["id"] for o in slots["options"] if o["kind"] == "next_day" and (o["remaining"] is None or o["remaining"])
        ]
        if not open_slots:
            self.empty_cart(cart)
            raise JourneyEnded("refused: no slot left")
        body = {
            "city": self.plan.city,
            "address_id": self.address_id,
            "slot": self.rng.choice(open_slots),
            "payment_method": self.method(),
        }
        try:
            order = self.call("checkout (delivery)", "POST", "/api/v1/cart/checkout", body=body, idempotent=True)
        except JourneyEnded:
            self.empty_cart(cart)
            raise
        self.pay(order["order"])

    def gift_card(self) -> str | None:
        token = self.pool.take_for(self.index)
        if token is not None:
            card_id = self.call("claim", "POST", "/api/v1/gift-cards/claim", body={"token": token}, idempotent=True)[
                "id"
            ]
        else:
            amount = self.rng.choice((5000, 10000, 20000))
            order = self.call(
                "buy card",
                "POST",
                "/api/v1/gift-cards",
                body={"amount_fen": amount, "payment_method": self.method()},
                idempotent=True,
            )["order"]
            card_id = self.pay(order)["gift_card_id"]
            if card_id is None:
                raise JourneyEnded("failed: paid card order names no card")
            if self.rng.random() < 0.3:
                share = self.call("share", "POST", f"/api/v1/gift-cards/{card_id}/share", body={}, idempotent=True)
                self.pool.put(share["token"], self.index)
                return None
        self.scan_and_pay(gift_card_id=card_id)
        return None

    # --- Shared steps -------------------------------------------------------------------

    def method(self) -> str:
        return self.rng.choice(("wechat_pay", "wechat_pay", "alipay"))

    def pay(self, order: dict) -> dict:
        """Confirm the order's payment on the "phone" (unless cards paid it all), then read
        the order until it is paid: the notification may have reached the API later."""
        if order["state"] == "paid":
            return order
        out_trade_no = order["payment"]["out_trade_no"]
        confirmed = self.call("confirm (sandbox)", "POST", f"/sandbox/payments/{out_trade_no}/confirm", sandbox=True)
        with self.recorder.lock:
            self.recorder.confirmed.append(out_trade_no)
        deadline = time.monotonic() + PAID_WAIT_SECONDS
        if not confirmed.get("notified"):
            time.sleep(0.2)
        while True:
            order = self.call("order (paid?)", "GET", f"/api/v1/orders/{order['id']}")
            if order["state"] == "paid":
                return order
            if time.monotonic() > deadline:
                raise JourneyEnded(f"failed: not paid {PAID_WAIT_SECONDS} s after confirming")
            time.sleep(0.5)

    def empty_cart(self, cart: dict | None) -> None:
        for line in (cart or {}).get("lines", []):
            with contextlib.suppress(JourneyEnded):
                self.call("cart line (remove)", "DELETE", f"/api/v1/cart/lines/{line['id']}")


def _json(response: requests.Response) -> dict:
    if not response.content:
        return {}
    try:
        answer = response.json()
    except ValueError:
        return {"error": {"code": f"non_json_{response.status_code}"}}
    return answer if isinstance(answer, dict) else {"results": answer}


def drive(plan: Plan, *, shoppers: int, seed: int) -> tuple[Recorder, SharePool, float]:
    """Run every shopper's loop in its own thread until the deadline (journeys under way
    finish); returns the recorder, the unclaimed shares and the wall-clock seconds."""
    recorder, pool = Recorder(), SharePool()
    threads = [
        threading.Thread(target=Shopper(i, plan, recorder, pool, seed).run, name=f"shopper-{i}", daemon=True)
        for i in range(shoppers)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return recorder, pool, time.monotonic() - started
