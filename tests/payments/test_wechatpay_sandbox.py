"""The sandbox plays WeChat Pay API v3 faithfully: checked with an independent client.

The ``wechatpayv3`` SDK (not our code) creates, queries and closes orders against the
sandbox, verifying every answer's signature itself, and decrypts the notifications the
sandbox sends. Raw requests signed with the SDK's ``build_authorization`` then tampered
with show what the sandbox refuses; notifications are captured by a tiny HTTP receiver
and fed both to the SDK and to our ``parse_notification``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings as django_settings
from wechatpayv3 import WeChatPay as LibraryWeChatPay
from wechatpayv3 import WeChatPayType
from wechatpayv3 import utils as wechatpayv3_utils

from checkout.payments.base import InvalidNotification
from checkout.payments.wechatpay import WeChatPay
from miniprogram_api.sandbox import wechatpay as sandbox_wechatpay
from miniprogram_api.sandbox.models import WeChatPayTrade

OPENID = "o-test-payer-000002"
CREATE_PATH = "/v3/pay/transactions/jsapi"


# --- Fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def sandbox(live_server, settings):
    settings.WECHATPAY_BASE_URL = f"{live_server.url}/sandbox/wechatpay"
    settings.PAYMENT_HTTP_TIMEOUT = (2, 5)
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = [0.02, 0.02]
    return SimpleNamespace(base=settings.WECHATPAY_BASE_URL, root=live_server.url)


@pytest.fixture
def receiver():
    """A merchant's notify endpoint: records what arrives, answers the queued statuses (then 204)."""
    received: list[tuple[dict[str, str], bytes]] = []
    answers: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((dict(self.headers.items()), body))
            self.send_response(answers.pop(0) if answers else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}/notify", received=received, answers=answers)
    server.shutdown()
    server.server_close()


def _library(sandbox_base: str, notify_url: str) -> LibraryWeChatPay:
    """The ``wechatpayv3`` SDK with our merchant's keys (public-key mode), pointed at the sandbox."""
    library = LibraryWeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=django_settings.WECHATPAY_MCHID,
        private_key=Path(django_settings.WECHATPAY_PRIVATE_KEY_PATH).read_text(),
        cert_serial_no=django_settings.WECHATPAY_CERT_SERIAL,
        appid=django_settings.WECHAT_APPID,
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
        notify_url=notify_url,
        public_key=Path(django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH).read_text(),
        public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        timeout=(2, 5),
    )
    library._core._gate_way = sandbox_base  # the SDK has no public setting for its host
    return library


def _merchant_key():
    return serialization.load_pem_private_key(
        Path(django_settings.WECHATPAY_PRIVATE_KEY_PATH).read_bytes(), password=None
    )


def _platform_public_key():
    return serialization.load_pem_public_key(Path(django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH).read_bytes())


def _order(out_trade_no: str, notify_url: str = "https://shop.example.com/notify", /, **overrides) -> dict:
    order = {
        "appid": django_settings.WECHAT_APPID,
        "mchid": django_settings.WECHATPAY_MCHID,
        "description": "Scan & pay",
        "out_trade_no": out_trade_no,
        "time_expire": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)).isoformat(timespec="seconds"),
        "notify_url": notify_url,
        "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": OPENID},
    }
    order.update(overrides)
    return order


def _authorization(method: str, path: str, body: str, **overrides) -> str:
    """A valid Authorization made by the SDK (not our code)."""
    return wechatpayv3_utils.build_authorization(
        path,
        method,
        overrides.get("mchid", django_settings.WECHATPAY_MCHID),
        overrides.get("serial_no", django_settings.WECHATPAY_CERT_SERIAL),
        _merchant_key(),
        data=body,
    )


def _send(sandbox, method: str, path: str, body: str = "", *, authorization: str | None = None, headers=None):
    sent_headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    sent_headers["Authorization"] = authorization if authorization is not None else _authorization(method, path, body)
    return requests.request(method, sandbox.base + path, data=body.encode(), headers=sent_headers, timeout=5)


def _assert_signed_by_the_platform(response: requests.Response) -> None:
    """Checked with the SDK's ``rsa_verify``, not ours."""
    assert response.headers["Wechatpay-Serial"] == django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID
    assert abs(int(response.headers["Wechatpay-Timestamp"]) - time.time()) < 60
    assert response.headers["Request-ID"]
    assert wechatpayv3_utils.rsa_verify(
        response.headers["Wechatpay-Timestamp"],
        response.headers["Wechatpay-Nonce"],
        response.text,
        response.headers["Wechatpay-Signature"],
        _platform_public_key(),
    )


