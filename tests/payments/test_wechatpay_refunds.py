"""WeChat Pay refunds: our client over real HTTP against the sandbox on a live server, the
sandbox's rules, and refund notifications.

What WeChat Pay checks (the merchant's signature, what remains refundable, repeats of an
``out_refund_no``) is checked by the sandbox; what we check (the platform's signature on
answers and notifications, the decrypted refund) is tested with notifications built here
with ``AESGCM`` and signed with the ``wechatpayv3`` library's helpers, and the sandbox's
own notifications are decrypted by the ``wechatpayv3`` SDK too.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings as django_settings
from django.utils import timezone
from wechatpayv3 import WeChatPay as LibraryWeChatPay
from wechatpayv3 import WeChatPayType
from wechatpayv3 import utils as wechatpayv3_utils

from checkout.payments.base import (
    InvalidNotification,
    PaymentProviderError,
    PaymentProviderUnavailable,
    RefundStatus,
    TradeStatus,
)
from checkout.payments.wechatpay import WeChatPay
from miniprogram_api.sandbox import wechatpay as sandbox_wechatpay
from miniprogram_api.sandbox import wechatpay_refunds as sandbox_refunds
from miniprogram_api.sandbox.models import WeChatPayRefund, WeChatPayTrade
from tests.parallel import run_in_parallel

from .refund_notifications import wechatpay_refund, wechatpay_refund_notification, wechatpay_signed_headers

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
OPENID = "o-test-refund-payer-01"


# --- Fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def receiver():
    """The merchant's notify endpoint: records what arrives, answers the queued statuses (then 204)."""
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
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def refunds() -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in received if json.loads(b)["event_type"].startswith("REFUND.")]

    def wait_for_refunds(count: int, timeout: float = 5) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(refunds()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(refunds()) >= count, f"expected {count} refund notifications, got {len(refunds())}"
        return refunds()

    yield SimpleNamespace(
        url=f"http://127.0.0.1:{server.server_port}/notify",
        received=received,
        answers=answers,
        refunds=refunds,
        wait_for_refunds=wait_for_refunds,
    )
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(live_server, settings, receiver):
    """WeChat Pay at the sandbox; refunds wait to be completed unless a test says otherwise."""
    settings.WECHATPAY_BASE_URL = f"{live_server.url}/sandbox/wechatpay"
    settings.PAYMENT_HTTP_TIMEOUT = (2, 5)
    settings.PAYMENT_HTTP_RETRY_DELAYS = (0.01, 0.01)
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = []
    settings.SANDBOX_REFUND_SECONDS = -1
    yield SimpleNamespace(base=settings.WECHATPAY_BASE_URL, root=live_server.url, receiver=receiver)
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)


@pytest.fixture
def client(sandbox) -> WeChatPay:
    return WeChatPay.from_settings()


def _paid_trade(client: WeChatPay, sandbox, out_trade_no: str, amount_fen: int = 10000) -> WeChatPayTrade:
    client.create(
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        description="Scan & pay",
        payer_openid=OPENID,
        notify_url=sandbox.receiver.url,
        expires_at=timezone.now() + dt.timedelta(minutes=15),
    )
    assert sandbox_wechatpay.confirm_trade(out_trade_no)["trade_state"] == "SUCCESS"
    return WeChatPayTrade.objects.get(out_trade_no=out_trade_no)


def _refund(client: WeChatPay, sandbox, out_trade_no: str, out_refund_no: str, refund_fen: int, **overrides):
    arguments = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "refund_fen": refund_fen,
        "total_fen": 10000,
        "reason": "No-questions return",
        "notify_url": sandbox.receiver.url,
    }
    arguments.update(overrides)
    return client.refund(**arguments)


def _library(sandbox) -> LibraryWeChatPay:
    library = LibraryWeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=django_settings.WECHATPAY_MCHID,
        private_key=Path(django_settings.WECHATPAY_PRIVATE_KEY_PATH).read_text(),
        cert_serial_no=django_settings.WECHATPAY_CERT_SERIAL,
        appid=django_settings.WECHAT_APPID,
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
        notify_url=sandbox.receiver.url,
        public_key=Path(django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH).read_text(),
        public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        timeout=(2, 5),
    )
    library._core._gate_way = sandbox.base  # the SDK has no public setting for its host
    return library


