"""The cryptography of WeChat Pay API v3, as its public documentation specifies it.

- Requests are signed with the merchant's RSA key (SHA256withRSA, PKCS#1 v1.5) over
  ``METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n`` and carried in an ``Authorization`` header.
- Responses and notifications are signed by WeChat Pay over ``TIMESTAMP\\nNONCE\\nBODY\\n``
  and verified with the platform public key (public-key mode: ``Wechatpay-Serial`` names
  the key by its ``PUB_KEY_ID_...``).
- Notification resources are encrypted with AEAD_AES_256_GCM under the APIv3 key.

Messages are built as bytes, so a body is verified exactly as it travelled, whatever its
encoding. Plain functions over loaded keys; the client (``wechatpay.py``) owns the policy.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat Pay refuses (and tells merchants to refuse) timestamps 5 minutes or more off.
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)


class SignatureInvalid(Exception):
    """A WeChat Pay signature that does not check out; the message says why (no secrets)."""


@functools.lru_cache(maxsize=16)
def load_private_key(path: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


@functools.lru_cache(maxsize=16)
def load_public_key(path: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} does not hold an RSA public key")
    return key


def new_nonce() -> str:
    """32 characters from [0-9a-f]: WeChat Pay allows nonces of up to 32 characters."""
    return secrets.token_hex(16)


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What the merchant signs: ``url`` is the path with its query, without scheme and host."""
    return f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What WeChat Pay signs in a response or a notification."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def build_authorization(
    *,
    private_key: rsa.RSAPrivateKey,
    mchid: str,
    serial_no: str,
    method: str,
    url: str,
    body: bytes,
    timestamp: str,
    nonce: str,
) -> str:
    signature = rsa_sign(private_key, request_message(method, url, timestamp, nonce, body))
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def pay_sign(private_key: rsa.RSAPrivateKey, *, app_id: str, time_stamp: str, nonce_str: str, package: str) -> str:
    """``paySign`` for ``wx.requestPayment``: over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``."""
    return rsa_sign(private_key, f"{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n".encode())


def header_lookup(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names folded to one form, so ``Wechatpay-Serial``, ``wechatpay-serial`` and
    WSGI's ``HTTP_WECHATPAY_SERIAL`` all read as ``wechatpay-serial``."""
    folded: dict[str, str] = {}
    for name, value in headers.items():
        key = str(name).lower().replace("_", "-")
        if key.startswith("http-"):
            key = key[len("http-") :]
        folded[key] = str(value)
    return folded


def verify_platform_signature(
    *,
    headers: Mapping[str, str],
    body: bytes,
    public_key: rsa.RSAPublicKey,
    public_key_id: str,
    now: float,
) -> None:
    """Check the ``Wechatpay-*`` headers of a response or notification; raise ``SignatureInvalid``.

    The serial must name the platform public key we hold, the timestamp must be less than
    5 minutes off ``now`` (Unix seconds; either way: a replay or a wrong clock), and the
    signature must verify over the body exactly as received.
    """
    found = header_lookup(headers)
    serial = found.get("wechatpay-serial", "")
    timestamp = found.get("wechatpay-timestamp", "")
    nonce = found.get("wechatpay-nonce", "")
    signature = found.get("wechatpay-signature", "")
    signature_type = found.get("wechatpay-signature-type", SIGNATURE_TYPE)
    if not (serial and timestamp and nonce and signature):
        raise SignatureInvalid("missing Wechatpay-* signature headers")
    if signature_type != SIGNATURE_TYPE:
        raise SignatureInvalid("unsupported signature type")
    if not hmac.compare_digest(serial.encode(), public_key_id.encode()):
        raise SignatureInvalid("Wechatpay-Serial does not name our platform public key")
    if not timestamp.isdigit():
        raise SignatureInvalid("malformed Wechatpay-Timestamp")
    if abs(now - int(timestamp)) >= MAX_CLOCK_SKEW.total_seconds():
        raise SignatureInvalid("Wechatpay-Timestamp is 5 minutes or more off")
    if not rsa_verify(public_key, response_message(timestamp, nonce, body), signature):
        raise SignatureInvalid("Wechatpay-Signature does not verify")


def aes_gcm_decrypt(*, apiv3_key: str, nonce: str, associated_data: str, ciphertext: str) -> bytes:
    """Decrypt a notification resource; raise ``ValueError`` if it does not authenticate."""
    key = apiv3_key.encode()
    if len(key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    try:
        return AESGCM(key).decrypt(
            nonce.encode(), base64.b64decode(ciphertext, validate=True), associated_data.encode()
        )
    except (InvalidTag, binascii.Error) as exc:
        raise ValueError("the resource does not decrypt under our APIv3 key") from exc
