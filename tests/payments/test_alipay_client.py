"""Our Alipay client on its own: amounts, request signatures, response and notification
verification, and what it does when Alipay is down or answers badly.

Signatures are checked against python-alipay-sdk, an implementation we did not write: the
same parameters must give the byte-identical RSA2 signature (PKCS#1 v1.5 is deterministic),
and a notification the library signs must pass our verifier. Answers are crafted here with
Alipay's (the sandbox's) private key, then tampered with.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import socket
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
from hypothesis import given
from hypothesis import strategies as st

from checkout.payments import alipay_signing as signing
from checkout.payments.alipay import Alipay
from checkout.payments.base import InvalidNotification, PaymentProviderError, PaymentProviderUnavailable
from checkout.payments.providers import get_provider

BEIJING = dt.timezone(dt.timedelta(hours=8))


def _pem(path) -> str:
    return Path(path).read_text()


def _platform_private_key():
    return serialization.load_pem_private_key(
        Path(settings.SANDBOX_ALIPAY_PLATFORM_PRIVATE_KEY_PATH).read_bytes(), None
    )


def make_client(gateway_url: str = "http://127.0.0.1:9/gateway.do", **overrides) -> Alipay:
    options = {
        "app_id": settings.ALIPAY_APP_ID,
        "seller_id": settings.ALIPAY_SELLER_ID,
        "gateway_url": gateway_url,
        "app_private_key": signing.load_private_key(settings.ALIPAY_PRIVATE_KEY_PATH),
        "alipay_public_key": signing.load_public_key(settings.ALIPAY_PUBLIC_KEY_PATH),
        "timeout": (0.5, 0.5),
        "retry_delays": (0, 0),
    }
    options.update(overrides)
    return Alipay(**options)


def library_as_app() -> AliPay:
    """python-alipay-sdk holding the app's private key and Alipay's public key."""
    return AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=_pem(settings.ALIPAY_PRIVATE_KEY_PATH),
        alipay_public_key_string=_pem(settings.ALIPAY_PUBLIC_KEY_PATH),
        sign_type="RSA2",
    )


def library_as_alipay() -> AliPay:
    """python-alipay-sdk holding Alipay's (the sandbox platform's) private key, to sign as Alipay."""
    return AliPay(
        appid=settings.ALIPAY_APP_ID,
        app_private_key_string=_pem(settings.SANDBOX_ALIPAY_PLATFORM_PRIVATE_KEY_PATH),
        alipay_public_key_string=_pem(settings.ALIPAY_PUBLIC_KEY_PATH),
        sign_type="RSA2",
    )


def signed_answer(key: str, content: dict | str, *, sign_with=None, sign_text: str | None = None) -> str:
    """A gateway answer as Alipay writes it: raw ``*_response`` text and its signature."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    signature = signing.sign(sign_with or _platform_private_key(), sign_text if sign_text is not None else text)
    return f'{{"{key}":{text},"sign":"{signature}"}}'


# --- Amounts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [(1, "0.01"), (10, "0.10"), (100, "1.00"), (1230, "12.30"), (16900, "169.00"), (123456789, "1234567.89")],
)
def test_fen_become_yuan_with_exactly_two_decimals_and_back(fen, yuan):
    assert signing.fen_to_yuan(fen) == yuan
    assert signing.yuan_to_fen(yuan) == fen


@given(st.integers(min_value=0, max_value=10**13))
def test_every_fen_amount_survives_the_round_trip(fen):
    assert signing.yuan_to_fen(signing.fen_to_yuan(fen)) == fen


@pytest.mark.parametrize(
    "bad",
    ["12.3", "12", "12.345", "1e3", " 1.00", "1.00 ", "-1.00", "01.00", "1,00", "", "\uff11.00", 12.3, 1230, None],
)
def test_malformed_yuan_strings_are_refused(bad):
    with pytest.raises(ValueError):
        signing.yuan_to_fen(bad)


@pytest.mark.parametrize("bad", [12.3, "1230", True, None])
def test_only_int_fen_are_converted(bad):
    with pytest.raises(TypeError):
        signing.fen_to_yuan(bad)


# --- Request signatures against python-alipay-sdk -------------------------------------


