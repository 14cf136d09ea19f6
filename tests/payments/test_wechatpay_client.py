"""Our WeChat Pay API v3 client, over real HTTP against the sandbox on a live server.

What WeChat Pay would check is checked by the sandbox (it verifies our Authorization with
the merchant public key); what we must check (every answer's platform signature, the
notifications) is tested with answers and notifications crafted here, signed and encrypted
independently of our code with the ``wechatpayv3`` library's helpers and ``AESGCM``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import socket
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings as django_settings
from wechatpayv3 import WeChatPay as LibraryWeChatPay
from wechatpayv3 import WeChatPayType
from wechatpayv3 import utils as wechatpayv3_utils

from checkout.payments import wechatpay_crypto
from checkout.payments.base import InvalidNotification, PaymentProviderError, PaymentProviderUnavailable
from checkout.payments.providers import get_provider
from checkout.payments.wechatpay import WeChatPay
from miniprogram_api.sandbox.models import WeChatPayTrade

SHANGHAI = ZoneInfo("Asia/Shanghai")
OPENID = "o-test-payer-000001"
NOTIFY_URL = "https://shop.example.com/api/payments/wechatpay/notify"


# --- Fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def sandbox(live_server, settings):
    """Point WeChat Pay at the sandbox on the live server; keep retries and timeouts tiny."""
    settings.WECHATPAY_BASE_URL = f"{live_server.url}/sandbox/wechatpay"
    settings.PAYMENT_HTTP_TIMEOUT = (2, 5)
    settings.PAYMENT_HTTP_RETRY_DELAYS = (0.01, 0.01)
    settings.SANDBOX_NOTIFY_RETRY_DELAYS = []
    return settings.WECHATPAY_BASE_URL


@pytest.fixture
def client(sandbox) -> WeChatPay:
    return WeChatPay.from_settings()


@pytest.fixture(scope="session")
def stranger_key_path(tmp_path_factory) -> str:
    """An RSA key nobody registered anywhere."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "stranger_private.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(path)


def _create(client: WeChatPay, out_trade_no: str, *, amount_fen: int = 16990, minutes: int = 15):
    return client.create(
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        description="Scan & pay 上海浦东店",
        payer_openid=OPENID,
        notify_url=NOTIFY_URL,
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes),
    )


def _pem(path: str) -> str:
    return Path(path).read_text()


def _library_client() -> LibraryWeChatPay:
    """The ``wechatpayv3`` SDK with our merchant's keys, in public-key mode."""
    return LibraryWeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=django_settings.WECHATPAY_MCHID,
        private_key=_pem(django_settings.WECHATPAY_PRIVATE_KEY_PATH),
        cert_serial_no=django_settings.WECHATPAY_CERT_SERIAL,
        appid=django_settings.WECHAT_APPID,
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
        notify_url=NOTIFY_URL,
        public_key=_pem(django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH),
        public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
    )


def _platform_signed_headers(
    body: bytes,
    *,
    timestamp: int | None = None,
    serial: str | None = None,
    key_path: str | None = None,
) -> dict[str, str]:
    """WeChat Pay's signature headers, signed with the ``wechatpayv3`` library's ``rsa_sign``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    private_key = serialization.load_pem_private_key(
        Path(key_path or django_settings.SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY_PATH).read_bytes(), password=None
    )
    signature = wechatpayv3_utils.rsa_sign(private_key, f"{timestamp}\n{nonce}\n{body.decode()}\n")
    return {
        "Wechatpay-Serial": serial or django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


class CannedSession:
    """Plays WeChat Pay's HTTP answers (or network failures) for the client, and counts calls."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[dict] = []

    def request(self, method, url, **kwargs):
        self.calls.append({"method": method, "url": url, **kwargs})
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        status, headers, body = outcome
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = body
        return response


def _canned_client(session: CannedSession) -> WeChatPay:
    return WeChatPay(
        appid=django_settings.WECHAT_APPID,
        mchid=django_settings.WECHATPAY_MCHID,
        merchant_private_key_path=django_settings.WECHATPAY_PRIVATE_KEY_PATH,
        merchant_serial_no=django_settings.WECHATPAY_CERT_SERIAL,
        apiv3_key=django_settings.WECHATPAY_APIV3_KEY,
        platform_public_key_path=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH,
        platform_public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
        base_url="https://api.mch.weixin.qq.com",
        timeout=(1, 1),
        retry_delays=(0, 0),
        session=session,
    )