def _confirm(sandbox, out_trade_no: str) -> requests.Response:
    return requests.post(f"{sandbox.root}/sandbox/payments/{out_trade_no}/confirm", timeout=10)


# --- An independent client against the sandbox -------------------------------------------------


def test_the_wechatpayv3_sdk_creates_queries_and_closes_against_the_sandbox(sandbox, receiver):
    library = _library(sandbox.base, receiver.url)

    code, message = library.pay(
        description="Scan & pay",
        out_trade_no="SB20240601000001",
        amount={"total": 2590},
        payer={"openid": OPENID},
    )
    assert code == 200, message
    prepay_id = json.loads(message)["prepay_id"]
    assert re.fullmatch(r"wx\d{14}[0-9a-f]{20}", prepay_id)

    code, message = library.query(out_trade_no="SB20240601000001")
    assert code == 200, message
    answer = json.loads(message)
    assert answer["trade_state"] == "NOTPAY"
    assert answer["amount"]["total"] == 2590
    assert (answer["appid"], answer["mchid"]) == (django_settings.WECHAT_APPID, django_settings.WECHATPAY_MCHID)

    code, message = library.close(out_trade_no="SB20240601000001")
    assert code == 204  # the SDK verified the signature over the empty body

    code, message = library.query(out_trade_no="SB20240601000001")
    assert json.loads(message)["trade_state"] == "CLOSED"


def test_every_answer_is_signed_including_errors_and_204s(sandbox):
    body = json.dumps(_order("SB20240601000002"))
    created = _send(sandbox, "POST", CREATE_PATH, body)
    not_found = _send(
        sandbox, "GET", f"/v3/pay/transactions/out-trade-no/SB-NOPE-0001?mchid={django_settings.WECHATPAY_MCHID}"
    )
    close_path = "/v3/pay/transactions/out-trade-no/SB20240601000002/close"
    closed = _send(sandbox, "POST", close_path, json.dumps({"mchid": django_settings.WECHATPAY_MCHID}))
    unsigned = _send(sandbox, "POST", CREATE_PATH, body, authorization="")

    assert created.status_code == 200
    assert (not_found.status_code, not_found.json()["code"]) == (404, "ORDER_NOT_EXIST")
    assert (closed.status_code, closed.content) == (204, b"")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "SIGN_ERROR")
    for response in (created, not_found, closed, unsigned):
        _assert_signed_by_the_platform(response)


# --- The sandbox checks the merchant's Authorization -------------------------------------------


def _tampered_authorization(case: str, body: str) -> str:
    valid = _authorization("POST", CREATE_PATH, body)
    if case == "signature flipped":
        signature = re.search(r'signature="([^"]+)"', valid).group(1)
        flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
        return valid.replace(signature, flipped)
    if case == "wrong serial":
        return _authorization("POST", CREATE_PATH, body, serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C")
    if case == "wrong mchid":
        return _authorization("POST", CREATE_PATH, body, mchid="1900000002")
    if case == "old timestamp":
        stale = str(int(time.time()) - 301)
        signature = wechatpayv3_utils.rsa_sign(_merchant_key(), f"POST\n{CREATE_PATH}\n{stale}\nNONCE1\n{body}\n")
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{django_settings.WECHATPAY_MCHID}",nonce_str="NONCE1",'
            f'signature="{signature}",timestamp="{stale}",serial_no="{django_settings.WECHATPAY_CERT_SERIAL}"'
        )
    if case == "signed for another body":
        return _authorization("POST", CREATE_PATH, body.replace('"total": 100', '"total": 1'))
    if case == "signed for another path":
        return _authorization("POST", "/v3/pay/transactions/native", body)
    if case == "other scheme":
        return valid.replace("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SM2-WITH-SM3")
    if case == "missing nonce":
        return re.sub(r'nonce_str="[^"]*",', "", valid)
    if case == "none":
        return ""
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "signature flipped",
        "wrong serial",
        "wrong mchid",
        "old timestamp",
        "signed for another body",
        "signed for another path",
        "other scheme",
        "missing nonce",
        "none",
    ],
)
def test_a_bad_authorization_is_refused_with_sign_error_and_creates_nothing(sandbox, case):
    body = json.dumps(_order("SB20240601000003"))

    response = _send(sandbox, "POST", CREATE_PATH, body, authorization=_tampered_authorization(case, body))

    assert response.status_code == 401
    assert response.json()["code"] == "SIGN_ERROR"
    assert response.json()["message"]
    _assert_signed_by_the_platform(response)
    assert not WeChatPayTrade.objects.exists()


