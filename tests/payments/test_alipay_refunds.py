"""Alipay refunds: our client against the sandbox's gateway over real HTTP, the sandbox's
rules (cumulative ``refund_fee``, what remains refundable, repeated ``out_request_no``),
and the notification Alipay sends after a refund.

python-alipay-sdk, which we did not write, drives the sandbox's refund methods and
verifies their answers and the refund notifications; answers the sandbox would never give
(``fund_change`` "N" for a refund not done yet) are crafted here and signed with Alipay's
(the sandbox's) key.
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
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.utils import timezone

from checkout.payments import alipay_signing as signing
from checkout.payments.alipay import Alipay
from checkout.payments.base import (
    InvalidNotification,
    PaymentProviderError,
    PaymentProviderUnavailable,
    RefundStatus,
    TradeStatus,
)
from miniprogram_api.sandbox import alipay as sandbox
from miniprogram_api.sandbox import alipay_refunds as sandbox_refunds
from miniprogram_api.sandbox.models import AlipayRefund, AlipayTrade
from tests.parallel import run_in_parallel

from .refund_notifications import alipay_platform_key, alipay_refund_notification

GATEWAY = "/sandbox/alipay/gateway.do"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
BEIJING = dt.timezone(dt.timedelta(hours=8))


class NotifyReceiver:
    """Plays our notify endpoint: records each POST and answers ``success``."""

    def __init__(self):
        self.received: list[bytes] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/payments/alipay/notify"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def refunds(self) -> list[bytes]:
        return [body for body in self.received if b"out_biz_no=" in body]

    def wait_for_refunds(self, count: int, timeout: float = 5) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.refunds()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.refunds()) >= count, f"expected {count} refund notifications, got {len(self.refunds())}"
        return self.refunds()


@pytest.fixture
def receiver():
    receiver = NotifyReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def provider(live_server, settings, receiver) -> Alipay:
    settings.ALIPAY_GATEWAY_URL = f"{live_server.url}{GATEWAY}"
    settings.PAYMENT_HTTP_TIMEOUT = (2, 5)
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = []
    provider = Alipay.from_settings()
    provider.retry_delays = (0, 0)
    yield provider
    for thread in list(sandbox_refunds.NOTIFY_THREADS):
        thread.join(timeout=5)


def _paid(provider: Alipay, receiver, out_trade_no: str = "P20261122100001", amount_fen: int = 16900) -> None:
    provider.create(
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        description="扫码购 上海店",
        payer_openid="o-wechat-openid-of-the-shopper",
        notify_url=receiver.url,
        expires_at=timezone.now() + dt.timedelta(minutes=15),
    )
    assert sandbox.confirm_trade(out_trade_no)["trade_status"] == "TRADE_SUCCESS"


def _refund(provider: Alipay, out_refund_no: str, refund_fen: int, *, out_trade_no: str = "P20261122100001", **more):
    arguments = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "refund_fen": refund_fen,
        "total_fen": 16900,
        "reason": "No-questions return",
        "notify_url": "http://127.0.0.1:9/ignored-by-alipay",
    }
    arguments.update(more)
    return provider.refund(**arguments)


def _library(provider: Alipay) -> AliPay:
    library = AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=Path(settings.ALIPAY_PRIVATE_KEY_PATH).read_text(),
        alipay_public_key_string=Path(settings.ALIPAY_PUBLIC_KEY_PATH).read_text(),
        sign_type="RSA2",
    )
    library._gateway = provider.gateway_url
    return library


# --- Refund and query ------------------------------------------------------------------


def test_a_refund_succeeds_at_once_with_this_refunds_amount_not_the_cumulative_one(provider, receiver):
    _paid(provider, receiver)

    first = _refund(provider, "P20261122100001F1", 3000)
    second = _refund(provider, "P20261122100001F2", 5050)

    assert (first.state, first.amount_fen, first.out_refund_no) == ("succeeded", 3000, "P20261122100001F1")
    assert (second.state, second.amount_fen) == ("succeeded", 5050)
    assert (first.raw["refund_fee"], second.raw["refund_fee"]) == ("30.00", "80.50"), "Alipay's is cumulative"
    assert second.raw["fund_change"] == "Y"
    stored = AlipayRefund.objects.get(out_request_no="P20261122100001F2")
    assert second.succeeded_at == stored.gmt_refund_pay.replace(microsecond=0)
    assert (stored.refund_fen, stored.refund_reason) == (5050, "No-questions return")
    assert AlipayTrade.objects.get().trade_status == "TRADE_SUCCESS"


def test_the_refund_request_is_the_documented_biz_content(provider, receiver, monkeypatch):
    _paid(provider, receiver)
    sent: list[dict] = []
    signed_params = provider._signed_params

    def spy(method, biz, **kwargs):
        sent.append((method, biz))
        return signed_params(method, biz, **kwargs)

    monkeypatch.setattr(provider, "_signed_params", spy)

    _refund(provider, "P20261122100001F1", 1, reason="")

    assert sent == [
        (
            "alipay.trade.refund",
            {"out_trade_no": "P20261122100001", "refund_amount": "0.01", "out_request_no": "P20261122100001F1"},
        )
    ]


def test_the_refund_query_says_succeeded_with_the_refunds_amount_and_time(provider, receiver):
    _paid(provider, receiver)
    _refund(provider, "P20261122100001F1", 3000)
    _refund(provider, "P20261122100001F2", 1000)

    status = provider.query_refund(out_trade_no="P20261122100001", out_refund_no="P20261122100001F1")

    stored = AlipayRefund.objects.get(out_request_no="P20261122100001F1")
    assert (status.state, status.amount_fen) == ("succeeded", 3000)
    assert status.succeeded_at == stored.gmt_refund_pay.replace(microsecond=0)
    assert status.raw["refund_status"] == "REFUND_SUCCESS"


def test_a_refund_alipay_does_not_know_queries_as_processing(provider, receiver):
    _paid(provider, receiver)

    status = provider.query_refund(out_trade_no="P20261122100001", out_refund_no="P20261122100001F9")

    assert (status.state, status.amount_fen, status.succeeded_at) == ("processing", None, None)


def test_asking_again_with_the_same_out_request_no_moves_no_money_and_reads_as_succeeded(provider, receiver):
    _paid(provider, receiver)
    first = _refund(provider, "P20261122100001F1", 3000)

    again = _refund(provider, "P20261122100001F1", 3000)

    assert (again.state, again.amount_fen) == ("succeeded", 3000)
    assert again.succeeded_at == first.succeeded_at
    assert AlipayRefund.objects.count() == 1


def test_the_same_out_request_no_with_another_amount_is_refused(provider, receiver):
    _paid(provider, receiver)
    _refund(provider, "P20261122100001F1", 3000)

    with pytest.raises(PaymentProviderError) as refused:
        _refund(provider, "P20261122100001F1", 3001)

    assert refused.value.details == {"provider_code": "ACQ.DISCORDANT_REPEAT_REQUEST"}
    assert list(AlipayRefund.objects.values_list("refund_fen", flat=True)) == [3000]


def test_a_refund_above_what_remains_is_refused_and_the_last_fen_closes_the_trade(provider, receiver):
    _paid(provider, receiver)
    _refund(provider, "P20261122100001F1", 16000)

    with pytest.raises(PaymentProviderError) as above:
        _refund(provider, "P20261122100001F2", 901)
    last = _refund(provider, "P20261122100001F3", 900)
    with pytest.raises(PaymentProviderError) as closed:
        _refund(provider, "P20261122100001F4", 1)

    assert above.value.details == {"provider_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}
    assert (last.state, last.amount_fen, last.raw["refund_fee"]) == ("succeeded", 900, "169.00")
    assert closed.value.details == {"provider_code": "ACQ.TRADE_STATUS_ERROR"}
    assert sorted(AlipayRefund.objects.values_list("refund_fen", flat=True)) == [900, 16000]
    assert AlipayTrade.objects.get().trade_status == "TRADE_CLOSED"
    assert provider.query(out_trade_no="P20261122100001").state == "closed"
    repeat = _refund(provider, "P20261122100001F3", 900)
    assert repeat.state == "succeeded", "a repeat of a made refund is answered even after the trade closed"


def test_refunding_an_unpaid_or_unknown_trade_is_refused(provider, receiver):
    provider.create(
        out_trade_no="P20261122100002",
        amount_fen=16900,
        description="扫码购",
        payer_openid="o",
        notify_url=receiver.url,
        expires_at=timezone.now() + dt.timedelta(minutes=15),
    )

    with pytest.raises(PaymentProviderError) as unpaid:
        _refund(provider, "P20261122100002F1", 100, out_trade_no="P20261122100002")
    with pytest.raises(PaymentProviderError) as unknown:
        _refund(provider, "P29999999999999F1", 100, out_trade_no="P29999999999999")
    with pytest.raises(PaymentProviderError) as unknown_query:
        provider.query_refund(out_trade_no="P29999999999999", out_refund_no="P29999999999999F1")

    assert unpaid.value.details == {"provider_code": "ACQ.TRADE_STATUS_ERROR"}
    assert unknown.value.details == {"provider_code": "ACQ.TRADE_NOT_EXIST"}
    assert unknown_query.value.details == {"provider_code": "ACQ.TRADE_NOT_EXIST"}
    assert not AlipayRefund.objects.exists()
    assert AlipayTrade.objects.get().trade_status == "WAIT_BUYER_PAY"


@pytest.mark.parametrize(
    ("forced", "error"),
    [("ACQ.SYSTEM_ERROR", PaymentProviderUnavailable), ("20000", PaymentProviderUnavailable)],
)
def test_alipay_busy_is_unavailable_and_nothing_is_refunded(provider, receiver, settings, forced, error):
    _paid(provider, receiver)
    settings.SANDBOX_ALIPAY_FAIL_WITH = {"alipay.trade.refund": forced}

    with pytest.raises(error):
        _refund(provider, "P20261122100001F1", 100)

    assert not AlipayRefund.objects.exists()


def test_a_refund_signed_with_a_key_alipay_does_not_have_is_refused(provider, receiver, settings, tmp_path):
    _paid(provider, receiver)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "stranger.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    settings.ALIPAY_PRIVATE_KEY_PATH = str(path)
    stranger = Alipay.from_settings()
    stranger.gateway_url = provider.gateway_url

    with pytest.raises(PaymentProviderError) as refused:
        _refund(stranger, "P20261122100001F1", 100)

    assert refused.value.details == {"provider_code": "isv.invalid-signature"}
    assert not AlipayRefund.objects.exists()


@pytest.mark.parametrize(("amount", "sub_code"), [("0.00", "ACQ.REASON_TRADE_REFUND_FEE_ERR"), ("1.234", None)])
def test_malformed_refund_amounts_are_refused(provider, receiver, amount, sub_code):
    _paid(provider, receiver)
    library = _library(provider)

    answer = library.api_alipay_trade_refund(refund_amount=amount, out_trade_no="P20261122100001")

    assert answer["code"] == "40004"
    assert answer["sub_code"] == (sub_code or "ACQ.INVALID_PARAMETER")
    assert not AlipayRefund.objects.exists()


def test_refund_arguments_we_would_never_send_are_refused_before_any_call(provider):
    with pytest.raises(ValueError):
        _refund(provider, "X1", 0)
    with pytest.raises(ValueError):
        _refund(provider, "X1", 16901)


# --- python-alipay-sdk against the sandbox -------------------------------------------------------


def test_python_alipay_sdk_refunds_and_queries_through_the_sandbox(provider, receiver):
    """The library signs its own requests and verifies every answer's signature itself."""
    _paid(provider, receiver)
    library = _library(provider)

    refunded = library.api_alipay_trade_refund(
        refund_amount="12.30", out_trade_no="P20261122100001", out_request_no="LIB-R1"
    )
    again = library.api_alipay_trade_refund(
        refund_amount="12.30", out_trade_no="P20261122100001", out_request_no="LIB-R1"
    )
    queried = library.api_alipay_trade_fastpay_refund_query("LIB-R1", out_trade_no="P20261122100001")
    ours = provider.query_refund(out_trade_no="P20261122100001", out_refund_no="LIB-R1")

    assert (refunded["code"], refunded["fund_change"], refunded["refund_fee"]) == ("10000", "Y", "12.30")
    assert (again["fund_change"], again["refund_fee"]) == ("N", "12.30")
    assert (queried["refund_status"], queried["refund_amount"], queried["out_request_no"]) == (
        "REFUND_SUCCESS",
        "12.30",
        "LIB-R1",
    )
    assert (ours.state, ours.amount_fen) == ("succeeded", 1230)