def _notpay_answer(out_trade_no: str) -> bytes:
    return json.dumps(
        {
            "appid": django_settings.WECHAT_APPID,
            "mchid": django_settings.WECHATPAY_MCHID,
            "out_trade_no": out_trade_no,
            "trade_state": "NOTPAY",
            "trade_state_desc": "订单未支付",
            "amount": {"total": 100, "currency": "CNY"},
        },
        ensure_ascii=False,
    ).encode()


# --- Create, query, close over HTTP ------------------------------------------------------


def test_create_query_close_round_trip_against_the_sandbox(client):
    created = _create(client, "SP20240601000001", amount_fen=16990)

    trade = WeChatPayTrade.objects.get(out_trade_no="SP20240601000001")
    assert created.provider_reference == trade.prepay_id
    assert created.client_params["package"] == f"prepay_id={trade.prepay_id}"
    assert trade.amount_fen == 16990
    assert trade.payer_openid == OPENID
    assert trade.appid == django_settings.WECHAT_APPID

    pending = client.query(out_trade_no="SP20240601000001")
    assert (pending.state, pending.amount_fen, pending.provider_trade_id, pending.paid_at) == (
        "pending",
        16990,
        "",
        None,
    )
    assert pending.raw["trade_state"] == "NOTPAY"

    assert client.close(out_trade_no="SP20240601000001") is None
    closed = client.query(out_trade_no="SP20240601000001")
    assert closed.state == "closed"
    assert closed.raw["trade_state"] == "CLOSED"


def test_get_provider_builds_the_client_from_settings(sandbox):
    provider = get_provider("wechat_pay")

    assert isinstance(provider, WeChatPay)
    assert provider.name == "wechat_pay"
    assert provider.base_url == sandbox


def test_create_sends_the_documented_jsapi_order(client):
    expires_at = dt.datetime(2031, 6, 8, 2, 34, 56, tzinfo=dt.UTC)
    client.create(
        out_trade_no="SP20240601000002",
        amount_fen=1,
        description="x" * 200,
        payer_openid=OPENID,
        notify_url=NOTIFY_URL,
        expires_at=expires_at,
    )

    sent = WeChatPayTrade.objects.get(out_trade_no="SP20240601000002").create_params
    assert sent == {
        "appid": django_settings.WECHAT_APPID,
        "mchid": django_settings.WECHATPAY_MCHID,
        "description": "x" * 127,
        "out_trade_no": "SP20240601000002",
        "time_expire": "2031-06-08T10:34:56+08:00",
        "notify_url": NOTIFY_URL,
        "amount": {"total": 1, "currency": "CNY"},
        "payer": {"openid": OPENID},
    }


def test_a_paid_trade_queries_as_paid_with_amount_time_and_transaction_id(client):
    _create(client, "SP20240601000003", amount_fen=8800)
    success_time = dt.datetime(2024, 6, 1, 4, 5, 6, tzinfo=dt.UTC)
    WeChatPayTrade.objects.filter(out_trade_no="SP20240601000003").update(
        trade_state="SUCCESS", transaction_id="4200001234202406011234567890", success_time=success_time
    )

    status = client.query(out_trade_no="SP20240601000003")

    assert status.state == "paid"
    assert status.amount_fen == 8800
    assert status.provider_trade_id == "4200001234202406011234567890"
    assert status.paid_at == success_time
    assert status.raw["success_time"] == "2024-06-01T12:05:06+08:00"
    assert status.raw["amount"]["payer_total"] == 8800