def _create_params(client: Alipay, subject: str) -> dict[str, str]:
    biz = {
        "out_trade_no": "P20261122000001",
        "total_amount": "169.00",
        "subject": subject,
        "product_code": "JSAPI_PAY",
        "seller_id": client.seller_id,
        "time_expire": "2026-11-22 12:15:00",
    }
    return client._signed_params("alipay.trade.create", biz, notify_url="https://shop.example.com/notify?x=1&y=2")


@pytest.mark.parametrize("subject", ["Scan & pay, store 12", "扫码购 上海曹杨店 (3 件)"])
def test_our_request_signature_is_byte_identical_to_python_alipay_sdks(subject):
    client = make_client()
    params = _create_params(client, subject)
    ours = params.pop("sign")
    library = library_as_app()

    library_sign_string = "&".join(f"{k}={v}" for k, v in library._ordered_data(dict(params)))
    library_signed = dict(urllib.parse.parse_qsl(library.sign_data(dict(params))))

    assert signing.request_sign_content(params) == library_sign_string
    assert library_signed["sign"] == ours
    assert params["sign_type"] == "RSA2"
    assert f"sign_type={params['sign_type']}" in library_sign_string


def test_library_building_biz_content_from_a_dict_signs_the_same_request():
    client = make_client()
    params = _create_params(client, "Scan and pay")
    ours = params.pop("sign")

    library_signed = dict(
        urllib.parse.parse_qsl(library_as_app().sign_data({**params, "biz_content": json.loads(params["biz_content"])}))
    )

    assert library_signed["sign"] == ours


def test_request_carries_alipays_common_parameters_in_beijing_time():
    client = make_client()
    params = client._signed_params("alipay.trade.query", {"out_trade_no": "P1"})

    assert set(params) == {
        "app_id",
        "method",
        "format",
        "charset",
        "sign_type",
        "timestamp",
        "version",
        "biz_content",
        "sign",
    }
    assert (params["format"], params["charset"], params["version"]) == ("JSON", "utf-8", "1.0")
    sent = dt.datetime.strptime(params["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    assert abs(sent - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_create_sends_yuan_the_seller_and_no_wechat_openid(monkeypatch):
    client = make_client()
    sent = {}

    def fake_call(method, biz, **kwargs):
        sent.update(biz=biz, method=method, **kwargs)
        return {"code": "10000", "out_trade_no": biz["out_trade_no"], "trade_no": "2026112222001400000000000001"}

    monkeypatch.setattr(client, "_call", fake_call)
    expires = dt.datetime(2026, 11, 22, 4, 15, tzinfo=dt.UTC)

    created = client.create(
        out_trade_no="P1",
        amount_fen=16900,
        description="Basket at store 12",
        payer_openid="o-wechat-openid",
        notify_url="https://shop.example.com/api/payments/alipay/notify",
        expires_at=expires,
    )

    assert sent["method"] == "alipay.trade.create"
    assert sent["biz"]["total_amount"] == "169.00"
    assert sent["biz"]["time_expire"] == "2026-11-22 12:15:00"
    assert sent["biz"]["seller_id"] == settings.ALIPAY_SELLER_ID
    assert sent["biz"]["product_code"] == "JSAPI_PAY"
    assert "o-wechat-openid" not in json.dumps(sent)
    assert "buyer_open_id" not in sent["biz"] and "buyer_id" not in sent["biz"]
    assert created.client_params == {"tradeNO": "2026112222001400000000000001"}
    assert created.provider_reference == "2026112222001400000000000001"


def test_from_settings_reads_the_configured_keys_and_gateway(settings):
    settings.ALIPAY_GATEWAY_URL = "http://127.0.0.1:1/gateway.do"

    provider = get_provider("alipay")

    assert isinstance(provider, Alipay)
    assert provider.name == "alipay"
    assert provider.gateway_url == "http://127.0.0.1:1/gateway.do"
    assert provider.timeout == settings.PAYMENT_HTTP_TIMEOUT


# --- Verifying Alipay's answers ----------------------------------------------------------

QUERY_KEY = "alipay_trade_query_response"
PAID = {
    "code": "10000",
    "msg": "Success",
    "trade_no": "2026112222001400000000000001",
    "out_trade_no": "P1",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "169.00",
    "send_pay_date": "2026-11-22 12:01:02",
    "buyer_pay_amount": "169.00",
}


def test_a_correctly_signed_answer_is_read():
    client = make_client()

    assert client.read_response("alipay.trade.query", signed_answer(QUERY_KEY, PAID)) == PAID


def test_the_signature_covers_the_raw_text_not_a_reserialisation():
    """Alipay's spacing and escapes are kept; a verifier that re-dumps the JSON would fail."""
    client = make_client()
    raw_text = '{ "code":"10000", "msg":"Success","out_trade_no":"P1","subject":"\\u626b\\u7801 {x}" }'
    body = signed_answer(QUERY_KEY, raw_text)

    result = client.read_response("alipay.trade.query", body)

    assert result["subject"] == "扫码 {x}"
    assert library_as_app()._verify_and_return_sync_response(body, QUERY_KEY)["subject"] == "扫码 {x}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body: body.replace('"169.00"', '"1.00"', 1),
        lambda body: body.replace("TRADE_SUCCESS", "TRADE_FINISHED", 1),
        lambda body: body.replace('"code":"10000"', '"code": "10000"', 1),
    ],
    ids=["amount", "status", "whitespace"],
)
def test_an_answer_whose_body_was_changed_after_signing_is_refused(tamper):
    body = tamper(signed_answer(QUERY_KEY, PAID))

    with pytest.raises(PaymentProviderError):
        make_client().read_response("alipay.trade.query", body)