def test_the_sdks_own_authorization_is_accepted(sandbox):
    body = json.dumps(_order("SB20240601000004"))

    response = _send(sandbox, "POST", CREATE_PATH, body)

    assert response.status_code == 200, response.text
    assert WeChatPayTrade.objects.get().prepay_id == response.json()["prepay_id"]


# --- The sandbox validates the order --------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": {"total": 0}}, "PARAM_ERROR"),
        ({"amount": {"total": -1}}, "PARAM_ERROR"),
        ({"amount": {"total": "100"}}, "PARAM_ERROR"),
        ({"amount": {"total": 1.5}}, "PARAM_ERROR"),
        ({"amount": {"total": True}}, "PARAM_ERROR"),
        ({"amount": {"total": 100, "currency": "USD"}}, "PARAM_ERROR"),
        ({"amount": None}, "PARAM_ERROR"),
        ({"description": ""}, "PARAM_ERROR"),
        ({"description": "x" * 128}, "PARAM_ERROR"),
        ({"out_trade_no": "SB123"}, "PARAM_ERROR"),
        ({"out_trade_no": "S" * 33}, "PARAM_ERROR"),
        ({"out_trade_no": "SB2024/0601"}, "PARAM_ERROR"),
        ({"out_trade_no": "SB2024 0601"}, "PARAM_ERROR"),
        ({"notify_url": "https://shop.example.com/notify?order=1"}, "PARAM_ERROR"),
        ({"notify_url": "ftp://shop.example.com/notify"}, "PARAM_ERROR"),
        ({"time_expire": "tomorrow"}, "PARAM_ERROR"),
        ({"time_expire": "2031-06-08T10:34:56"}, "PARAM_ERROR"),
        ({"payer": {}}, "PARAM_ERROR"),
        ({"payer": None}, "PARAM_ERROR"),
        ({"appid": None}, "PARAM_ERROR"),
        ({"appid": "wx-not-bound-to-mchid"}, "APPID_MCHID_NOT_MATCH"),
        ({"mchid": "1900000002"}, "INVALID_REQUEST"),
    ],
)
def test_an_invalid_order_is_refused_and_creates_nothing(sandbox, overrides, code):
    order = {key: value for key, value in _order("SB20240601000005", **overrides).items() if value is not None}

    response = _send(sandbox, "POST", CREATE_PATH, json.dumps(order))

    assert response.status_code == 400
    assert response.json()["code"] == code
    _assert_signed_by_the_platform(response)
    assert not WeChatPayTrade.objects.exists()


def test_a_body_that_is_not_json_is_a_param_error(sandbox):
    response = _send(sandbox, "POST", CREATE_PATH, "{not json")

    assert (response.status_code, response.json()["code"]) == (400, "PARAM_ERROR")


def test_a_repeated_order_gets_the_same_prepay_id_and_a_changed_one_is_a_duplicate(sandbox):
    order = _order("SB20240601000006")
    first = _send(sandbox, "POST", CREATE_PATH, json.dumps(order))
    again = _send(sandbox, "POST", CREATE_PATH, json.dumps(order))
    changed = _send(sandbox, "POST", CREATE_PATH, json.dumps({**order, "amount": {"total": 99, "currency": "CNY"}}))

    assert first.json()["prepay_id"] == again.json()["prepay_id"]
    assert changed.status_code == 400
    assert changed.json() == {"code": "INVALID_REQUEST", "message": "201 商户订单号重复"}
    assert WeChatPayTrade.objects.get().amount_fen == 100


def test_ordering_again_after_payment_is_orderpaid_and_after_closing_is_order_closed(sandbox, receiver):
    paid, closed = _order("SB20240601000007", receiver.url), _order("SB20240601000008", receiver.url)
    _send(sandbox, "POST", CREATE_PATH, json.dumps(paid))
    _send(sandbox, "POST", CREATE_PATH, json.dumps(closed))
    sandbox_wechatpay.confirm_trade("SB20240601000007")
    close_path = "/v3/pay/transactions/out-trade-no/SB20240601000008/close"
    _send(sandbox, "POST", close_path, json.dumps({"mchid": django_settings.WECHATPAY_MCHID}))

    assert _send(sandbox, "POST", CREATE_PATH, json.dumps(paid)).json()["code"] == "ORDERPAID"
    assert _send(sandbox, "POST", CREATE_PATH, json.dumps(closed)).json()["code"] == "ORDER_CLOSED"