@pytest.mark.parametrize(
    ("trade_state", "state"),
    [
        ("SUCCESS", "paid"),
        ("REFUND", "paid"),
        ("NOTPAY", "pending"),
        ("USERPAYING", "pending"),
        ("CLOSED", "closed"),
        ("REVOKED", "closed"),
        ("PAYERROR", "failed"),
    ],
)
def test_every_documented_trade_state_maps_to_ours(trade_state, state):
    answer = {
        "appid": django_settings.WECHAT_APPID,
        "mchid": django_settings.WECHATPAY_MCHID,
        "out_trade_no": "SP20240601000004",
        "trade_state": trade_state,
        "amount": {"total": 100, "payer_total": 100},
    }
    if state == "paid":
        answer.update(transaction_id="4200001234202406011234567890", success_time="2024-06-01T12:05:06+08:00")
    body = json.dumps(answer).encode()
    client = _canned_client(CannedSession((200, _platform_signed_headers(body), body)))

    status = client.query(out_trade_no="SP20240601000004")

    assert status.state == state
    assert status.raw["trade_state"] == trade_state
    assert status.amount_fen == 100


def test_creating_again_with_the_same_parameters_returns_the_same_prepay_id(client):
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
    arguments = dict(
        out_trade_no="SP20240601000005",
        amount_fen=500,
        description="Basket",
        payer_openid=OPENID,
        notify_url=NOTIFY_URL,
        expires_at=expires_at,
    )

    first = client.create(**arguments)
    second = client.create(**arguments)

    assert first.provider_reference == second.provider_reference
    assert second.client_params["package"] == f"prepay_id={first.provider_reference}"
    assert WeChatPayTrade.objects.count() == 1


def test_creating_again_with_another_amount_is_refused_and_changes_nothing(client):
    _create(client, "SP20240601000006", amount_fen=500)

    with pytest.raises(PaymentProviderError) as refused:
        _create(client, "SP20240601000006", amount_fen=400)

    assert refused.value.details == {"http_status": 400, "provider_code": "INVALID_REQUEST"}
    assert WeChatPayTrade.objects.get().amount_fen == 500


def test_querying_an_unknown_order_is_order_not_exist(client):
    with pytest.raises(PaymentProviderError) as refused:
        client.query(out_trade_no="SP20249999999999")

    assert refused.value.details == {"http_status": 404, "provider_code": "ORDER_NOT_EXIST"}


def test_closing_a_paid_order_is_refused_as_orderpaid(client):
    _create(client, "SP20240601000007")
    WeChatPayTrade.objects.filter(out_trade_no="SP20240601000007").update(
        trade_state="SUCCESS", transaction_id="4200001234202406011234567891", success_time=dt.datetime.now(dt.UTC)
    )

    with pytest.raises(PaymentProviderError) as refused:
        client.close(out_trade_no="SP20240601000007")

    assert refused.value.details["provider_code"] == "ORDERPAID"
    assert WeChatPayTrade.objects.get().trade_state == "SUCCESS"


def test_closing_twice_is_fine(client):
    _create(client, "SP20240601000008")

    client.close(out_trade_no="SP20240601000008")
    client.close(out_trade_no="SP20240601000008")

    assert WeChatPayTrade.objects.get().trade_state == "CLOSED"


def test_out_trade_no_with_every_allowed_character_round_trips(client):
    """``|`` and ``*`` travel percent-encoded in the path, and are signed as sent."""
    _create(client, "SP_2024-06|01*9")

    assert client.query(out_trade_no="SP_2024-06|01*9").state == "pending"
    client.close(out_trade_no="SP_2024-06|01*9")
    assert WeChatPayTrade.objects.get(out_trade_no="SP_2024-06|01*9").trade_state == "CLOSED"


def test_an_app_the_merchant_is_not_bound_to_is_refused(client):
    client.appid = "wx-not-bound-to-mchid"

    with pytest.raises(PaymentProviderError) as refused:
        _create(client, "SP20240601000009")

    assert refused.value.details["provider_code"] == "APPID_MCHID_NOT_MATCH"
    assert not WeChatPayTrade.objects.exists()


def test_requests_signed_with_a_key_wechat_does_not_know_are_refused_as_sign_error(
    sandbox, settings, stranger_key_path
):
    settings.WECHATPAY_PRIVATE_KEY_PATH = stranger_key_path

    with pytest.raises(PaymentProviderError) as refused:
        _create(WeChatPay.from_settings(), "SP20240601000010")

    assert refused.value.details == {"http_status": 401, "provider_code": "SIGN_ERROR"}
    assert not WeChatPayTrade.objects.exists()