# --- The notification after a refund ------------------------------------------------------


def test_each_refund_is_notified_at_the_payments_notify_url_and_read_as_a_refund(provider, receiver):
    _paid(provider, receiver)

    _refund(provider, "P20261122100001F1", 6900)
    partial = receiver.wait_for_refunds(1)[0]
    _refund(provider, "P20261122100001F2", 10000)
    full = receiver.wait_for_refunds(2)[1]

    first = provider.parse_notification(headers=FORM, body=partial)
    last = provider.parse_notification(headers=FORM, body=full)
    assert isinstance(first, RefundStatus) and isinstance(last, RefundStatus)
    assert (first.out_trade_no, first.out_refund_no, first.state) == (
        "P20261122100001",
        "P20261122100001F1",
        "succeeded",
    )
    assert first.amount_fen is None, "a notification only knows the cumulative refund_fee"
    stored = AlipayRefund.objects.get(out_request_no="P20261122100001F1")
    assert first.succeeded_at == stored.gmt_refund_pay.replace(
        microsecond=stored.gmt_refund_pay.microsecond // 1000 * 1000
    )
    assert (first.raw["trade_status"], first.raw["refund_fee"]) == ("TRADE_SUCCESS", "69.00")
    assert (last.out_refund_no, last.raw["trade_status"], last.raw["refund_fee"]) == (
        "P20261122100001F2",
        "TRADE_CLOSED",
        "169.00",
    )
    assert last.raw["gmt_close"]