def test_an_answer_with_a_changed_or_foreign_signature_is_refused():
    body = signed_answer(QUERY_KEY, PAID)
    signature = json.loads(body)["sign"]
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    for bad in (
        body.replace(signature, flipped),
        body.replace(signature, "not base64!"),
        signed_answer(QUERY_KEY, PAID, sign_with=foreign_key),
    ):
        with pytest.raises(PaymentProviderError):
            make_client().read_response("alipay.trade.query", bad)


def test_an_unsigned_success_is_refused():
    body = json.dumps({QUERY_KEY: PAID})

    with pytest.raises(PaymentProviderError):
        make_client().read_response("alipay.trade.query", body)


def test_an_unsigned_business_error_is_refused_as_unverifiable():
    body = json.dumps({QUERY_KEY: {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}})

    with pytest.raises(PaymentProviderError) as caught:
        make_client().read_response("alipay.trade.query", body)

    assert "provider_code" not in caught.value.details


def test_an_unsigned_gateway_refusal_is_accepted_but_only_as_an_error(monkeypatch):
    client = make_client()
    refusal = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}
    body = json.dumps({QUERY_KEY: refusal}, ensure_ascii=False)
    monkeypatch.setattr(client, "_post", lambda *args, **kwargs: body)

    assert client.read_response("alipay.trade.query", body) == refusal
    with pytest.raises(PaymentProviderError) as caught:
        client.query(out_trade_no="P1")
    assert caught.value.details == {"provider_code": "isv.invalid-signature"}


def test_an_unsigned_refusal_claiming_success_elsewhere_in_the_body_is_still_an_error(monkeypatch):
    client = make_client()
    body = json.dumps({"error_response": {"code": "40002", "sub_code": "isv.invalid-app-id"}, "note": PAID})
    monkeypatch.setattr(client, "_post", lambda *args, **kwargs: body)

    with pytest.raises(PaymentProviderError):
        client.query(out_trade_no="P1")


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<html>502 Bad Gateway</html>",
        "[]",
        '{"alipay_trade_query_response": {"code": "10000"}',
        '{"other_response": {"code": "10000"}, "sign": "x"}',
        '{"alipay_trade_query_response": "10000", "sign": "x"}',
    ],
)
def test_unreadable_answers_are_provider_errors(body):
    with pytest.raises(PaymentProviderError):
        make_client().read_response("alipay.trade.query", body)


def test_a_duplicated_response_key_is_refused_even_if_one_copy_is_signed():
    """JSON parsers keep the last duplicate; the signed copy could be the other one."""
    good = signed_answer(QUERY_KEY, PAID)
    evil = json.dumps({**PAID, "total_amount": "0.01"})
    body = good[:-1] + f',"{QUERY_KEY}":{evil}}}'

    with pytest.raises(PaymentProviderError):
        make_client().read_response("alipay.trade.query", body)


def test_braces_inside_strings_do_not_confuse_the_extraction():
    content = {**PAID, "subject": 'tricky "}{" subject'}

    assert make_client().read_response("alipay.trade.query", signed_answer(QUERY_KEY, content)) == content