def test_a_wrong_certificate_serial_is_refused_as_sign_error(client):
    client.merchant_serial_no = "0" * 40  # the sandbox keeps the serial on file from settings

    with pytest.raises(PaymentProviderError) as refused:
        _create(client, "SP20240601000011")

    assert refused.value.details["provider_code"] == "SIGN_ERROR"


# --- The mini-program's payment parameters ------------------------------------------------


def test_request_payment_params_are_what_wx_request_payment_takes(client):
    created = _create(client, "SP20240601000012")
    params = created.client_params

    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == django_settings.WECHAT_APPID
    assert params["signType"] == "RSA"
    assert params["package"] == f"prepay_id={created.provider_reference}"
    assert isinstance(params["timeStamp"], str) and abs(int(params["timeStamp"]) - time.time()) < 60
    assert 1 <= len(params["nonceStr"]) <= 32


def test_pay_sign_verifies_with_the_merchant_public_key_and_equals_the_librarys(client):
    params = _create(client, "SP20240601000013").client_params
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    merchant_public = serialization.load_pem_public_key(
        Path(django_settings.SANDBOX_WECHATPAY_MERCHANT_PUBLIC_KEY_PATH).read_bytes()
    )

    merchant_public.verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())
    # PKCS#1 v1.5 signatures are deterministic: the SDK signing the same fields must agree byte for byte.
    library_sign = _library_client().sign([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]])
    assert library_sign == params["paySign"]


def test_our_authorization_header_is_byte_equal_to_the_librarys(monkeypatch):
    body = '{"mchid":"1900000001"}'
    monkeypatch.setattr(time, "time", lambda: 1717200000.5)
    private_key = wechatpay_crypto.load_private_key(django_settings.WECHATPAY_PRIVATE_KEY_PATH)

    ours = wechatpay_crypto.build_authorization(
        private_key=private_key,
        mchid="1900000001",
        serial_no="ABC123",
        method="POST",
        url="/v3/pay/transactions/out-trade-no/SP1234/close",
        body=body.encode(),
        timestamp="1717200000",
        nonce="NONCE123",
    )
    theirs = wechatpayv3_utils.build_authorization(
        "/v3/pay/transactions/out-trade-no/SP1234/close",
        "POST",
        "1900000001",
        "ABC123",
        private_key,
        data=body,
        nonce_str="NONCE123",
    )

    assert ours == theirs


# --- Answers we must not believe --------------------------------------------------------------


def test_a_genuine_signed_answer_is_believed():
    body = _notpay_answer("SP20240601000014")
    client = _canned_client(CannedSession((200, _platform_signed_headers(body), body)))

    assert client.query(out_trade_no="SP20240601000014").state == "pending"


def test_an_answer_signed_four_minutes_ago_is_still_believed():
    body = _notpay_answer("SP20240601000015")
    headers = _platform_signed_headers(body, timestamp=int(time.time()) - 240)
    client = _canned_client(CannedSession((200, headers, body)))

    assert client.query(out_trade_no="SP20240601000015").state == "pending"