def test_query_needs_the_mchid_it_is_signed_for(sandbox):
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000009")))
    path = "/v3/pay/transactions/out-trade-no/SB20240601000009"

    missing = _send(sandbox, "GET", path)
    other = _send(sandbox, "GET", f"{path}?mchid=1900000002")

    assert (missing.status_code, missing.json()["code"]) == (400, "PARAM_ERROR")
    assert (other.status_code, other.json()["code"]) == (400, "INVALID_REQUEST")


def test_a_wrong_method_is_refused_signed(sandbox):
    response = _send(sandbox, "GET", CREATE_PATH)

    assert response.status_code == 405
    _assert_signed_by_the_platform(response)


def test_an_unpaid_order_past_its_time_expire_stays_notpay_and_cannot_be_paid(sandbox, receiver):
    expired = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="seconds")
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000010", receiver.url, time_expire=expired)))

    queried = _send(
        sandbox, "GET", f"/v3/pay/transactions/out-trade-no/SB20240601000010?mchid={django_settings.WECHATPAY_MCHID}"
    )
    confirmed = _confirm(sandbox, "SB20240601000010")

    assert queried.json()["trade_state"] == "NOTPAY"
    assert confirmed.status_code == 409
    assert confirmed.json()["error"] == "trade expired"
    assert receiver.received == []


def test_the_rehearsal_header_answers_a_signed_system_error(sandbox):
    response = _send(
        sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000011")), headers={"X-Sandbox-Fail": "SYSTEM_ERROR"}
    )

    assert (response.status_code, response.json()["code"]) == (500, "SYSTEM_ERROR")
    _assert_signed_by_the_platform(response)
    assert not WeChatPayTrade.objects.exists()


# --- The shopper pays: the notification ------------------------------------------------------


def test_confirming_pays_the_trade_and_notifies_the_merchant_at_once(sandbox, receiver):
    client = WeChatPay.from_settings()
    client.create(
        out_trade_no="SB20240601000012",
        amount_fen=16990,
        description="Scan & pay",
        payer_openid=OPENID,
        notify_url=receiver.url,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
    )

    response = _confirm(sandbox, "SB20240601000012")

    assert response.status_code == 200
    result = response.json()
    assert result["provider"] == "wechat_pay"
    assert result["out_trade_no"] == "SB20240601000012"
    assert result["trade_state"] == "SUCCESS"
    assert result["notified"] is True
    assert re.fullmatch(r"4200\d{24}", result["transaction_id"])
    assert len(receiver.received) == 1
    trade = WeChatPayTrade.objects.get()
    assert (trade.notify_attempts, trade.notified_at is not None) == (1, True)

    queried = client.query(out_trade_no="SB20240601000012")
    assert (queried.state, queried.amount_fen, queried.provider_trade_id) == ("paid", 16990, result["transaction_id"])
    assert queried.raw["success_time"].endswith("+08:00")


def test_our_client_and_the_sdk_both_accept_the_notification_the_sandbox_sends(sandbox, receiver):
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000013", receiver.url)))
    _confirm(sandbox, "SB20240601000013")
    headers, body = receiver.received[0]

    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert headers["Content-Type"] == "application/json"
    envelope = json.loads(body)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"

    library = _library(sandbox.base, receiver.url)
    decrypted = json.loads(library.decrypt_callback(headers, body))
    assert decrypted["out_trade_no"] == "SB20240601000013"
    assert decrypted["trade_state"] == "SUCCESS"
    assert library.callback(headers, body)["resource"] == decrypted

    status = WeChatPay.from_settings().parse_notification(headers=headers, body=body)
    assert status.out_trade_no == "SB20240601000013"
    assert (status.state, status.amount_fen) == ("paid", 100)
    assert status.provider_trade_id == decrypted["transaction_id"]
    assert status.paid_at == WeChatPayTrade.objects.get().success_time