def _client_answering(monkeypatch, method: str, content: dict) -> Alipay:
    client = make_client()
    key = method.replace(".", "_") + "_response"
    monkeypatch.setattr(client, "_post", lambda *args, **kwargs: signed_answer(key, content))
    return client


def test_query_maps_alipays_statuses_amounts_and_payment_time(monkeypatch):
    client = _client_answering(monkeypatch, "alipay.trade.query", PAID)

    status = client.query(out_trade_no="P1")

    assert status.state == "paid"
    assert status.amount_fen == 16900
    assert status.provider_trade_id == "2026112222001400000000000001"
    assert status.paid_at == dt.datetime(2026, 11, 22, 4, 1, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("trade_status", "state"),
    [("WAIT_BUYER_PAY", "pending"), ("TRADE_SUCCESS", "paid"), ("TRADE_FINISHED", "paid"), ("TRADE_CLOSED", "closed")],
)
def test_each_alipay_trade_status_has_its_state(monkeypatch, trade_status, state):
    client = _client_answering(monkeypatch, "alipay.trade.query", {**PAID, "trade_status": trade_status})

    assert client.query(out_trade_no="P1").state == state


@pytest.mark.parametrize(
    "change",
    [{"total_amount": "169"}, {"total_amount": 169.0}, {"trade_status": "PAID"}, {"out_trade_no": "P2"}],
    ids=["amount-format", "amount-float", "unknown-status", "another-trade"],
)
def test_a_signed_but_unusable_query_answer_is_a_provider_error(monkeypatch, change):
    client = _client_answering(monkeypatch, "alipay.trade.query", {**PAID, **change})

    with pytest.raises(PaymentProviderError):
        client.query(out_trade_no="P1")


def _failure(code: str, sub_code: str) -> dict:
    return {
        "code": code,
        "msg": "Service Currently Unavailable" if code == "20000" else "Business Failed",
        "sub_code": sub_code,
    }


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (_failure("20000", "aop.unknow-error"), PaymentProviderUnavailable),
        (_failure("40004", "ACQ.SYSTEM_ERROR"), PaymentProviderUnavailable),
        (_failure("40004", "ACQ.TRADE_NOT_EXIST"), PaymentProviderError),
        (_failure("40004", "ACQ.INVALID_PARAMETER"), PaymentProviderError),
    ],
)
def test_alipay_error_codes_map_to_our_errors(monkeypatch, content, error):
    client = _client_answering(monkeypatch, "alipay.trade.query", content)

    with pytest.raises(error) as caught:
        client.query(out_trade_no="P1")

    assert type(caught.value) is error
    assert caught.value.details == {"provider_code": content["sub_code"]}


def test_create_refuses_a_success_about_another_trade(monkeypatch):
    answer = {"code": "10000", "msg": "Success", "out_trade_no": "SOMEONE-ELSE", "trade_no": "2026"}
    client = _client_answering(monkeypatch, "alipay.trade.create", answer)

    with pytest.raises(PaymentProviderError):
        client.create(
            out_trade_no="P1",
            amount_fen=100,
            description="x",
            payer_openid="o",
            notify_url="https://x.example/n",
            expires_at=dt.datetime.now(dt.UTC),
        )


# --- Notifications -----------------------------------------------------------------------


def notification_fields(**overrides) -> dict[str, str]:
    fields = {
        "notify_time": "2026-11-22 12:01:03",
        "notify_type": "trade_status_sync",
        "notify_id": "2026112200222120103000000000000001",
        "app_id": settings.ALIPAY_APP_ID,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2026112222001400000000000001",
        "out_trade_no": "P1",
        "buyer_id": "2088102177846880",
        "seller_id": settings.ALIPAY_SELLER_ID,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "169.00",
        "receipt_amount": "169.00",
        "buyer_pay_amount": "169.00",
        "subject": "扫码购 & more = fun",
        "gmt_create": "2026-11-22 12:00:00",
        "gmt_payment": "2026-11-22 12:01:02",
        "fund_bill_list": '[{"amount":"169.00","fundChannel":"ALIPAYACCOUNT"}]',
    }
    fields.update(overrides)
    return fields


def signed_by_library(fields: dict[str, str]) -> bytes:
    """Alipay's notification, signed by python-alipay-sdk's own sign-string builder and signer."""
    library = library_as_alipay()
    unsigned = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}
    signature = library._sign("&".join(f"{k}={v}" for k, v in library._ordered_data(unsigned)))
    return urllib.parse.urlencode({**fields, "sign_type": "RSA2", "sign": signature}).encode()