def _tampered(case: str, stranger_key_path: str) -> tuple[dict, bytes]:
    body = _notpay_answer("SP20240601000016")
    if case == "body changed after signing":
        return _platform_signed_headers(body), body.replace(b"NOTPAY", b"SUCCESS")
    if case == "signature flipped":
        headers = _platform_signed_headers(body)
        signature = headers["Wechatpay-Signature"]
        headers["Wechatpay-Signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]
        return headers, body
    if case == "signed by another key":
        return _platform_signed_headers(body, key_path=stranger_key_path), body
    if case == "stale timestamp":
        return _platform_signed_headers(body, timestamp=int(time.time()) - 301), body
    if case == "future timestamp":
        return _platform_signed_headers(body, timestamp=int(time.time()) + 310), body
    if case == "wrong serial":
        return _platform_signed_headers(body, serial="PUB_KEY_ID_0000000000000000000000000000000000"), body
    if case == "no signature headers":
        return {"Content-Type": "application/json"}, body
    raise AssertionError(case)


TAMPERINGS = [
    "body changed after signing",
    "signature flipped",
    "signed by another key",
    "stale timestamp",
    "future timestamp",
    "wrong serial",
    "no signature headers",
]


@pytest.mark.parametrize("case", TAMPERINGS)
def test_an_answer_that_does_not_verify_is_a_provider_error(case, stranger_key_path):
    headers, body = _tampered(case, stranger_key_path)
    client = _canned_client(CannedSession((200, headers, body)))

    with pytest.raises(PaymentProviderError) as refused:
        client.query(out_trade_no="SP20240601000016")

    assert "provider_code" not in refused.value.details


@pytest.mark.parametrize("case", TAMPERINGS)
def test_the_verifier_rejects_crafted_answers(case, stranger_key_path):
    headers, body = _tampered(case, stranger_key_path)

    with pytest.raises(wechatpay_crypto.SignatureInvalid):
        wechatpay_crypto.verify_platform_signature(
            headers=headers,
            body=body,
            public_key=wechatpay_crypto.load_public_key(django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_PATH),
            public_key_id=django_settings.WECHATPAY_PLATFORM_PUBLIC_KEY_ID,
            now=time.time(),
        )


def test_an_unsigned_204_does_not_count_as_closed():
    client = _canned_client(CannedSession((204, {}, b"")))

    with pytest.raises(PaymentProviderError):
        client.close(out_trade_no="SP20240601000017")


def test_a_signed_204_counts_as_closed():
    client = _canned_client(CannedSession((204, _platform_signed_headers(b""), b"")))

    assert client.close(out_trade_no="SP20240601000017") is None


def test_an_unverified_error_code_is_not_passed_on_as_wechats():
    """A forged ORDERPAID must not make the caller believe the order was paid."""
    body = b'{"code":"ORDERPAID","message":"forged"}'
    client = _canned_client(CannedSession((400, {"Content-Type": "application/json"}, body)))

    with pytest.raises(PaymentProviderError) as refused:
        client.close(out_trade_no="SP20240601000018")

    assert refused.value.details == {"http_status": 400}


def test_an_answer_about_another_trade_is_refused():
    body = _notpay_answer("SP-SOMEONE-ELSE")
    client = _canned_client(CannedSession((200, _platform_signed_headers(body), body)))

    with pytest.raises(PaymentProviderError):
        client.query(out_trade_no="SP20240601000019")


# --- WeChat Pay does not answer ---------------------------------------------------------------


@pytest.fixture
def closed_port_url():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def test_refused_connections_are_unavailable(db, settings, closed_port_url):
    settings.WECHATPAY_BASE_URL = closed_port_url
    settings.PAYMENT_HTTP_TIMEOUT = (0.5, 0.5)
    settings.PAYMENT_HTTP_RETRY_DELAYS = (0.01, 0.01)

    with pytest.raises(PaymentProviderUnavailable):
        _create(WeChatPay.from_settings(), "SP20240601000020")


def test_connection_failures_are_retried_twice_then_unavailable():
    session = CannedSession(requests.ConnectionError("refused"))
    client = _canned_client(session)

    with pytest.raises(PaymentProviderUnavailable):
        client.query(out_trade_no="SP20240601000021")

    assert len(session.calls) == 3
    authorizations = {call["headers"]["Authorization"] for call in session.calls}
    assert len(authorizations) == 3, "each attempt is signed afresh"


def test_a_connection_failure_then_an_answer_succeeds():
    body = _notpay_answer("SP20240601000022")
    session = CannedSession(requests.ConnectionError("reset"), (200, _platform_signed_headers(body), body))

    assert _canned_client(session).query(out_trade_no="SP20240601000022").state == "pending"
    assert len(session.calls) == 2


def test_a_read_timeout_is_not_retried():
    session = CannedSession(requests.ReadTimeout("slow"))

    with pytest.raises(PaymentProviderUnavailable):
        _canned_client(session).query(out_trade_no="SP20240601000023")

    assert len(session.calls) == 1


def test_a_wechat_that_never_answers_is_unavailable_within_the_timeout(db, settings):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    settings.WECHATPAY_BASE_URL = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings.PAYMENT_HTTP_TIMEOUT = (0.5, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(PaymentProviderUnavailable):
            WeChatPay.from_settings().query(out_trade_no="SP20240601000024")
    finally:
        sock.close()
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(("rehearsal", "status"), [("SYSTEM_ERROR", 500), ("FREQUENCY_LIMITED", 429)])
def test_system_errors_and_rate_limits_are_unavailable(sandbox, rehearsal, status):
    session = requests.Session()
    session.headers["X-Sandbox-Fail"] = rehearsal
    client = WeChatPay.from_settings()
    client._http = session

    with pytest.raises(PaymentProviderUnavailable) as unavailable:
        _create(client, "SP20240601000025")

    assert unavailable.value.details == {"http_status": status, "provider_code": rehearsal}
    assert not WeChatPayTrade.objects.exists()


def test_nothing_secret_reaches_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    created = _create(client, "SP20240601000026")
    client.query(out_trade_no="SP20240601000026")
    client.close(out_trade_no="SP20240601000026")
    with pytest.raises(PaymentProviderError):
        client.query(out_trade_no="SP20249999999998")

    assert "SP20240601000026" in caplog.text, "the calls should have logged something to check"
    for secret in (
        django_settings.WECHATPAY_APIV3_KEY,
        "WECHATPAY2-SHA256-RSA2048 mchid",
        created.client_params["paySign"],
        OPENID,
        "PRIVATE KEY",
    ):
        assert secret not in caplog.text


# --- Notifications --------------------------------------------------------------------------


def _transaction(**overrides) -> dict:
    transaction = {
        "appid": django_settings.WECHAT_APPID,
        "mchid": django_settings.WECHATPAY_MCHID,
        "out_trade_no": "SP20240601000027",
        "transaction_id": "4200001234202406011234567892",
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "",
        "success_time": "2024-06-01T12:05:06+08:00",
        "payer": {"openid": OPENID},
        "amount": {"total": 16990, "payer_total": 16990, "currency": "CNY", "payer_currency": "CNY"},
    }
    transaction.update(overrides)
    return transaction


def _notification(
    transaction: dict | None = None,
    *,
    apiv3_key: str | None = None,
    envelope_overrides: dict | None = None,
    raw_plaintext: bytes | None = None,
) -> bytes:
    """A TRANSACTION.SUCCESS notification, encrypted here with AESGCM (not with our code)."""
    plaintext = raw_plaintext or json.dumps(transaction or _transaction(), ensure_ascii=False).encode()
    nonce = "fdasflkja484"
    key = (apiv3_key or django_settings.WECHATPAY_APIV3_KEY).encode()
    ciphertext = AESGCM(key).encrypt(nonce.encode(), plaintext, b"transaction")
    envelope = {
        "id": "EV-2018022511223320873",
        "create_time": "2024-06-01T12:05:07+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "associated_data": "transaction",
            "nonce": nonce,
        },
    }
    envelope.update(envelope_overrides or {})
    return json.dumps(envelope, ensure_ascii=False).encode()


def _parser() -> WeChatPay:
    return _canned_client(CannedSession((500, {}, b"")))


def test_a_notification_built_independently_is_decrypted_into_a_paid_status():
    body = _notification()
    headers = {name.lower(): value for name, value in _platform_signed_headers(body).items()}

    status = _parser().parse_notification(headers=headers, body=body)

    assert status.out_trade_no == "SP20240601000027"
    assert status.state == "paid"
    assert status.amount_fen == 16990
    assert status.provider_trade_id == "4200001234202406011234567892"
    assert status.paid_at == dt.datetime(2024, 6, 1, 12, 5, 6, tzinfo=SHANGHAI)
    assert status.raw["payer"] == {"openid": OPENID}


def test_notification_headers_are_read_in_any_case_and_in_wsgi_form():
    body = _notification()
    signed = _platform_signed_headers(body)
    upper = {name.upper(): value for name, value in signed.items()}
    wsgi = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in signed.items()}

    assert _parser().parse_notification(headers=upper, body=body).state == "paid"
    assert _parser().parse_notification(headers=wsgi, body=body).state == "paid"


