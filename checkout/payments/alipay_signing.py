"""Alipay's RSA2 signatures and its yuan strings: the pure functions behind ``alipay.py``.

Three texts get signed or verified, each built its own way (Alipay's open-API docs):

* a request: every parameter but ``sign`` (``sign_type`` included), empty values dropped,
  sorted by key, joined as ``k=v`` with ``&``, raw values (not URL-encoded);
* a response: the exact text of the ``<method>_response`` value as it stands in the body,
  never a re-serialisation (key order, spacing and escapes are Alipay's to choose);
* a notification: like a request, but without ``sign`` *and* ``sign_type``, over the
  URL-decoded values.

All three are RSA PKCS#1 v1.5 over SHA-256, base64 (``sign_type=RSA2``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

FEN_PER_YUAN = 100
_YUAN = re.compile(r"(0|[1-9][0-9]{0,11})\.([0-9]{2})")


class MalformedResponse(ValueError):
    """The body is not the JSON object Alipay answers with."""


def fen_to_yuan(amount_fen: int) -> str:
    """16900 -> "169.00": the only place fen become Alipay's yuan string (integer arithmetic)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise TypeError(f"amount_fen must be an int number of fen, got {type(amount_fen).__name__}")
    if amount_fen < 0:
        raise ValueError("amount_fen must not be negative")
    yuan, fen = divmod(amount_fen, FEN_PER_YUAN)
    return f"{yuan}.{fen:02d}"


def yuan_to_fen(amount: object) -> int:
    """ "12.30" -> 1230, exactly. Alipay always answers with two decimals; anything else
    (floats, "12.3", "1e3", " 1.00", "-1.00", "01.00") is refused with ``ValueError``."""
    if not isinstance(amount, str):
        raise ValueError("an Alipay amount is a string")
    match = _YUAN.fullmatch(amount)
    if match is None:
        raise ValueError("not an Alipay amount with two decimals")
    return int(match.group(1)) * FEN_PER_YUAN + int(match.group(2))


def _join(items: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{key}={value}" for key, value in sorted(items) if value != "")


def request_sign_content(params: Mapping[str, str]) -> str:
    return _join((k, v) for k, v in params.items() if k != "sign")


def notification_sign_content(params: Mapping[str, str]) -> str:
    return _join((k, v) for k, v in params.items() if k not in ("sign", "sign_type"))


def sign(private_key: rsa.RSAPrivateKey, content: str) -> str:
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(public_key: rsa.RSAPublicKey, content: str, signature: str) -> bool:
    """True only for a well-formed base64 RSA2 signature of ``content`` by ``public_key``."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, UnicodeEncodeError, ValueError):
        return False
    return True


def top_level_spans(raw: str) -> dict[str, tuple[int, int]]:
    """Where each top-level value of the JSON object ``raw`` starts and ends.

    A real JSON scan (strings and escapes included), unlike counting braces, which a ``}``
    inside a string value would fool. A key present twice is refused: which of the two is
    signed would be ambiguous.
    """
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int]] = {}

    def skip_ws(i: int) -> int:
        while i < len(raw) and raw[i] in " \t\r\n":
            i += 1
        return i

    def expect(i: int, char: str) -> int:
        if i >= len(raw) or raw[i] != char:
            raise MalformedResponse(f"expected {char!r} at {i}")
        return i + 1

    i = expect(skip_ws(0), "{")
    i = skip_ws(i)
    if i < len(raw) and raw[i] == "}":
        i += 1
    else:
        while True:
            i = expect(i, '"')
            try:
                key, i = json.decoder.scanstring(raw, i)
                i = skip_ws(expect(skip_ws(i), ":"))
                _, end = decoder.raw_decode(raw, i)
            except ValueError as exc:  # JSONDecodeError included
                raise MalformedResponse(str(exc)) from None
            if key in spans:
                raise MalformedResponse(f"duplicate key {key!r}")
            spans[key] = (i, end)
            i = skip_ws(end)
            if i < len(raw) and raw[i] == ",":
                i = skip_ws(i + 1)
                continue
            i = expect(i, "}")
            break
    if skip_ws(i) != len(raw):
        raise MalformedResponse("trailing data after the object")
    return spans


@functools.lru_cache(maxsize=16)
def _load_pem(path: str, mtime_ns: int, private: bool):
    data = Path(path).read_bytes()
    key = (
        serialization.load_pem_private_key(data, password=None) if private else serialization.load_pem_public_key(data)
    )
    expected = rsa.RSAPrivateKey if private else rsa.RSAPublicKey
    if not isinstance(key, expected):
        raise ValueError(f"{path} does not hold an RSA key")
    return key


def load_private_key(path: str | Path) -> rsa.RSAPrivateKey:
    """The app's private key (PKCS#8 or PKCS#1 PEM), re-read when the file changes."""
    return _load_pem(str(path), Path(path).stat().st_mtime_ns, True)


def load_public_key(path: str | Path) -> rsa.RSAPublicKey:
    """Alipay's public key (SubjectPublicKeyInfo PEM), re-read when the file changes."""
    return _load_pem(str(path), Path(path).stat().st_mtime_ns, False)