def signed_by_us(fields: dict[str, str], *, key=None) -> bytes:
    signature = signing.sign(key or _platform_private_key(), signing.notification_sign_content(fields))
    return urllib.parse.urlencode({**fields, "sign_type": "RSA2", "sign": signature}).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_a_notification_signed_by_python_alipay_sdk_is_accepted():
    status = make_client().parse_notification(headers=FORM, body=signed_by_library(notification_fields()))

    assert status.out_trade_no == "P1"
    assert status.state == "paid"
    assert status.amount_fen == 16900
    assert status.provider_trade_id == "2026112222001400000000000001"
    assert status.paid_at == dt.datetime(2026, 11, 22, 4, 1, 2, tzinfo=dt.UTC)
    assert "sign" not in status.raw
    assert status.raw["subject"] == "扫码购 & more = fun"


def test_python_alipay_sdk_and_we_build_the_same_notification_sign_string():
    fields = {**notification_fields(), "sign_type": "RSA2", "sign": "x"}
    library = library_as_alipay()
    unsigned = {k: v for k, v in fields.items() if k not in ("sign", "sign_type")}

    assert signing.notification_sign_content(fields) == "&".join(f"{k}={v}" for k, v in library._ordered_data(unsigned))


def test_empty_notification_fields_are_left_out_of_the_signature():
    fields = notification_fields(passback_params="")
    body = signed_by_us({k: v for k, v in fields.items() if k != "passback_params"})
    body += b"&passback_params="

    assert make_client().parse_notification(headers=FORM, body=body).state == "paid"


def _refused(body: bytes) -> InvalidNotification:
    with pytest.raises(InvalidNotification) as caught:
        make_client().parse_notification(headers=FORM, body=body)
    return caught.value


def test_a_notification_with_a_changed_field_is_refused():
    body = signed_by_library(notification_fields())

    _refused(body.replace(b"total_amount=169.00", b"total_amount=1.00"))
    _refused(body.replace(b"out_trade_no=P1", b"out_trade_no=P2"))


def test_a_notification_signed_with_another_key_is_refused():
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    _refused(signed_by_us(notification_fields(), key=foreign_key))


def test_a_notification_without_signature_or_with_another_sign_type_is_refused():
    good = signed_by_library(notification_fields())
    fields = dict(urllib.parse.parse_qsl(good.decode()))

    _refused(urllib.parse.urlencode({k: v for k, v in fields.items() if k != "sign"}).encode())
    _refused(urllib.parse.urlencode({**fields, "sign_type": "RSA"}).encode())
    _refused(urllib.parse.urlencode({k: v for k, v in fields.items() if k != "sign_type"}).encode())


@pytest.mark.parametrize(
    "overrides",
    [
        {"app_id": "2021000000009999"},
        {"seller_id": "2088000000009999"},
        {"notify_type": "something_else"},
        {"trade_status": "PAID"},
        {"total_amount": "169"},
        {"total_amount": "169.0"},
        {"total_amount": "1.69e2"},
        {"total_amount": "-169.00"},
        {"gmt_payment": "yesterday"},
        {"out_trade_no": ""},
    ],
)
def test_a_correctly_signed_notification_with_wrong_content_is_refused(overrides):
    _refused(signed_by_library(notification_fields(**overrides)))


def test_a_notification_missing_its_seller_is_refused():
    fields = notification_fields()
    del fields["seller_id"]

    _refused(signed_by_library(fields))


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", b"\xff\xfe\x00", b'{"trade_status": "TRADE_SUCCESS"}', b"sign=&sign_type=RSA2", b"a=1&&b"],
)
def test_garbage_notifications_are_invalid_never_another_exception(body):
    _refused(body)


def test_a_notification_with_a_field_repeated_is_refused():
    body = signed_by_library(notification_fields())

    _refused(body + b"&total_amount=1.00")


def test_a_refund_closing_the_trade_is_reported_closed():
    fields = notification_fields(trade_status="TRADE_CLOSED", refund_fee="169.00", gmt_refund="2026-11-23 10:00:00")

    assert make_client().parse_notification(headers=FORM, body=signed_by_library(fields)).state == "closed"