def test_python_alipay_sdk_verifies_the_refund_notification_and_a_tampered_one_fails_both(provider, receiver):
    _paid(provider, receiver)
    _refund(provider, "P20261122100001F1", 6900)
    body = receiver.wait_for_refunds(1)[0]
    fields = dict(urllib.parse.parse_qsl(body.decode()))
    signature = fields.pop("sign")
    library = _library(provider)
    tampered = body.replace(b"out_biz_no=P20261122100001F1", b"out_biz_no=P20261122100001F2")

    assert library.verify(fields, signature) is True
    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers=FORM, body=tampered)
    tampered_fields = dict(urllib.parse.parse_qsl(tampered.decode()))
    assert library.verify({k: v for k, v in tampered_fields.items() if k != "sign"}, signature) is False


def test_refund_notifications_can_be_turned_off(provider, receiver, settings):
    settings.SANDBOX_ALIPAY_REFUND_NOTIFY = False
    _paid(provider, receiver)

    _refund(provider, "P20261122100001F1", 100)
    time.sleep(0.2)

    assert receiver.refunds() == []


def test_a_repeated_refund_notifies_nothing_new(provider, receiver):
    _paid(provider, receiver)
    _refund(provider, "P20261122100001F1", 100)
    receiver.wait_for_refunds(1)

    _refund(provider, "P20261122100001F1", 100)
    time.sleep(0.2)

    assert len(receiver.refunds()) == 1


