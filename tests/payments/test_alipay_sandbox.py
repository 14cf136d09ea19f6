"""Our Alipay client against the sandbox's gateway over real HTTP (pytest-django's live
server), the way it speaks to openapi.alipay.com in production.

The sandbox is checked on its own too: it refuses requests that Alipay would refuse
(signature, app id, missing parameters, stale timestamps), and python-alipay-sdk, which
we did not write, can drive it end to end and verifies both its answers and the
notification it posts when the shopper pays.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.utils import timezone

from checkout.payments import alipay_signing as signing
from checkout.payments.alipay import Alipay
from checkout.payments.base import InvalidNotification, PaymentProviderError, PaymentProviderUnavailable
from miniprogram_api.sandbox import alipay as sandbox
from miniprogram_api.sandbox.models import AlipayTrade

GATEWAY = "/sandbox/alipay/gateway.do"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def _pem(path) -> str:
    return Path(path).read_text()


class NotifyReceiver:
    """Plays our notify endpoint: records each POST and answers the scripted texts in turn
    (then ``success``)."""

    def __init__(self):
        self.received: list[dict] = []
        self.answers: list[str] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                text = (receiver.answers.pop(0) if receiver.answers else "success").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                receiver.arrived.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/payments/alipay/notify"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def fields(self, index: int = -1) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.received[index]["body"].decode(), keep_blank_values=True))

    def wait_for(self, count: int, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.received) >= count, f"expected {count} notifications, got {len(self.received)}"


@pytest.fixture
def receiver():
    receiver = NotifyReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def gateway_url(live_server, settings) -> str:
    settings.ALIPAY_GATEWAY_URL = f"{live_server.url}{GATEWAY}"
    settings.PAYMENT_HTTP_TIMEOUT = (2, 5)
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = [0.05, 0.1, 0.2]
    return settings.ALIPAY_GATEWAY_URL


@pytest.fixture
def provider(gateway_url) -> Alipay:
    provider = Alipay.from_settings()
    provider.retry_delays = (0, 0)
    return provider


def _create(provider: Alipay, out_trade_no: str = "P20261122000001", amount_fen: int = 16900, **kwargs):
    options = {
        "out_trade_no": out_trade_no,
        "amount_fen": amount_fen,
        "description": "扫码购 上海店",
        "payer_openid": "o-wechat-openid-of-the-shopper",
        "notify_url": "http://127.0.0.1:9/never-called",
        "expires_at": timezone.now() + dt.timedelta(minutes=15),
    }
    options.update(kwargs)
    return provider.create(**options)


# --- Round trips --------------------------------------------------------------------------


def test_create_then_query_shows_a_trade_awaiting_payment(provider):
    created = _create(provider)

    trade = AlipayTrade.objects.get()
    assert created.client_params == {"tradeNO": trade.trade_no}
    assert created.provider_reference == trade.trade_no
    assert len(trade.trade_no) == 28 and trade.trade_no.isdigit()
    assert trade.trade_no.startswith(timezone.localtime(trade.created_at).strftime("%Y%m%d"))
    assert (trade.total_amount, trade.subject, trade.seller_id) == (
        "169.00",
        "扫码购 上海店",
        settings.ALIPAY_SELLER_ID,
    )
    assert trade.buyer_open_id == "" and trade.buyer_id == ""
    status = provider.query(out_trade_no="P20261122000001")
    assert (status.state, status.amount_fen, status.provider_trade_id) == ("pending", 16900, trade.trade_no)
    assert status.paid_at is None


@pytest.mark.parametrize(("fen", "yuan"), [(1, "0.01"), (16900, "169.00"), (123456789, "1234567.89")])
def test_amounts_reach_alipay_as_yuan_and_come_back_as_the_same_fen(provider, fen, yuan):
    _create(provider, amount_fen=fen)

    assert AlipayTrade.objects.get().total_amount == yuan
    assert provider.query(out_trade_no="P20261122000001").amount_fen == fen


def test_close_closes_and_closing_again_is_fine(provider):
    _create(provider)

    provider.close(out_trade_no="P20261122000001")
    provider.close(out_trade_no="P20261122000001")

    assert AlipayTrade.objects.get().trade_status == "TRADE_CLOSED"
    assert provider.query(out_trade_no="P20261122000001").state == "closed"


def test_closing_a_trade_alipay_never_created_is_fine(provider):
    provider.close(out_trade_no="NEVER_CREATED")

    assert not AlipayTrade.objects.exists()


def test_a_paid_trade_cannot_be_closed(provider):
    _create(provider)
    sandbox.confirm_trade("P20261122000001")

    with pytest.raises(PaymentProviderError) as caught:
        provider.close(out_trade_no="P20261122000001")

    assert caught.value.details == {"provider_code": "ACQ.TRADE_STATUS_ERROR", "trade_state": "paid"}
    assert AlipayTrade.objects.get().trade_status == "TRADE_SUCCESS"


def test_querying_an_unknown_trade_is_a_provider_error_naming_alipays_code(provider):
    with pytest.raises(PaymentProviderError) as caught:
        provider.query(out_trade_no="NEVER_CREATED")

    assert caught.value.details == {"provider_code": "ACQ.TRADE_NOT_EXIST"}


def test_creating_the_same_trade_again_returns_the_same_trade_no(provider):
    first = _create(provider)
    again = _create(provider)

    assert again.provider_reference == first.provider_reference
    assert AlipayTrade.objects.count() == 1


def test_creating_the_same_out_trade_no_with_another_amount_is_refused(provider):
    _create(provider, amount_fen=16900)

    with pytest.raises(PaymentProviderError) as caught:
        _create(provider, amount_fen=100)

    assert caught.value.details == {"provider_code": "ACQ.CONTEXT_INCONSISTENT"}
    assert AlipayTrade.objects.get().total_amount == "169.00"


@pytest.mark.parametrize(
    ("then", "provider_code"), [("pay", "ACQ.TRADE_HAS_SUCCESS"), ("close", "ACQ.TRADE_HAS_CLOSE")]
)
def test_creating_a_paid_or_closed_trade_again_is_refused(provider, then, provider_code):
    _create(provider)
    if then == "pay":
        sandbox.confirm_trade("P20261122000001")
    else:
        provider.close(out_trade_no="P20261122000001")

    with pytest.raises(PaymentProviderError) as caught:
        _create(provider)

    assert caught.value.details == {"provider_code": provider_code}


def test_an_unpaid_trade_past_its_time_expire_is_closed_by_alipay(provider):
    _create(provider)
    AlipayTrade.objects.update(time_expire=timezone.now() - dt.timedelta(seconds=1))

    assert provider.query(out_trade_no="P20261122000001").state == "closed"
    provider.close(out_trade_no="P20261122000001")


def test_alipay_unavailable_is_unavailable(provider, settings):
    settings.SANDBOX_ALIPAY_FAIL_WITH = {"alipay.trade.create": "20000"}

    with pytest.raises(PaymentProviderUnavailable) as caught:
        _create(provider)

    assert caught.value.details == {"provider_code": "aop.unknow-error"}
    assert not AlipayTrade.objects.exists()


def test_alipays_system_error_is_unavailable_and_business_refusals_are_errors(provider, settings):
    _create(provider)
    settings.SANDBOX_ALIPAY_FAIL_WITH = {"alipay.trade.query": "ACQ.SYSTEM_ERROR"}

    with pytest.raises(PaymentProviderUnavailable):
        provider.query(out_trade_no="P20261122000001")


# --- Our mistakes, as Alipay sees them ---------------------------------------------------


def _other_key_path(tmp_path) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "not_the_uploaded_key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


def test_signing_with_a_key_alipay_does_not_have_is_refused_as_invalid_signature(gateway_url, settings, tmp_path):
    settings.ALIPAY_PRIVATE_KEY_PATH = _other_key_path(tmp_path)

    with pytest.raises(PaymentProviderError) as caught:
        _create(Alipay.from_settings())

    assert caught.value.details == {"provider_code": "isv.invalid-signature"}
    assert not AlipayTrade.objects.exists()


def test_an_app_id_alipay_does_not_know_is_refused(gateway_url, settings):
    settings.SANDBOX_ALIPAY_APP_ID = settings.ALIPAY_APP_ID
    settings.ALIPAY_APP_ID = "2021000000009999"

    with pytest.raises(PaymentProviderError) as caught:
        _create(Alipay.from_settings())

    assert caught.value.details == {"provider_code": "isv.invalid-app-id"}


def test_trusting_the_wrong_alipay_public_key_refuses_every_answer(gateway_url, settings):
    settings.ALIPAY_PUBLIC_KEY_PATH = settings.SANDBOX_ALIPAY_APP_PUBLIC_KEY_PATH  # a real key, not Alipay's

    with pytest.raises(PaymentProviderError) as caught:
        _create(Alipay.from_settings())

    assert "provider_code" not in caught.value.details
    assert AlipayTrade.objects.count() == 1  # Alipay did create it; we just cannot believe the answer


# --- The gateway on its own ----------------------------------------------------------------


def _request(gateway_url: str, method: str = "alipay.trade.query", biz=None, *, key_path=None, **changes):
    """A request built and signed by hand, then changed by ``changes`` (None removes)."""
    params = {
        "app_id": settings.ALIPAY_APP_ID,
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": timezone.localtime(timezone.now()).strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "biz_content": json.dumps(biz or {"out_trade_no": "P1"}),
    }
    key = signing.load_private_key(key_path or settings.ALIPAY_PRIVATE_KEY_PATH)
    params["sign"] = signing.sign(key, signing.request_sign_content(params))
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    response = requests.post(gateway_url, data=params, timeout=5)
    assert response.status_code == 200
    return response.text, response.json()


def _answer_of(body: dict) -> dict:
    (key,) = [k for k in body if k != "sign"]
    return body[key]


@pytest.mark.parametrize(
    ("changes", "code", "sub_code"),
    [
        ({"biz_content": '{"out_trade_no":"P2"}'}, "40002", "isv.invalid-signature"),
        ({"sign": "bm90IGEgc2lnbmF0dXJl"}, "40002", "isv.invalid-signature"),
        ({"sign": "%%%"}, "40002", "isv.invalid-signature"),
        ({"app_id": "2021000000009999"}, "40002", "isv.invalid-app-id"),
        ({"sign_type": "RSA"}, "40002", "isv.invalid-signature-type"),
        ({"method": "alipay.trade.refund.everything"}, "40002", "isv.invalid-method"),
        ({"sign": None}, "40001", "isv.missing-signature"),
        ({"app_id": None}, "40001", "isv.missing-app-id"),
        ({"method": None}, "40001", "isv.missing-method"),
        ({"timestamp": None}, "40001", "isv.missing-timestamp"),
        ({"version": None}, "40001", "isv.missing-version"),
        ({"sign_type": None}, "40001", "isv.missing-signature-type"),
    ],
)
def test_the_gateway_refuses_what_alipay_refuses_unsigned(gateway_url, changes, code, sub_code):
    _, body = _request(gateway_url, **changes)

    answer = _answer_of(body)
    assert (answer["code"], answer["sub_code"]) == (code, sub_code)
    assert "sign" not in body


def test_a_request_signed_by_another_key_is_refused(gateway_url, tmp_path):
    _, body = _request(gateway_url, key_path=_other_key_path(tmp_path))

    assert _answer_of(body)["sub_code"] == "isv.invalid-signature"


def test_a_stale_or_future_timestamp_is_refused(gateway_url):
    for minutes in (-20, 20):
        sent = timezone.localtime(timezone.now() + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
        params = {
            "app_id": settings.ALIPAY_APP_ID,
            "method": "alipay.trade.query",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": sent,
            "version": "1.0",
            "biz_content": '{"out_trade_no":"P1"}',
        }
        params["sign"] = signing.sign(
            signing.load_private_key(settings.ALIPAY_PRIVATE_KEY_PATH), signing.request_sign_content(params)
        )
        body = requests.post(gateway_url, data=params, timeout=5).json()
        assert _answer_of(body)["sub_code"] == "isv.invalid-timestamp"


def test_every_business_answer_is_signed_over_its_raw_text_with_alipays_key(gateway_url):
    raw, body = _request(gateway_url, biz={"out_trade_no": "NEVER_CREATED"})

    assert _answer_of(body)["sub_code"] == "ACQ.TRADE_NOT_EXIST"
    start = raw.index("{", raw.index("alipay_trade_query_response"))
    content = raw[start : raw.index(',"sign":')]
    assert signing.verify(signing.load_public_key(settings.ALIPAY_PUBLIC_KEY_PATH), content, body["sign"])


@pytest.mark.parametrize(
    ("biz", "sub_code"),
    [
        ({"out_trade_no": "P1", "total_amount": "12.345", "subject": "x"}, "ACQ.INVALID_PARAMETER"),
        ({"out_trade_no": "P1", "total_amount": "0.00", "subject": "x"}, "ACQ.INVALID_PARAMETER"),
        ({"out_trade_no": "P1", "total_amount": 12.3, "subject": "x"}, "ACQ.INVALID_PARAMETER"),
        ({"out_trade_no": "P1", "total_amount": "100000000.01", "subject": "x"}, "ACQ.TOTAL_FEE_EXCEED"),
        ({"out_trade_no": "P/1", "total_amount": "1.00", "subject": "x"}, "ACQ.INVALID_PARAMETER"),
        ({"out_trade_no": "P1", "total_amount": "1.00"}, "ACQ.INVALID_PARAMETER"),
        (
            {"out_trade_no": "P1", "total_amount": "1.00", "subject": "x", "seller_id": "2088999"},
            "ACQ.INVALID_PARAMETER",
        ),
    ],
)
def test_create_refuses_bad_business_parameters(gateway_url, biz, sub_code):
    _, body = _request(gateway_url, "alipay.trade.create", biz)

    assert (_answer_of(body)["code"], _answer_of(body)["sub_code"]) == ("40004", sub_code)
    assert "sign" in body
    assert not AlipayTrade.objects.exists()


def test_create_accepts_alipays_amount_spellings_and_answers_with_two_decimals(gateway_url):
    _request(gateway_url, "alipay.trade.create", {"out_trade_no": "P1", "total_amount": "12.3", "subject": "x"})

    assert AlipayTrade.objects.get().total_amount == "12.30"


# --- python-alipay-sdk drives the sandbox ------------------------------------------------


def _library(gateway_url: str) -> AliPay:
    library = AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=_pem(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key_string=_pem(settings.ALIPAY_PUBLIC_KEY_PATH),
        sign_type="RSA2",
    )
    library._gateway = gateway_url
    return library


def test_python_alipay_sdk_creates_queries_and_closes_through_the_sandbox(gateway_url, provider):
    """The library signs (GET, query string) and verifies every answer its own way."""
    library = _library(gateway_url)

    created = library.api_alipay_trade_create(
        subject="扫码购", out_trade_no="LIB_1", total_amount="0.01", product_code="JSAPI_PAY"
    )
    queried = library.api_alipay_trade_query(out_trade_no="LIB_1")
    ours = provider.query(out_trade_no="LIB_1")
    closed = library.api_alipay_trade_close(out_trade_no="LIB_1")

    assert created["code"] == "10000" and created["trade_no"] == AlipayTrade.objects.get().trade_no
    assert (queried["trade_status"], queried["total_amount"]) == ("WAIT_BUYER_PAY", "0.01")
    assert (ours.state, ours.amount_fen) == ("pending", 1)
    assert closed["code"] == "10000"
    assert provider.query(out_trade_no="LIB_1").state == "closed"


def test_python_alipay_sdk_verifies_the_sandboxs_answers_to_our_requests(gateway_url, provider):
    """Our request, the sandbox's raw answer, the library's verification of it."""
    _create(provider)
    params = provider._signed_params("alipay.trade.query", {"out_trade_no": "P20261122000001"})

    raw = requests.post(gateway_url, data=params, timeout=5).text

    verified = _library(gateway_url)._verify_and_return_sync_response(raw, "alipay_trade_query_response")
    assert verified["trade_status"] == "WAIT_BUYER_PAY"


# --- The shopper pays: confirm and notify ------------------------------------------------


def test_confirm_pays_the_trade_and_posts_a_notification_we_and_the_library_accept(provider, receiver, live_server):
    _create(provider, notify_url=receiver.url, amount_fen=16900)

    response = requests.post(f"{live_server.url}/sandbox/payments/P20261122000001/confirm", timeout=10)

    assert response.status_code == 200
    assert response.json() == {
        "provider": "alipay",
        "out_trade_no": "P20261122000001",
        "trade_status": "TRADE_SUCCESS",
        "notified": True,
    }
    assert len(receiver.received) == 1
    delivery = receiver.received[0]
    assert delivery["headers"]["Content-Type"].startswith("application/x-www-form-urlencoded")
    fields = receiver.fields()
    assert fields["notify_type"] == "trade_status_sync"
    assert (fields["trade_status"], fields["total_amount"]) == ("TRADE_SUCCESS", "169.00")
    assert fields["subject"] == "扫码购 上海店"
    assert fields["buyer_id"].startswith("2088")

    library = AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=_pem(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key_string=_pem(settings.ALIPAY_PUBLIC_KEY_PATH),
        sign_type="RSA2",
    )
    unsigned = dict(fields)
    signature = unsigned.pop("sign")
    assert library.verify(unsigned, signature) is True

    status = provider.parse_notification(headers=delivery["headers"], body=delivery["body"])
    trade = AlipayTrade.objects.get()
    assert (status.state, status.amount_fen, status.provider_trade_id) == ("paid", 16900, trade.trade_no)
    assert status.paid_at == trade.gmt_payment.replace(microsecond=0)
    queried = provider.query(out_trade_no="P20261122000001")
    assert (queried.state, queried.paid_at) == ("paid", status.paid_at)


def test_a_tampered_sandbox_notification_fails_both_verifiers(provider, receiver):
    _create(provider, notify_url=receiver.url)
    sandbox.confirm_trade("P20261122000001")
    body = receiver.received[0]["body"].replace(b"total_amount=169.00", b"total_amount=1.69")

    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers=FORM, body=body)
    library = AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=_pem(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key_string=_pem(settings.ALIPAY_PUBLIC_KEY_PATH),
    )
    fields = dict(urllib.parse.parse_qsl(body.decode()))
    signature = fields.pop("sign")
    assert library.verify(fields, signature) is False


def test_a_notification_not_acknowledged_with_success_is_retried_until_it_is(provider, receiver):
    _create(provider, notify_url=receiver.url)
    receiver.answers = ["fail", "SUCCESS!"]

    result = sandbox.confirm_trade("P20261122000001")

    assert result["notified"] is False
    receiver.wait_for(3)
    assert [receiver.fields(i)["notify_id"] for i in range(3)] == [receiver.fields(0)["notify_id"]] * 3
    time.sleep(0.4)  # the next retry would have come 0.2 s later
    assert len(receiver.received) == 3


def test_notification_retries_give_up_after_the_configured_delays(provider, receiver, settings):
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = [0.01, 0.01]
    _create(provider, notify_url=receiver.url)
    receiver.answers = ["<html>success</html>", "success, thanks", "failure", "success"]

    sandbox.confirm_trade("P20261122000001")

    receiver.wait_for(3)
    time.sleep(0.3)
    assert len(receiver.received) == 3


def test_confirming_a_closed_trade_is_a_409_and_sends_nothing(provider, receiver, live_server):
    _create(provider, notify_url=receiver.url)
    provider.close(out_trade_no="P20261122000001")

    response = requests.post(f"{live_server.url}/sandbox/payments/P20261122000001/confirm", timeout=10)

    assert response.status_code == 409
    assert response.json()["trade_status"] == "TRADE_CLOSED"
    assert receiver.received == []
    assert AlipayTrade.objects.get().trade_status == "TRADE_CLOSED"


def test_confirming_an_expired_trade_is_refused(provider, receiver):
    _create(provider, notify_url=receiver.url)
    AlipayTrade.objects.update(time_expire=timezone.now() - dt.timedelta(seconds=1))

    result = sandbox.confirm_trade("P20261122000001")

    assert result["trade_status"] == "TRADE_CLOSED" and result["error"]
    assert receiver.received == []


def test_confirming_a_trade_that_is_not_alipays_is_none(db):
    assert sandbox.confirm_trade("NOT-HERE") is None


def test_confirming_twice_notifies_again_with_the_same_payment(provider, receiver):
    _create(provider, notify_url=receiver.url)
    sandbox.confirm_trade("P20261122000001")
    paid_at = AlipayTrade.objects.get().gmt_payment

    again = sandbox.confirm_trade("P20261122000001")

    assert again["trade_status"] == "TRADE_SUCCESS" and again["notified"] is True
    assert len(receiver.received) == 2
    assert receiver.fields(0)["gmt_payment"] == receiver.fields(1)["gmt_payment"]
    assert AlipayTrade.objects.get().gmt_payment == paid_at


def test_the_notification_builder_output_is_what_the_library_verifies(provider):
    _create(provider)
    sandbox.confirm_trade("P20261122000001")
    fields = sandbox.build_notification(AlipayTrade.objects.get())
    library = AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=_pem(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key_string=_pem(settings.ALIPAY_PUBLIC_KEY_PATH),
    )

    signature = fields.pop("sign")

    assert library.verify(dict(fields), signature) is True
    assert fields["app_id"] == settings.ALIPAY_APP_ID and fields["seller_id"] == settings.ALIPAY_SELLER_ID