def _parser() -> WeChatPay:
    """Our client, for parsing only (it never calls out)."""
    return WeChatPay(
        appid=django_settings.WECHAT_APPID,
        mchid=django_settings.WECHATPAY_MCHID,
        merchant_private_key_path=django_settings.WECHATPAY_PRIVATE_KEY_PATH,
        merchant_serial_no=django_settings.WECHATPAY_CERT_SERIAL,
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
        platform_public_key_path=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH,
        platform_public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        base_url="http://127.0.0.1:9",
        timeout=(0.2, 0.2),
        retry_delays=(),
    )


# --- Refund, query, complete --------------------------------------------------------------


def test_a_refund_is_processing_until_it_succeeds_and_the_query_then_says_so(client, sandbox, settings):
    settings.SANDBOX_REFUND_SECONDS = 0.3
    _paid_trade(client, sandbox, "RF20261122000001")

    accepted = _refund(client, sandbox, "RF20261122000001", "RF20261122000001F1", 2550)
    still = client.query_refund(out_trade_no="RF20261122000001", out_refund_no="RF20261122000001F1")
    time.sleep(0.4)
    done = client.query_refund(out_trade_no="RF20261122000001", out_refund_no="RF20261122000001F1")

    stored = WeChatPayRefund.objects.get()
    assert (accepted.state, accepted.amount_fen, accepted.succeeded_at) == ("processing", 2550, None)
    assert accepted.provider_refund_id == stored.refund_id
    assert (accepted.out_trade_no, accepted.out_refund_no) == ("RF20261122000001", "RF20261122000001F1")
    assert still.state == "processing"
    assert (done.state, done.amount_fen, done.provider_refund_id) == ("succeeded", 2550, stored.refund_id)
    assert done.succeeded_at is not None and done.succeeded_at.tzinfo is not None
    assert done.raw["amount"]["total"] == 10000