# --- Answers the sandbox does not give -------------------------------------------------------------


def _signed(key: str, content: dict) -> str:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return f'{{"{key}":{text},"sign":"{signing.sign(alipay_platform_key(), text)}"}}'


def _scripted(monkeypatch, answers: dict[str, dict]) -> tuple[Alipay, list[str]]:
    client = Alipay(
        app_id=settings.ALIPAY_APP_ID,
        seller_id=settings.ALIPAY_SELLER_ID,
        gateway_url="http://127.0.0.1:9/gateway.do",
        app_private_key=signing.load_private_key(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key=signing.load_public_key(settings.ALIPAY_PUBLIC_KEY_PATH),
    )
    called: list[str] = []

    def post(method, params, **kwargs):
        called.append(method)
        return _signed(method.replace(".", "_") + "_response", answers[method])

    monkeypatch.setattr(client, "_post", post)
    return client, called


REFUND_N = {"code": "10000", "msg": "Success", "out_trade_no": "P1", "trade_no": "2026", "fund_change": "N"}
REFUND_N.update(refund_fee="0.00", gmt_refund_pay="2026-11-22 12:00:00")


def test_fund_change_n_with_no_refund_at_alipay_yet_is_processing(monkeypatch):
    query = {"code": "10000", "msg": "Success", "out_trade_no": "P1", "out_request_no": "P1F1"}
    client, called = _scripted(
        monkeypatch, {"alipay.trade.refund": REFUND_N, "alipay.trade.fastpay.refund.query": query}
    )

    status = client.refund(
        out_trade_no="P1", out_refund_no="P1F1", refund_fen=500, total_fen=16900, reason="", notify_url=""
    )

    assert (status.state, status.amount_fen) == ("processing", 500)
    assert called == ["alipay.trade.refund", "alipay.trade.fastpay.refund.query"]


@pytest.mark.parametrize(
    "query",
    [
        {"out_trade_no": "P2", "out_request_no": "P1F1", "refund_status": "REFUND_SUCCESS", "refund_amount": "5.00"},
        {"out_trade_no": "P1", "out_request_no": "P1F2", "refund_status": "REFUND_SUCCESS", "refund_amount": "5.00"},
        {"out_trade_no": "P1", "out_request_no": "P1F1", "refund_status": "REFUND_SUCCESS", "refund_amount": "5"},
        {"out_trade_no": "P1", "out_request_no": "P1F1", "refund_status": "REFUND_SUCCESS"},
    ],
    ids=["another-trade", "another-refund", "amount-format", "no-amount"],
)
def test_an_unusable_refund_query_answer_is_a_provider_error(monkeypatch, query):
    client, _ = _scripted(monkeypatch, {"alipay.trade.fastpay.refund.query": {"code": "10000", "msg": "S", **query}})

    with pytest.raises(PaymentProviderError):
        client.query_refund(out_trade_no="P1", out_refund_no="P1F1")


@pytest.mark.parametrize(
    "sub_code",
    [
        "ACQ.SELLER_BALANCE_NOT_ENOUGH",
        "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
        "ACQ.TRADE_STATUS_ERROR",
        "ACQ.REASON_TRADE_REFUND_FEE_ERR",
    ],
)
def test_alipay_refusals_are_provider_errors_with_its_sub_code(monkeypatch, sub_code):
    refusal = {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": "x"}
    client, _ = _scripted(monkeypatch, {"alipay.trade.refund": refusal})

    with pytest.raises(PaymentProviderError) as refused:
        client.refund(out_trade_no="P1", out_refund_no="P1F1", refund_fen=1, total_fen=1, reason="", notify_url="")

    assert type(refused.value) is PaymentProviderError
    assert refused.value.details == {"provider_code": sub_code}


def test_a_refund_success_about_another_trade_is_a_provider_error(monkeypatch):
    client, _ = _scripted(monkeypatch, {"alipay.trade.refund": {**REFUND_N, "fund_change": "Y", "out_trade_no": "P9"}})

    with pytest.raises(PaymentProviderError):
        client.refund(out_trade_no="P1", out_refund_no="P1F1", refund_fen=1, total_fen=1, reason="", notify_url="")


# --- Refund notifications crafted here -----------------------------------------------------------


def _client() -> Alipay:
    return Alipay(
        app_id=settings.ALIPAY_APP_ID,
        seller_id=settings.ALIPAY_SELLER_ID,
        gateway_url="http://127.0.0.1:9/gateway.do",
        app_private_key=signing.load_private_key(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key=signing.load_public_key(settings.ALIPAY_PUBLIC_KEY_PATH),
    )


def test_a_refund_notification_is_read_with_its_refund_time():
    status = _client().parse_notification(headers=FORM, body=alipay_refund_notification())

    assert isinstance(status, RefundStatus)
    assert (status.out_trade_no, status.out_refund_no, status.state, status.amount_fen) == (
        "P1",
        "P1F1",
        "succeeded",
        None,
    )
    assert status.succeeded_at == dt.datetime(2026, 11, 23, 10, 0, 0, 320000, tzinfo=BEIJING)


def test_a_trade_notification_without_out_biz_no_is_still_about_the_trade():
    body = alipay_refund_notification(out_biz_no=None, refund_fee=None)

    status = _client().parse_notification(headers=FORM, body=body)

    assert isinstance(status, TradeStatus) and status.state == "paid"


@pytest.mark.parametrize(
    "overrides",
    [{"trade_status": "WAIT_BUYER_PAY"}, {"refund_fee": "30"}, {"gmt_refund": "yesterday"}, {"seller_id": "2088"}],
    ids=["unpaid-trade", "refund-fee-format", "refund-time", "another-seller"],
)
def test_a_signed_refund_notification_with_unusable_content_is_invalid(overrides):
    with pytest.raises(InvalidNotification):
        _client().parse_notification(headers=FORM, body=alipay_refund_notification(**overrides))


def test_a_refund_notification_signed_by_another_key_is_invalid():
    body = alipay_refund_notification()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fields = dict(urllib.parse.parse_qsl(body.decode()))
    fields["sign"] = signing.sign(other, signing.notification_sign_content(fields))

    with pytest.raises(InvalidNotification):
        _client().parse_notification(headers=FORM, body=urllib.parse.urlencode(fields).encode())


# --- Refunds racing for one trade (PostgreSQL: real row locks) --------------------------------


def _attempt(gateway_url: str, out_request_no: str) -> str:
    client = Alipay.from_settings()
    client.gateway_url, client.retry_delays = gateway_url, (0, 0)
    try:
        return _refund(client, out_request_no, 5000).state
    except PaymentProviderError as exc:
        return exc.details["provider_code"]


@pytest.mark.postgres
def test_eight_refunds_racing_for_one_trade_never_refund_more_than_it_was_paid(provider, receiver, settings):
    settings.SANDBOX_ALIPAY_REFUND_NOTIFY = False
    _paid(provider, receiver)

    outcomes = run_in_parallel(lambda i: _attempt(provider.gateway_url, f"RACE{i}"), 8)

    assert outcomes.count("succeeded") == 3
    assert outcomes.count("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL") == 5
    assert sum(AlipayRefund.objects.values_list("refund_fen", flat=True)) == 15000