def test_the_library_accepts_the_notification_we_test_with():
    """Our test notifications are what WeChat sends, as far as the SDK can tell."""
    body = _notification()

    result = _library_client().callback(_platform_signed_headers(body), body)

    assert result["resource"]["out_trade_no"] == "SP20240601000027"


def _invalid(case: str, stranger_key_path: str) -> tuple[dict, bytes]:
    body = _notification()
    if case == "body tampered":
        return _platform_signed_headers(body), body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESs")
    if case == "signature by another key":
        return _platform_signed_headers(body, key_path=stranger_key_path), body
    if case == "signature flipped":
        headers = _platform_signed_headers(body)
        headers["Wechatpay-Signature"] = headers["Wechatpay-Signature"][::-1]
        return headers, body
    if case == "signature not base64":
        headers = _platform_signed_headers(body)
        headers["Wechatpay-Signature"] = "not base64 at all!"
        return headers, body
    if case == "stale timestamp":
        return _platform_signed_headers(body, timestamp=int(time.time()) - 300), body
    if case == "wrong serial":
        return _platform_signed_headers(body, serial="PUB_KEY_ID_0111111111111111111111111111111111"), body
    if case == "other signature type":
        headers = _platform_signed_headers(body)
        headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
        return headers, body
    if case == "no headers":
        return {}, body
    if case == "wrong apiv3 key":
        body = _notification(apiv3_key="0123456789abcdef0123456789abcdef")
    elif case == "wrong appid":
        body = _notification(_transaction(appid="wx-another-app"))
    elif case == "wrong mchid":
        body = _notification(_transaction(mchid="1900000002"))
    elif case == "garbage json":
        body = b"{not json"
    elif case == "json array":
        body = b"[]"
    elif case == "not encrypted":
        body = _notification(envelope_overrides={"resource_type": "plain"})
    elif case == "resource missing":
        body = _notification(envelope_overrides={"resource": None})
    elif case == "ciphertext not base64":
        body = _notification(
            envelope_overrides={
                "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "ciphertext": "%%%"}
            }
        )
    elif case == "refund resource":
        resource = json.loads(_notification())["resource"]
        body = _notification(envelope_overrides={"resource": {**resource, "original_type": "refund"}})
    elif case == "plaintext not json":
        body = _notification(raw_plaintext=b"\xff\xfe")
    elif case == "unknown trade_state":
        body = _notification(_transaction(trade_state="MAYBE"))
    elif case == "amount not fen":
        body = _notification(_transaction(amount={"total": "169.90"}))
    elif case == "paid without transaction_id":
        body = _notification(_transaction(transaction_id=""))
    elif case == "no out_trade_no":
        body = _notification(_transaction(out_trade_no=None))
    elif case == "bad success_time":
        body = _notification(_transaction(success_time="yesterday"))
    else:
        raise AssertionError(case)
    return _platform_signed_headers(body), body