def test_the_refund_request_is_the_documented_one(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000002")

    _refund(client, sandbox, "RF20261122000002", "RF2|F*1@x", 100, reason="退货" * 30)

    stored = WeChatPayRefund.objects.get()
    assert (stored.out_refund_no, stored.refund_fen, stored.total_fen) == ("RF2|F*1@x", 100, 10000)
    assert stored.notify_url == sandbox.receiver.url
    assert stored.reason == "退货" * 13, "cut to at most 80 bytes of UTF-8 (26 characters), never mid-character"


def test_a_trade_with_a_refund_is_refund_at_wechat_and_still_paid_for_us(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000003")

    _refund(client, sandbox, "RF20261122000003", "RF20261122000003F1", 10000)
    trade = client.query(out_trade_no="RF20261122000003")

    assert (trade.state, trade.raw["trade_state"], trade.amount_fen) == ("paid", "REFUND", 10000)
    with pytest.raises(PaymentProviderError) as refused:
        client.close(out_trade_no="RF20261122000003")
    assert refused.value.details["provider_code"] == "ORDERPAID"


def test_a_query_past_the_due_time_answers_success_before_the_background_thread_does(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000004")
    _refund(client, sandbox, "RF20261122000004", "RF20261122000004F1", 500)  # no timer: completed by hand
    WeChatPayRefund.objects.update(due_at=timezone.now() - dt.timedelta(seconds=1))

    status = client.query_refund(out_trade_no="RF20261122000004", out_refund_no="RF20261122000004F1")

    assert status.state == "succeeded"
    (headers, body) = sandbox.receiver.wait_for_refunds(1)[0]
    assert _parser().parse_notification(headers=headers, body=body).state == "succeeded"
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)
    client.query_refund(out_trade_no="RF20261122000004", out_refund_no="RF20261122000004F1")
    assert len(sandbox.receiver.refunds()) == 1, "the one who moved it to SUCCESS notified, once"


def test_on_its_own_a_refund_succeeds_and_is_notified_once(client, sandbox, settings):
    settings.SANDBOX_REFUND_SECONDS = 0.1
    _paid_trade(client, sandbox, "RF20261122000005")

    _refund(client, sandbox, "RF20261122000005", "RF20261122000005F1", 700)

    (headers, body) = sandbox.receiver.wait_for_refunds(1)[0]
    status = _parser().parse_notification(headers=headers, body=body)
    assert isinstance(status, RefundStatus)
    assert (status.state, status.amount_fen, status.out_refund_no) == ("succeeded", 700, "RF20261122000005F1")
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)
    assert len(sandbox.receiver.refunds()) == 1
    assert WeChatPayRefund.objects.get().notified_at is not None


def test_asking_again_with_the_same_out_refund_no_is_the_same_refund(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000006")

    first = _refund(client, sandbox, "RF20261122000006", "RF20261122000006F1", 3000)
    again = _refund(client, sandbox, "RF20261122000006", "RF20261122000006F1", 3000)

    assert again.provider_refund_id == first.provider_refund_id
    assert WeChatPayRefund.objects.count() == 1


def test_the_same_out_refund_no_with_another_amount_or_trade_is_refused(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000007")
    _paid_trade(client, sandbox, "RF20261122000008")
    _refund(client, sandbox, "RF20261122000007", "RF20261122000007F1", 3000)

    with pytest.raises(PaymentProviderError) as other_amount:
        _refund(client, sandbox, "RF20261122000007", "RF20261122000007F1", 3001)
    with pytest.raises(PaymentProviderError) as other_trade:
        _refund(client, sandbox, "RF20261122000008", "RF20261122000007F1", 3000)

    assert other_amount.value.details == {"http_status": 400, "provider_code": "INVALID_REQUEST"}
    assert other_trade.value.details == {"http_status": 400, "provider_code": "INVALID_REQUEST"}
    assert list(WeChatPayRefund.objects.values_list("refund_fen", flat=True)) == [3000]
    assert WeChatPayTrade.objects.get(out_trade_no="RF20261122000008").trade_state == "SUCCESS"


def test_a_refund_above_what_remains_is_refused_and_what_remains_can_still_be_refunded(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000009")
    _refund(client, sandbox, "RF20261122000009", "RF20261122000009F1", 6000)

    with pytest.raises(PaymentProviderError) as refused:
        _refund(client, sandbox, "RF20261122000009", "RF20261122000009F2", 4001)
    last = _refund(client, sandbox, "RF20261122000009", "RF20261122000009F3", 4000)
    with pytest.raises(PaymentProviderError) as nothing_left:
        _refund(client, sandbox, "RF20261122000009", "RF20261122000009F4", 1)

    assert refused.value.details == {"http_status": 400, "provider_code": "INVALID_REQUEST"}
    assert nothing_left.value.details["provider_code"] == "INVALID_REQUEST"
    assert last.state == "processing"
    assert sorted(WeChatPayRefund.objects.values_list("out_refund_no", "refund_fen")) == [
        ("RF20261122000009F1", 6000),
        ("RF20261122000009F3", 4000),
    ]


def test_a_closed_refund_gives_its_amount_back_to_what_remains(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000010")
    _refund(client, sandbox, "RF20261122000010", "RF20261122000010F1", 10000)

    sandbox_refunds.complete_refund("RF20261122000010F1", status="CLOSED")
    again = _refund(client, sandbox, "RF20261122000010", "RF20261122000010F2", 10000)

    assert again.state == "processing"


def test_refunding_an_unpaid_or_unknown_trade_is_resource_not_exists(client, sandbox):
    client.create(
        out_trade_no="RF20261122000011",
        amount_fen=10000,
        description="Scan & pay",
        payer_openid=OPENID,
        notify_url=sandbox.receiver.url,
        expires_at=timezone.now() + dt.timedelta(minutes=15),
    )

    with pytest.raises(PaymentProviderError) as unpaid:
        _refund(client, sandbox, "RF20261122000011", "RF20261122000011F1", 100)
    with pytest.raises(PaymentProviderError) as unknown:
        _refund(client, sandbox, "RF29999999999999", "RF29999999999999F1", 100)

    assert unpaid.value.details == {"http_status": 404, "provider_code": "RESOURCE_NOT_EXISTS"}
    assert unknown.value.details == {"http_status": 404, "provider_code": "RESOURCE_NOT_EXISTS"}
    assert not WeChatPayRefund.objects.exists()
    assert WeChatPayTrade.objects.get().trade_state == "NOTPAY"


def test_a_total_that_is_not_the_trades_is_refused(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000012")

    with pytest.raises(PaymentProviderError) as refused:
        _refund(client, sandbox, "RF20261122000012", "RF20261122000012F1", 100, total_fen=9999)

    assert refused.value.details["provider_code"] == "INVALID_REQUEST"
    assert not WeChatPayRefund.objects.exists()


def test_querying_a_refund_wechat_never_accepted_is_resource_not_exists(client, sandbox):
    with pytest.raises(PaymentProviderError) as refused:
        client.query_refund(out_trade_no="RF20261122000013", out_refund_no="RF20261122000013F1")

    assert refused.value.details == {"http_status": 404, "provider_code": "RESOURCE_NOT_EXISTS"}


@pytest.fixture
def stranger_key_path(tmp_path) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "stranger.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


def test_a_refund_signed_with_a_key_wechat_does_not_know_is_refused(client, sandbox, settings, stranger_key_path):
    _paid_trade(client, sandbox, "RF20261122000014")
    settings.WECHATPAY_PRIVATE_KEY_PATH = stranger_key_path

    with pytest.raises(PaymentProviderError) as refused:
        _refund(WeChatPay.from_settings(), sandbox, "RF20261122000014", "RF20261122000014F1", 100)

    assert refused.value.details == {"http_status": 401, "provider_code": "SIGN_ERROR"}
    assert not WeChatPayRefund.objects.exists()


def test_a_refund_body_changed_after_signing_is_refused(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000015")
    path = "/v3/refund/domestic/refunds"
    signed = json.dumps({"out_trade_no": "RF20261122000015", "out_refund_no": "X1", "amount": {"refund": 1}})
    sent = signed.replace('"refund": 1', '"refund": 10000')
    authorization = wechatpayv3_utils.build_authorization(
        path,
        "POST",
        django_settings.WECHATPAY_MCHID,
        django_settings.WECHATPAY_CERT_SERIAL,
        serialization.load_pem_private_key(Path(django_settings.WECHATPAY_PRIVATE_KEY_PATH).read_bytes(), None),
        data=signed,
    )

    response = requests.post(
        sandbox.base + path,
        data=sent.encode(),
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        timeout=5,
    )

    assert (response.status_code, response.json()["code"]) == (401, "SIGN_ERROR")
    assert not WeChatPayRefund.objects.exists()


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        ({"refund": 0, "total": 10000, "currency": "CNY"}, "/amount/refund"),
        ({"refund": 1.5, "total": 10000, "currency": "CNY"}, "/amount/refund"),
        ({"refund": 100, "total": "10000", "currency": "CNY"}, "/amount/total"),
        ({"refund": 100, "total": 10000, "currency": "USD"}, "/amount/currency"),
    ],
)
def test_malformed_amounts_are_param_errors(client, sandbox, amount, field):
    _paid_trade(client, sandbox, "RF20261122000016")
    body = {"out_trade_no": "RF20261122000016", "out_refund_no": "RF20261122000016F1", "amount": amount}

    answer = client._call  # the signed transport, to send what our refund() would never build
    with pytest.raises(PaymentProviderError) as refused:
        answer("POST", "/v3/refund/domestic/refunds", body=body)

    assert refused.value.details["provider_code"] == "PARAM_ERROR"
    assert not WeChatPayRefund.objects.exists()


def test_refund_arguments_we_would_never_send_are_refused_before_any_call():
    with pytest.raises(ValueError):
        _parser().refund(
            out_trade_no="A", out_refund_no="B", refund_fen=0, total_fen=100, reason="", notify_url="https://x.cn/n"
        )
    with pytest.raises(ValueError):
        _parser().refund(
            out_trade_no="A", out_refund_no="B", refund_fen=101, total_fen=100, reason="", notify_url="https://x.cn/n"
        )


def test_system_errors_and_rate_limits_are_unavailable(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000017")
    session = requests.Session()
    session.headers["X-Sandbox-Fail"] = "SYSTEM_ERROR"
    client._http = session

    with pytest.raises(PaymentProviderUnavailable) as unavailable:
        _refund(client, sandbox, "RF20261122000017", "RF20261122000017F1", 100)

    assert unavailable.value.details == {"http_status": 500, "provider_code": "SYSTEM_ERROR"}
    assert not WeChatPayRefund.objects.exists()


# --- Completing by hand -------------------------------------------------------------------


def test_the_complete_endpoint_finishes_the_refund_and_notifies_it(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000018")
    _refund(client, sandbox, "RF20261122000018", "RF20261122000018F1", 1234)

    completed = requests.post(f"{sandbox.root}/sandbox/refunds/RF20261122000018F1/complete", timeout=10)
    again = requests.post(f"{sandbox.root}/sandbox/refunds/RF20261122000018F1/complete", timeout=10)
    contradicting = requests.post(
        f"{sandbox.root}/sandbox/refunds/RF20261122000018F1/complete", json={"status": "CLOSED"}, timeout=10
    )
    unknown = requests.post(f"{sandbox.root}/sandbox/refunds/NOPE/complete", timeout=10)

    assert completed.status_code == 200
    assert completed.json() == {
        "provider": "wechat_pay",
        "out_refund_no": "RF20261122000018F1",
        "status": "SUCCESS",
        "notified": True,
    }
    assert (again.status_code, again.json()["status"], again.json()["notified"]) == (200, "SUCCESS", True)
    assert (contradicting.status_code, contradicting.json()["status"]) == (409, "SUCCESS")
    assert unknown.status_code == 404
    assert len(sandbox.receiver.refunds()) == 1, "completing again sends nothing"
    status = client.query_refund(out_trade_no="RF20261122000018", out_refund_no="RF20261122000018F1")
    assert (status.state, status.amount_fen) == ("succeeded", 1234)


@pytest.mark.parametrize("final", ["CLOSED", "ABNORMAL"])
def test_a_refund_wechat_closes_or_cannot_deliver_is_failed(client, sandbox, final):
    _paid_trade(client, sandbox, "RF20261122000019")
    _refund(client, sandbox, "RF20261122000019", "RF20261122000019F1", 100)

    result = sandbox_refunds.complete_refund("RF20261122000019F1", status=final)

    assert (result["status"], result["notified"]) == (final, True)
    queried = client.query_refund(out_trade_no="RF20261122000019", out_refund_no="RF20261122000019F1")
    assert (queried.state, queried.raw["status"]) == ("failed", final)
    (headers, body) = sandbox.receiver.refunds()[0]
    assert json.loads(body)["event_type"] == f"REFUND.{final}"
    notified = _parser().parse_notification(headers=headers, body=body)
    assert (notified.state, notified.raw["refund_status"], notified.succeeded_at) == ("failed", final, None)


def test_a_refused_refund_notification_is_retried_signed_afresh(client, sandbox, settings):
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = [0.02, 0.02]
    _paid_trade(client, sandbox, "RF20261122000020")
    _refund(client, sandbox, "RF20261122000020", "RF20261122000020F1", 100)
    sandbox.receiver.answers[:] = [500, 401]

    result = sandbox_refunds.complete_refund("RF20261122000020F1")

    assert result["notified"] is False
    deliveries = sandbox.receiver.wait_for_refunds(3)
    assert len({headers["Wechatpay-Nonce"] for headers, _ in deliveries}) == 3
    for thread in list(sandbox_refunds.REFUND_THREADS):
        thread.join(timeout=5)
    stored = WeChatPayRefund.objects.get()
    assert stored.notify_attempts == 3 and stored.notified_at is not None


# --- An independent client: the wechatpayv3 SDK ----------------------------------------------


def test_the_wechatpayv3_sdk_refunds_and_queries_against_the_sandbox(client, sandbox):
    """The SDK verifies every answer's signature itself and decrypts the notification."""
    _paid_trade(client, sandbox, "RF20261122000021")
    library = _library(sandbox)

    code, message = library.refund(
        out_refund_no="RF20261122000021F1",
        amount={"refund": 800, "total": 10000, "currency": "CNY"},
        out_trade_no="RF20261122000021",
        reason="退货",
        notify_url=sandbox.receiver.url,
    )
    sandbox_refunds.complete_refund("RF20261122000021F1")
    queried_code, queried = library.query_refund(out_refund_no="RF20261122000021F1")
    (headers, body) = sandbox.receiver.refunds()[0]
    decrypted = library.callback(headers, body)

    assert code == 200 and json.loads(message)["status"] == "PROCESSING"
    assert queried_code == 200 and json.loads(queried)["status"] == "SUCCESS"
    assert decrypted["event_type"] == "REFUND.SUCCESS"
    resource = decrypted["resource"]
    assert resource["out_refund_no"] == "RF20261122000021F1"
    assert resource["refund_status"] == "SUCCESS"
    assert resource["amount"] == {"total": 10000, "refund": 800, "payer_total": 10000, "payer_refund": 800}
    assert resource["mchid"] == django_settings.WECHATPAY_MCHID


# --- Refund notifications built independently ------------------------------------------------


def test_a_refund_notification_is_verified_decrypted_and_read():
    body = wechatpay_refund_notification()

    status = _parser().parse_notification(headers=wechatpay_signed_headers(body), body=body)

    assert isinstance(status, RefundStatus)
    assert status == RefundStatus(
        out_trade_no="RF20261122000030",
        out_refund_no="RF20261122000030F1",
        state="succeeded",
        amount_fen=2550,
        provider_refund_id="50300202611221234567890123456",
        succeeded_at=dt.datetime(2026, 11, 22, 12, 5, 6, tzinfo=SHANGHAI),
        raw=wechatpay_refund(),
    )


def test_the_library_accepts_the_refund_notification_we_test_with():
    body = wechatpay_refund_notification()
    library = LibraryWeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=django_settings.WECHATPAY_MCHID,
        private_key=Path(django_settings.WECHATPAY_PRIVATE_KEY_PATH).read_text(),
        cert_serial_no=django_settings.WECHATPAY_CERT_SERIAL,
        appid=django_settings.WECHAT_APPID,
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
        public_key=Path(django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH).read_text(),
        public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
    )

    assert library.callback(wechatpay_signed_headers(body), body)["resource"]["out_refund_no"] == "RF20261122000030F1"


def test_a_payment_notification_is_still_a_trade_status():
    transaction = {
        "appid": django_settings.WECHAT_APPID,
        "mchid": django_settings.WECHATPAY_MCHID,
        "out_trade_no": "RF20261122000031",
        "transaction_id": "4200001234202611221234567891",
        "trade_state": "SUCCESS",
        "success_time": "2026-11-22T12:05:06+08:00",
        "amount": {"total": 100, "payer_total": 100},
    }
    ciphertext = AESGCM(django_settings.WECHATPAY_APIV3_KEY.encode()).encrypt(
        b"abcdefghijkl", json.dumps(transaction).encode(), b"transaction"
    )
    body = json.dumps(
        {
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "transaction",
                "nonce": "abcdefghijkl",
            },
        }
    ).encode()

    status = _parser().parse_notification(headers=wechatpay_signed_headers(body), body=body)

    assert isinstance(status, TradeStatus) and status.state == "paid"


def _badwechatpay_refund_notification(case: str, stranger_key_path: str) -> tuple[dict, bytes]:
    body = wechatpay_refund_notification()
    if case == "body tampered":
        return wechatpay_signed_headers(body), body.replace(b"REFUND.SUCCESS", b"REFUND.SUCCESs")
    if case == "signed by another key":
        return wechatpay_signed_headers(body, key_path=stranger_key_path), body
    if case == "stale signature":
        return wechatpay_signed_headers(body, timestamp=int(time.time()) - 301), body
    bodies = {
        "wrong apiv3 key": lambda: wechatpay_refund_notification(apiv3_key="0123456789abcdef0123456789abcdef"),
        "another merchant": lambda: wechatpay_refund_notification(wechatpay_refund(mchid="1900000002")),
        "no mchid": lambda: wechatpay_refund_notification(wechatpay_refund(mchid=None)),
        "not a refund event": lambda: wechatpay_refund_notification(event_type="TRANSACTION.SUCCESS"),
        "unknown original_type": lambda: wechatpay_refund_notification(
            resource={**json.loads(wechatpay_refund_notification())["resource"], "original_type": "refunds"}
        ),
        "unknown refund_status": lambda: wechatpay_refund_notification(wechatpay_refund(refund_status="REFUNDED")),
        "no out_refund_no": lambda: wechatpay_refund_notification(wechatpay_refund(out_refund_no="")),
        "no refund_id": lambda: wechatpay_refund_notification(wechatpay_refund(refund_id=None)),
        "amount not fen": lambda: wechatpay_refund_notification(wechatpay_refund(amount={"refund": "25.50"})),
        "negative amount": lambda: wechatpay_refund_notification(wechatpay_refund(amount={"refund": -1})),
        "bad success_time": lambda: wechatpay_refund_notification(wechatpay_refund(success_time="2026-11-22 12:05:06")),
    }
    body = bodies[case]()
    return wechatpay_signed_headers(body), body


BAD_REFUND_NOTIFICATIONS = [
    "body tampered",
    "signed by another key",
    "stale signature",
    "wrong apiv3 key",
    "another merchant",
    "no mchid",
    "not a refund event",
    "unknown original_type",
    "unknown refund_status",
    "no out_refund_no",
    "no refund_id",
    "amount not fen",
    "negative amount",
    "bad success_time",
]


@pytest.mark.parametrize("case", BAD_REFUND_NOTIFICATIONS)
def test_a_refund_notification_that_does_not_check_out_is_invalid(case, stranger_key_path):
    headers, body = _badwechatpay_refund_notification(case, stranger_key_path)

    with pytest.raises(InvalidNotification):
        _parser().parse_notification(headers=headers, body=body)


# --- Answers we must not believe -------------------------------------------------------------


class CannedSession:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[dict] = []

    def request(self, method, url, **kwargs):
        self.calls.append({"method": method, "url": url, **kwargs})
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        status, body = outcome
        response = requests.Response()
        response.status_code = status
        response.headers.update(wechatpay_signed_headers(body))
        response._content = body
        return response


def _canned(*outcomes) -> tuple[WeChatPay, CannedSession]:
    client, session = _parser(), CannedSession(*outcomes)
    client._http = session
    client.retry_delays = (0, 0)
    return client, session


def _answer(**overrides) -> bytes:
    answer = {
        "refund_id": "50300202611221234567890123456",
        "out_refund_no": "RF1F1",
        "transaction_id": "4200001234202611221234567890",
        "out_trade_no": "RF1",
        "channel": "ORIGINAL",
        "create_time": "2026-11-22T12:05:06+08:00",
        "status": "PROCESSING",
        "amount": {"total": 10000, "refund": 2550, "payer_total": 10000, "payer_refund": 2550, "currency": "CNY"},
    }
    answer.update(overrides)
    return json.dumps(answer).encode()


def _ask(client: WeChatPay) -> RefundStatus:
    return client.refund(
        out_trade_no="RF1",
        out_refund_no="RF1F1",
        refund_fen=2550,
        total_fen=10000,
        reason="",
        notify_url="https://x.cn/n",
    )


@pytest.mark.parametrize(
    ("wechat_status", "state"),
    [("PROCESSING", "processing"), ("SUCCESS", "succeeded"), ("CLOSED", "failed"), ("ABNORMAL", "failed")],
)
def test_every_documented_refund_status_maps_to_ours(wechat_status, state):
    client, session = _canned((200, _answer(status=wechat_status, success_time="2026-11-22T12:05:09+08:00")))

    status = _ask(client)

    assert status.state == state
    assert (status.succeeded_at is not None) is (wechat_status == "SUCCESS")
    sent = json.loads(session.calls[0]["data"])
    assert session.calls[0]["url"].endswith("/v3/refund/domestic/refunds")
    assert sent == {
        "out_trade_no": "RF1",
        "out_refund_no": "RF1F1",
        "notify_url": "https://x.cn/n",
        "amount": {"refund": 2550, "total": 10000, "currency": "CNY"},
    }


@pytest.mark.parametrize(
    "answer",
    [
        _answer(out_refund_no="RF1F2"),
        _answer(out_trade_no="RF2"),
        _answer(amount={"refund": 2551, "total": 10000}),
        _answer(status="REFUNDED"),
        _answer(refund_id=""),
        b"[]",
    ],
    ids=["another-refund", "another-trade", "another-amount", "unknown-status", "no-refund-id", "not-an-object"],
)
def test_a_signed_but_unusable_refund_answer_is_a_provider_error(answer):
    client, _ = _canned((200, answer))

    with pytest.raises(PaymentProviderError):
        _ask(client)


def test_an_unsigned_refund_answer_is_not_believed():
    client, session = _canned((200, _answer(status="SUCCESS")))
    session.request = lambda method, url, **kwargs: _unsigned(200, _answer(status="SUCCESS"))

    with pytest.raises(PaymentProviderError):
        _ask(client)


def _unsigned(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    return response


@pytest.mark.parametrize(("status", "code"), [(500, "SYSTEM_ERROR"), (429, "FREQUENCY_LIMITED")])
def test_refund_system_errors_and_rate_limits_are_unavailable(status, code):
    client, _ = _canned((status, json.dumps({"code": code, "message": "x"}).encode()))

    with pytest.raises(PaymentProviderUnavailable) as unavailable:
        _ask(client)

    assert unavailable.value.details == {"http_status": status, "provider_code": code}


@pytest.mark.parametrize(("status", "code"), [(403, "NOT_ENOUGH"), (403, "USER_ACCOUNT_ABNORMAL"), (403, "NO_AUTH")])
def test_refund_refusals_carry_wechats_code(status, code):
    client, _ = _canned((status, json.dumps({"code": code, "message": "x"}).encode()))

    with pytest.raises(PaymentProviderError) as refused:
        _ask(client)

    assert type(refused.value) is PaymentProviderError
    assert refused.value.details == {"http_status": status, "provider_code": code}


def test_a_refund_whose_connection_failed_is_asked_again_with_the_same_out_refund_no():
    client, session = _canned(requests.ConnectionError("reset"), (200, _answer()))

    assert _ask(client).state == "processing"
    assert [json.loads(call["data"])["out_refund_no"] for call in session.calls] == ["RF1F1", "RF1F1"]


def test_the_refund_query_is_a_signed_get_of_the_percent_encoded_out_refund_no():
    client, session = _canned((200, _answer(out_refund_no="RF1|F*1", status="SUCCESS")))

    status = client.query_refund(out_trade_no="RF1", out_refund_no="RF1|F*1")

    assert status.state == "succeeded"
    call = session.calls[0]
    assert (call["method"], call["data"]) == ("GET", None)
    assert call["url"].endswith("/v3/refund/domestic/refunds/RF1%7CF%2A1")


# --- Refunds racing for one trade (PostgreSQL: real row locks) --------------------------------


def _attempt(client: WeChatPay, sandbox, out_refund_no: str, refund_fen: int) -> str:
    try:
        return _refund(client, sandbox, "RF20261122000040", out_refund_no, refund_fen).provider_refund_id
    except PaymentProviderError as exc:
        return exc.details["provider_code"]


@pytest.mark.postgres
def test_eight_refunds_racing_for_one_trade_never_refund_more_than_it_was_paid(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000040")

    outcomes = run_in_parallel(lambda i: _attempt(WeChatPay.from_settings(), sandbox, f"RACE{i}", 3000), 8)

    assert outcomes.count("INVALID_REQUEST") == 5
    assert WeChatPayRefund.objects.count() == 3
    assert sum(WeChatPayRefund.objects.values_list("refund_fen", flat=True)) == 9000


@pytest.mark.postgres
def test_one_refund_asked_six_times_at_once_is_made_once(client, sandbox):
    _paid_trade(client, sandbox, "RF20261122000040")

    outcomes = run_in_parallel(lambda i: _attempt(WeChatPay.from_settings(), sandbox, "RACE-ONE", 6000), 6)

    assert len(set(outcomes)) == 1 and outcomes[0] == WeChatPayRefund.objects.get().refund_id