# --- When Alipay is out of reach ---------------------------------------------------------


@pytest.fixture
def closed_port_url():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/gateway.do"


@pytest.fixture
def silent_server():
    """Accepts TCP connections (the kernel's backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/gateway.do"
    sock.close()


class _Scripted(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b""
    hits = 0

    def do_POST(self):
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_gateway():
    """A gateway answering whatever the test sets on the returned handler class."""
    handler = type("Handler", (_Scripted,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/gateway.do"
    yield handler
    server.shutdown()
    server.server_close()


def _counting_posts(monkeypatch, client: Alipay) -> list:
    calls = []

    class CountingSession:
        def post(self, url, **kwargs):
            calls.append(1)
            return requests.post(url, timeout=kwargs.pop("timeout"), **kwargs)

    monkeypatch.setattr(client, "_http", CountingSession())
    return calls


def test_refused_connections_are_retried_then_unavailable(monkeypatch, closed_port_url):
    client = make_client(closed_port_url, retry_delays=(0, 0.01))
    calls = _counting_posts(monkeypatch, client)

    with pytest.raises(PaymentProviderUnavailable):
        client.query(out_trade_no="P1")

    assert len(calls) == 3


def test_a_gateway_that_never_answers_is_unavailable_within_the_timeout_and_not_retried(monkeypatch, silent_server):
    client = make_client(silent_server, timeout=(0.5, 0.5))
    calls = _counting_posts(monkeypatch, client)

    started = time.monotonic()
    with pytest.raises(PaymentProviderUnavailable):
        client.close(out_trade_no="P1")

    assert time.monotonic() - started < 3
    assert len(calls) == 1


def test_a_connection_that_comes_back_on_retry_succeeds(monkeypatch):
    client = make_client()
    answers = [requests.ConnectionError("refused"), signed_answer(QUERY_KEY, PAID)]

    class Response:
        status_code = 200

        def __init__(self, text):
            self.content = text.encode()

    def post(*args, **kwargs):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Response(answer)

    monkeypatch.setattr(client, "_http", type("Session", (), {"post": staticmethod(post)})())

    assert client.query(out_trade_no="P1").state == "paid"
    assert answers == []


@pytest.mark.parametrize(
    ("status", "error"),
    [(502, PaymentProviderUnavailable), (503, PaymentProviderUnavailable), (404, PaymentProviderError)],
)
def test_http_errors_from_the_gateway(scripted_gateway, status, error):
    scripted_gateway.status, scripted_gateway.body = status, b"<html>nope</html>"

    with pytest.raises(error) as caught:
        make_client(scripted_gateway.url).query(out_trade_no="P1")

    assert type(caught.value) is error
    assert scripted_gateway.hits == 1


def test_an_html_page_with_http_200_is_a_provider_error(scripted_gateway):
    scripted_gateway.body = b"<html>Welcome to the hotel wifi</html>"

    with pytest.raises(PaymentProviderError):
        make_client(scripted_gateway.url).query(out_trade_no="P1")


def test_failures_log_neither_keys_nor_signatures(monkeypatch, closed_port_url, scripted_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(closed_port_url)
    params = client._signed_params("alipay.trade.query", {"out_trade_no": "P1"})
    with pytest.raises(PaymentProviderUnavailable):
        client.query(out_trade_no="P1")
    scripted_gateway.body = signed_answer(QUERY_KEY, PAID).replace("169.00", "1.00").encode()
    with pytest.raises(PaymentProviderError):
        make_client(scripted_gateway.url).query(out_trade_no="P1")

    assert "alipay.trade.query P1" in caplog.text
    private_pem = _pem(settings.ALIPAY_PRIVATE_KEY_PATH).splitlines()[1]
    assert private_pem not in caplog.text
    assert params["sign"][:40] not in caplog.text
    assert "biz_content" not in caplog.text


def test_an_unsigned_trade_not_exist_is_not_believed_by_close(monkeypatch):
    client = make_client()
    forged = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "ACQ.TRADE_NOT_EXIST"}
    body = json.dumps({"alipay_trade_close_response": forged})
    monkeypatch.setattr(client, "_post", lambda *args, **kwargs: body)

    with pytest.raises(PaymentProviderError) as caught:
        client.close(out_trade_no="P1")
    assert caught.value.details == {"provider_code": "untrusted-unsigned"}
