"""``manage.py demo_scan_and_pay``: the scan & pay journey, played over HTTP against a
running server (``make run``), as the mini-program and the shopper's phone would.

Logs in a demo shopper through the WeChat sandbox, opens a basket at the nearest open
scan & go store, scans two packaged products and a weighed one (a scale label), checks
out, confirms the payment in the sandbox, and shows the order paid. Exits non-zero if any
step fails.
"""

from __future__ import annotations

import json
import uuid

import requests
from django.core.management.base import BaseCommand, CommandError

from stores.barcodes import gs1_check_digit

TIMEOUT = 20
SEARCHES = ("milk", "water")  # two packaged products the shopper picks up
WEIGHED_SEARCH = "apple"


class Command(BaseCommand):
    help = "Play the scan & pay journey against a running server (default http://127.0.0.1:8000)."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--method", choices=["wechat_pay", "alipay"], default="wechat_pay")
        parser.add_argument("--shopper", default="li-na")
        parser.add_argument("--lat", type=float, default=31.2304, help="Where the shopper stands (People's Square).")
        parser.add_argument("--lng", type=float, default=121.4737)
        parser.add_argument(
            "--gate",
            help="A gate's credential as 'key_id:secret' (from manage.py create_gate); "
            "by default a demo gate is registered at the store in the local database.",
        )

    def handle(self, *args, **options):
        self.base = options["base_url"].rstrip("/")
        self.http = requests.Session()

        code = self._call("POST", "/sandbox/wechat/login-codes", json={"shopper": options["shopper"]})["code"]
        login = self._call("POST", "/api/v1/auth/wechat-login", json={"code": code})
        self.http.headers["Authorization"] = f"Bearer {login['token']}"
        self._step(f"logged in as {login['customer']['nickname'] or options['shopper']}")

        stores = self._call("GET", f"/api/v1/stores?lat={options['lat']}&lng={options['lng']}&page_size=50")
        store = next(
            (s for s in stores["results"] if s["scan_and_go_enabled"] and s["is_open_now"]),
            None,
        )
        if store is None:
            raise CommandError("no open scan & go store near the shopper right now")
        basket = self._call("POST", "/api/v1/baskets", json={"store_id": store["id"]})
        self._step(f"opened basket {basket['id']} at {store['name']} ({store['distance_m']} m away)")

        for search in SEARCHES:
            basket = self._scan_first_carried(basket["id"], search, weighed=False)
        basket = self._scan_first_carried(basket["id"], WEIGHED_SEARCH, weighed=True)
        self._step(f"basket total {basket['total_fen']} fen for {basket['item_count']} items")

        checkout = self._call(
            "POST",
            f"/api/v1/baskets/{basket['id']}/checkout",
            json={"payment_method": options["method"]},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        order = checkout["order"]
        self._step(f"order {order['number']} {order['state']}, {order['total_fen']} fen via {options['method']}")
        self._step(f"payment params for the mini-program: {json.dumps(checkout['payment_params'])}")

        confirmed = self._call("POST", f"/sandbox/payments/{order['payment']['out_trade_no']}/confirm")
        self._step(f"shopper confirmed on the phone; provider notified us: {confirmed.get('notified')}")

        order = self._call("GET", f"/api/v1/orders/{order['id']}")
        if order["state"] != "paid":
            raise CommandError(f"the order is {order['state']}, not paid")
        self._step(f"order {order['number']} is paid: {order['total_fen']} fen")

        exit_pass = self._call("GET", f"/api/v1/orders/{order['id']}/exit-pass")
        self._step(f"exit pass ({exit_pass['state']}, until {exit_pass['expires_at']}): {exit_pass['token']}")
        gate_auth = {"Authorization": f"Gate {options['gate'] or self._demo_gate(store['id'])}"}
        first = self._gate("/api/gate/v1/verify", {"token": exit_pass["token"]}, gate_auth)
        if first["decision"] == "audit":
            self._step(f"gate: audit ({', '.join(first['staff']['audit_reasons'])}); staff check the basket")
            first = self._gate(
                f"/api/gate/v1/audits/{first['audit_id']}/resolve", {"outcome": "passed", "note": "demo"}, gate_auth
            )
        if first["decision"] != "open":
            raise CommandError(f"the gate did not open: {first}")
        self._step(f"gate: {first['decision']} ({first['reason']})")
        second = self._gate("/api/gate/v1/verify", {"token": exit_pass["token"]}, gate_auth)
        if (second["decision"], second["reason"]) != ("deny", "already_used"):
            raise CommandError(f"the gate let the same pass through twice: {second}")
        self._step(f"gate, same pass again: {second['decision']} ({second['reason']}, used at {second['used_at']})")

    def _demo_gate(self, store_id: int) -> str:
        """Register a fresh demo gate at the store (local run: the same database as the server)."""
        from miniprogram_api.core import clock

        from ... import gates

        gate, secret = gates.create_gate(store_id=store_id, name=f"demo gate {clock.local_now():%H%M%S}")
        self._step(f"registered {gate.name!r} (manage.py create_gate does this for real devices)")
        return f"{gate.key_id}:{secret}"

    def _gate(self, path: str, body: dict, headers: dict) -> dict:
        return self._checked(self.http.post(self.base + path, json=body, headers=headers, timeout=TIMEOUT))

    def _scan_first_carried(self, basket_id: int, search: str, *, weighed: bool) -> dict:
        """Scan the first product matching ``search`` that this store carries."""
        products = self._call("GET", f"/api/v1/products?search={search}&page_size=30")["results"]
        for summary in products:
            if summary["sold_by_weight"] != weighed:
                continue
            product = self._call("GET", f"/api/v1/products/{summary['id']}")
            if weighed:
                body = f"25{product['plu_code']}00850"  # a scale label: 850 g
                barcode = body + str(gs1_check_digit(body))
            elif product["barcodes"]:
                barcode = product["barcodes"][0]
            else:
                continue
            response = self.http.post(
                f"{self.base}/api/v1/baskets/{basket_id}/scan", json={"barcode": barcode}, timeout=TIMEOUT
            )
            if response.status_code == 404 and response.json()["error"]["code"] == "not_sold_here":
                continue
            basket = self._checked(response)
            line = next(line for line in basket["lines"] if line["id"] == basket["scanned_line_id"])
            self._step(f"scanned {barcode}: {line['product']['name']}, {line['line_total_fen']} fen")
            return basket
        raise CommandError(f"this store carries no {'weighed ' if weighed else ''}product matching {search!r}")

    def _call(self, method: str, path: str, **kwargs) -> dict:
        return self._checked(self.http.request(method, self.base + path, timeout=TIMEOUT, **kwargs))

    def _checked(self, response: requests.Response) -> dict:
        if response.status_code >= 400:
            raise CommandError(f"{response.request.method} {response.url} -> {response.status_code}: {response.text}")
        return response.json() if response.content else {}

    def _step(self, text: str) -> None:
        self.stdout.write(f"  {text}")
