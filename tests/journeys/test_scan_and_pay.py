"""The whole scan & pay journey over real HTTP: WeChat login, a basket, three scans (one
weighed), checkout, the shopper confirming on the phone (the sandbox), the provider's
signed notification, and the order paid — with WeChat Pay and with Alipay.

Everything goes through a live server: our clients call the sandbox over HTTP, and the
sandbox notifies our endpoint over HTTP, so every signature is made and checked for real.
"""

from __future__ import annotations

import base64
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings as django_settings

from checkout.models import Basket, Order, OrderEvent, Payment
from tests.checkout.shop import APPLE_PLU, BEER_EAN, MILK_EAN, make_shop, weight_label

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(live_server, settings):
    url = live_server.url
    settings.PUBLIC_BASE_URL = url
    settings.WECHAT_API_BASE_URL = f"{url}/sandbox/wechat"
    settings.WECHATPAY_BASE_URL = f"{url}/sandbox/wechatpay"
    settings.ALIPAY_GATEWAY_URL = f"{url}/sandbox/alipay/gateway.do"
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = [0.05]
    return url


def _login(url: str, shopper: str) -> requests.Session:
    code = requests.post(f"{url}/sandbox/wechat/login-codes", json={"shopper": shopper}, timeout=10).json()["code"]
    response = requests.post(f"{url}/api/v1/auth/wechat-login", json={"code": code}, timeout=10)
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session


def _fill_basket(url: str, session: requests.Session, store_id: int) -> dict:
    basket = session.post(f"{url}/api/v1/baskets", json={"store_id": store_id}, timeout=10).json()
    for barcode, quantity in ((MILK_EAN, 2), (BEER_EAN, 1), (weight_label(APPLE_PLU, 1234), None)):
        body = {"barcode": barcode} | ({"quantity": quantity} if quantity else {})
        response = session.post(f"{url}/api/v1/baskets/{basket['id']}/scan", json=body, timeout=10)
        assert response.status_code == 200, response.text
    return response.json()


def _verify_pay_sign(params: dict) -> None:
    """paySign as wx.requestPayment checks it: RSA-SHA256 by the merchant key."""
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    with open(django_settings.SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH, "rb") as pem:
        public_key = serialization.load_pem_public_key(pem.read())
    public_key.verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("payment_method", ["wechat_pay", "alipay"])
def test_a_shopper_scans_pays_and_the_order_is_paid(server, payment_method):
    shop = make_shop()
    session = _login(server, "li-na")

    basket = _fill_basket(server, session, shop.store.pk)
    # 2 x milk at the store's 11.90, a beer at 6.50, 1,234 g of apples at 19.90/kg = 24.56.
    assert basket["total_fen"] == 2 * 1190 + 650 + 2456
    assert basket["has_age_restricted"] is True

    key = str(uuid.uuid4())
    checkout = session.post(
        f"{server}/api/v1/baskets/{basket['id']}/checkout",
        json={"payment_method": payment_method},
        headers={"Idempotency-Key": key},
        timeout=20,
    )
    assert checkout.status_code == 201, checkout.text
    order, params = checkout.json()["order"], checkout.json()["payment_params"]
    assert order["state"] == "pending_payment"
    assert order["total_fen"] == basket["total_fen"]
    assert [line["sku"] for line in order["lines"]] == ["100001", "100002", "100003"]
    if payment_method == "wechat_pay":
        assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
        assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
        _verify_pay_sign(params)
    else:
        assert set(params) == {"tradeNO"} and len(params["tradeNO"]) >= 16

    # A retried checkout (same key) answers the same; the basket takes no more scans.
    retry = session.post(
        f"{server}/api/v1/baskets/{basket['id']}/checkout",
        json={"payment_method": payment_method},
        headers={"Idempotency-Key": key},
        timeout=20,
    )
    assert retry.json() == checkout.json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    scan_after = session.post(f"{server}/api/v1/baskets/{basket['id']}/scan", json={"barcode": MILK_EAN}, timeout=10)
    assert scan_after.status_code == 409

    confirmed = requests.post(f"{server}/sandbox/payments/{order['payment']['out_trade_no']}/confirm", timeout=20)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["notified"] is True

    paid = session.get(f"{server}/api/v1/orders/{order['id']}", timeout=10).json()
    assert paid["state"] == "paid"
    assert paid["payment"]["state"] == "paid" and paid["payment"]["amount_fen"] == basket["total_fen"]
    assert Basket.objects.get(pk=basket["id"]).status == Basket.Status.CHECKED_OUT
    assert list(OrderEvent.objects.filter(order_id=order["id"]).values_list("type", flat=True)) == [
        "created",
        "paid",
        "stock_committed",
    ]
    assert [o["id"] for o in session.get(f"{server}/api/v1/orders", timeout=10).json()["results"]] == [order["id"]]


def test_two_simultaneous_checkouts_of_one_basket_make_one_order(server):
    import threading

    shop = make_shop()
    session = _login(server, "wang-wei")
    basket = _fill_basket(server, session, shop.store.pk)
    answers: list[requests.Response] = []

    def checkout() -> None:
        answers.append(
            session.post(
                f"{server}/api/v1/baskets/{basket['id']}/checkout", json={"payment_method": "wechat_pay"}, timeout=30
            )
        )

    threads = [threading.Thread(target=checkout) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["order"]["id"] for a in answers}) == 1
    assert len({a.json()["payment_params"]["package"] for a in answers}) == 1
    assert Order.objects.count() == 1 and Payment.objects.count() == 1
