"""``manage.py demo_gift_card``: the gift-card journey, played over HTTP against a running
server (``make run``), as two shoppers' mini-programs and phones would.

One shopper buys a 200 RMB gift card (paying with WeChat Pay in the sandbox) and shares it;
a friend claims it, spends it in a store on two products, returns one of them, and sees
the refund back on the card. Exits non-zero if any step fails.
"""

from __future__ import annotations

import uuid

import requests
from django.core.management.base import CommandError

from .demo_scan_and_pay import SEARCHES, TIMEOUT
from .demo_scan_and_pay import Command as ScanAndPayDemo

CARD_FEN = 20_000


class Command(ScanAndPayDemo):
    help = "Play the gift-card journey against a running server (default http://127.0.0.1:8000)."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--buyer", default="li-na")
        parser.add_argument("--friend", default="wang-wei")
        parser.add_argument("--lat", type=float, default=31.2304, help="Where the friend stands (People's Square).")
        parser.add_argument("--lng", type=float, default=121.4737)

    def handle(self, *args, **options):
        self.base = options["base_url"].rstrip("/")
        buyer, friend = self._login(options["buyer"]), self._login(options["friend"])

        self.http = buyer
        bought = self._post("/api/v1/gift-cards", {"amount_fen": CARD_FEN, "payment_method": "wechat_pay"})
        order = bought["order"]
        self._step(f"{options['buyer']} buys a {CARD_FEN} fen gift card: order {order['number']} {order['state']}")
        self._call("POST", f"/sandbox/payments/{order['payment']['out_trade_no']}/confirm")
        card_id = self._call("GET", f"/api/v1/orders/{order['id']}").get("gift_card_id")
        if card_id is None:
            raise CommandError("the paid gift-card order names no card")
        card = self._call("GET", f"/api/v1/gift-cards/{card_id}")
        self._step(f"paid in the sandbox; card {card['masked_code']} holds {card['balance_fen']} fen")

        share = self._post(f"/api/v1/gift-cards/{card_id}/share", {"message": "生日快乐!"})
        self._step(f"shared: the WeChat share card says {share['wechat_share']['title']!r}, token {share['token']}")

        self.http = friend
        claimed = self._post("/api/v1/gift-cards/claim", {"token": share["token"]})
        self._step(f"{options['friend']} claims it: card {claimed['masked_code']}, {claimed['balance_fen']} fen")
        self.http = buyer
        if any(c["id"] == card_id for c in self._call("GET", "/api/v1/gift-cards")["results"]):
            raise CommandError("the buyer still has the card after the friend claimed it")
        self._step(f"{options['buyer']}'s cards no longer include it")

        self.http = friend
        stores = self._call("GET", f"/api/v1/stores?lat={options['lat']}&lng={options['lng']}&page_size=50")
        store = next((s for s in stores["results"] if s["scan_and_go_enabled"] and s["is_open_now"]), None)
        if store is None:
            raise CommandError("no open scan & go store near the friend right now")
        basket = self._call("POST", "/api/v1/baskets", json={"store_id": store["id"]})
        for search in SEARCHES:
            basket = self._scan_first_carried(basket["id"], search, weighed=False)
        checkout = self._post(
            f"/api/v1/baskets/{basket['id']}/checkout", {"payment_method": "wechat_pay", "gift_card_ids": [card_id]}
        )
        order = checkout["order"]
        self._step(
            f"checked out at {store['name']}: {order['total_fen']} fen, {order['gift_card_fen']} fen by the card, "
            f"order {order['state']}"
        )
        if order["state"] != "paid":
            self._call("POST", f"/sandbox/payments/{order['payment']['out_trade_no']}/confirm")
        card = self._call("GET", f"/api/v1/gift-cards/{card_id}")
        self._step(f"the card now holds {card['balance_fen']} fen")

        line = order["lines"][0]
        returned = self._post(
            f"/api/v1/orders/{order['id']}/returns",
            {"lines": [{"line_id": line["id"], "quantity": 1}], "reason": "changed my mind"},
        )
        self._step(f"returned 1 x {line['name']}: {returned['amount_fen']} fen refunded")
        for refund in returned["refunds"]:
            self._step(f"  refund to {refund['tender']}: {refund['amount_fen']} fen ({refund['state']})")
        after = self._call("GET", f"/api/v1/gift-cards/{card_id}")
        self._step(f"the card holds {after['balance_fen']} fen again; its ledger:")
        for entry in after["transactions"]:
            self._step(f"  {entry['kind']:<8} {entry['amount_fen']:>+7} -> {entry['balance_after_fen']} fen")
        if after["balance_fen"] <= card["balance_fen"]:
            raise CommandError("the refund did not come back to the card")

    def _login(self, shopper: str) -> requests.Session:
        session = requests.Session()
        code = self._checked(
            session.post(f"{self.base}/sandbox/wechat/login-codes", json={"shopper": shopper}, timeout=TIMEOUT)
        )["code"]
        login = self._checked(
            session.post(f"{self.base}/api/v1/auth/wechat-login", json={"code": code}, timeout=TIMEOUT)
        )
        session.headers["Authorization"] = f"Bearer {login['token']}"
        self._step(f"logged in as {login['customer']['nickname'] or shopper}")
        return session

    def _post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