def test_the_notification_builder_feeds_our_parser_directly(db):
    trade = WeChatPayTrade.objects.create(
        mchid=django_settings.WECHATPAY_MCHID,
        out_trade_no="SB20240601000014",
        appid=django_settings.WECHAT_APPID,
        prepay_id="wx20240601000000aaaaaaaaaaaaaaaaaaaa",
        description="Scan & pay",
        amount_fen=500,
        payer_openid=OPENID,
        notify_url="https://shop.example.com/notify",
        trade_state="SUCCESS",
        transaction_id="4200001234202406011234567893",
        success_time=dt.datetime.now(dt.UTC),
        created_at=dt.datetime.now(dt.UTC),
    )
    body = sandbox_wechatpay.build_notification(trade)

    status = WeChatPay.from_settings().parse_notification(
        headers=sandbox_wechatpay.platform_signature_headers(body), body=body
    )
    assert (status.out_trade_no, status.state, status.amount_fen) == ("SB20240601000014", "paid", 500)

    tampered = body.replace(b'"summary"', b'"Summary"')
    with pytest.raises(InvalidNotification):
        WeChatPay.from_settings().parse_notification(
            headers=sandbox_wechatpay.platform_signature_headers(body), body=tampered
        )


def test_a_second_confirmation_pays_nothing_and_sends_nothing(sandbox, receiver):
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000015", receiver.url)))
    first = _confirm(sandbox, "SB20240601000015").json()

    second = _confirm(sandbox, "SB20240601000015")

    assert second.status_code == 200
    assert second.json()["trade_state"] == "SUCCESS"
    assert second.json()["notified"] is True
    assert len(receiver.received) == 1
    assert WeChatPayTrade.objects.get().transaction_id == first["transaction_id"]


def test_a_closed_trade_cannot_be_confirmed(sandbox, receiver):
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000016", receiver.url)))
    close_path = "/v3/pay/transactions/out-trade-no/SB20240601000016/close"
    _send(sandbox, "POST", close_path, json.dumps({"mchid": django_settings.WECHATPAY_MCHID}))

    response = _confirm(sandbox, "SB20240601000016")

    assert response.status_code == 409
    assert response.json()["error"] == "trade closed"
    assert WeChatPayTrade.objects.get().trade_state == "CLOSED"
    assert receiver.received == []


def test_confirming_an_unknown_trade_is_a_404(sandbox):
    assert _confirm(sandbox, "SB-NOBODY-0001").status_code == 404


def test_a_refused_notification_is_retried_in_the_background_signed_afresh(sandbox, receiver):
    receiver.answers.extend([500, 503])
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000017", receiver.url)))

    result = _confirm(sandbox, "SB20240601000017").json()
    for thread in list(sandbox_wechatpay.RETRY_THREADS):
        thread.join(timeout=10)

    assert result["notified"] is False
    assert result["trade_state"] == "SUCCESS"
    assert len(receiver.received) == 3
    bodies = {body for _, body in receiver.received}
    nonces = {headers["Wechatpay-Nonce"] for headers, _ in receiver.received}
    assert len(bodies) == 1, "the same notification each time"
    assert len(nonces) == 3, "each delivery signed afresh"
    trade = WeChatPayTrade.objects.get()
    assert (trade.notify_attempts, trade.notified_at is not None) == (3, True)


def test_a_merchant_that_never_answers_gets_every_retry_then_nothing(sandbox, settings):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    unreachable = f"http://127.0.0.1:{sock.getsockname()[1]}/notify"
    sock.close()
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000018", unreachable)))

    result = _confirm(sandbox, "SB20240601000018").json()
    for thread in list(sandbox_wechatpay.RETRY_THREADS):
        thread.join(timeout=10)

    assert result["notified"] is False
    trade = WeChatPayTrade.objects.get()
    assert trade.trade_state == "SUCCESS"
    assert (trade.notify_attempts, trade.notified_at) == (1 + len(settings.SANDBOX_NOTIFY_RETRY_DELAYS), None)


def test_the_notification_resource_is_aes_gcm_under_the_apiv3_key(sandbox, receiver):
    _send(sandbox, "POST", CREATE_PATH, json.dumps(_order("SB20240601000019", receiver.url)))
    _confirm(sandbox, "SB20240601000019")
    resource = json.loads(receiver.received[0][1])["resource"]

    plaintext = wechatpayv3_utils.aes_decrypt(
        nonce=resource["nonce"],
        ciphertext=resource["ciphertext"],
        associated_data=resource["associated_data"],
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
    )
    wrong_key = wechatpayv3_utils.aes_decrypt(
        nonce=resource["nonce"],
        ciphertext=resource["ciphertext"],
        associated_data=resource["associated_data"],
        apiv3_key="0123456789abcdef0123456789abcdef",
    )

    assert json.loads(plaintext)["out_trade_no"] == "SB20240601000019"
    assert wrong_key is None
    assert len(resource["nonce"]) == 12
    assert base64.b64decode(resource["ciphertext"])