@pytest.mark.parametrize(
    "case",
    [
        "body tampered",
        "signature by another key",
        "signature flipped",
        "signature not base64",
        "stale timestamp",
        "wrong serial",
        "other signature type",
        "no headers",
        "wrong apiv3 key",
        "wrong appid",
        "wrong mchid",
        "garbage json",
        "json array",
        "not encrypted",
        "resource missing",
        "ciphertext not base64",
        "refund resource",
        "plaintext not json",
        "unknown trade_state",
        "amount not fen",
        "paid without transaction_id",
        "no out_trade_no",
        "bad success_time",
    ],
)
def test_a_notification_that_does_not_check_out_is_invalid(case, stranger_key_path):
    headers, body = _invalid(case, stranger_key_path)

    with pytest.raises(InvalidNotification):
        _parser().parse_notification(headers=headers, body=body)


def test_an_apiv3_key_of_the_wrong_length_makes_notifications_invalid_not_errors():
    body = _notification()
    parser = _parser()
    parser._apiv3_key = "short"

    with pytest.raises(InvalidNotification):
        parser.parse_notification(headers=_platform_signed_headers(body), body=body)


def test_notification_parsing_needs_no_network():
    body = _notification()
    session = CannedSession(AssertionError("no HTTP call expected"))

    _canned_client(session).parse_notification(headers=_platform_signed_headers(body), body=body)

    assert session.calls == []
