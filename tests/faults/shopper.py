"""A shopper's phone, over HTTP: log in through the WeChat sandbox, scan, check out, pay."""

from __future__ import annotations

import uuid

import requests

from tests.checkout.shop import MILK_EAN

TIMEOUT = 15  # seconds: far above any answer we expect, so a hang fails the test instead of stalling it


class Shopper:
    def __init__(self, app_url: str, name: str | None = None):
        self.url = app_url
        self.http = requests.Session()
        code = self.http.post(
            f"{app_url}/sandbox/wechat/login-codes", json={"shopper": name or f"faults-{uuid.uuid4().hex[:12]}"}
        ).json()["code"]
        login = self.http.post(f"{app_url}/api/v1/auth/wechat-login", json={"code": code}, timeout=TIMEOUT)
        assert login.status_code == 200, login.text
        self.http.headers["Authorization"] = f"Bearer {login.json()['token']}"

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.url + path, timeout=TIMEOUT)

    def post(self, path: str, body: dict | None = None, **headers: str) -> requests.Response:
        return self.http.post(self.url + path, json=body or {}, headers=headers, timeout=TIMEOUT)

    def open_basket(self, store_id: int) -> int:
        answer = self.post("/api/v1/baskets", {"store_id": store_id})
        assert answer.status_code in (200, 201), answer.text
        return answer.json()["id"]

    def scan(self, basket_id: int, barcode: str = MILK_EAN, quantity: int = 1) -> requests.Response:
        return self.post(f"/api/v1/baskets/{basket_id}/scan", {"barcode": barcode, "quantity": quantity})

    def basket_with_milk(self, store_id: int, bottles: int = 2) -> int:
        basket_id = self.open_basket(store_id)
        answer = self.scan(basket_id, quantity=bottles)
        assert answer.status_code == 200, answer.text
        return basket_id

    def checkout(self, basket_id: int, *, key: str | None = None) -> requests.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.post(f"/api/v1/baskets/{basket_id}/checkout", {"payment_method": "wechat_pay"}, **headers)

    def order(self, order_id: int) -> dict:
        answer = self.get(f"/api/v1/orders/{order_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def pay(self, out_trade_no: str) -> dict:
        """Confirm on the phone: the sandbox marks the trade paid and notifies the app."""
        answer = requests.post(f"{self.url}/sandbox/payments/{out_trade_no}/confirm", timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()
