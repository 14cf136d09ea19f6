"""The exit-pass token: 40 bytes of claims signed with Ed25519, base64url, ``EP1.`` prefix.

Binary rather than JSON so the whole token (143 characters) fits a small QR code that a
gate reads fast from a phone screen. Layout (big-endian)::

    version u8 | key id 4 ASCII | pass id u64 | order id u64 | store id u32 |
    item count u16 | total fen u32 | issued at u32 | expires at u32 | flags u8

followed by the 64-byte signature over those 40 bytes. Times are Unix seconds. Flag bit 0
is the audit decision made at payment, so an offline gate asks for the same check.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX = "EP1."
VERSION = 1
LAYOUT = struct.Struct(">B4sQQIHIIIB")
SIGNATURE_LENGTH = 64
FLAG_AUDIT = 0x01


class TokenRejected(Exception):
    """Why a token cannot open the gate; ``reason`` is a stable code the gate shows."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class PassClaims:
    key_id: str
    pass_id: int
    order_id: int
    store_id: int
    item_count: int
    total_fen: int
    issued_at: int
    expires_at: int
    audit: bool


def encode(claims: PassClaims, private_key: Ed25519PrivateKey) -> str:
    key_id = claims.key_id.encode("ascii")
    if len(key_id) != 4:
        raise ValueError("a key id is exactly 4 ASCII characters")
    body = LAYOUT.pack(
        VERSION,
        key_id,
        claims.pass_id,
        claims.order_id,
        claims.store_id,
        claims.item_count,
        claims.total_fen,
        claims.issued_at,
        claims.expires_at,
        FLAG_AUDIT if claims.audit else 0,
    )
    signature = private_key.sign(body)
    return PREFIX + base64.urlsafe_b64encode(body + signature).rstrip(b"=").decode("ascii")


def read_claims(token: object) -> tuple[PassClaims, bytes, bytes]:
    """Parse without verifying: the claims, the signed bytes and the signature."""
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 256:
        raise TokenRejected("malformed", "This is not an exit pass.")
    encoded = token[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise TokenRejected("malformed", "This is not an exit pass.") from None
    # One spelling per pass: base64 decoding skips stray characters and ignores the spare
    # bits of the last one, so without this a pass could be shown in many textual forms,
    # and a list of used passes (a gate's, or the server's) keyed by text would miss them.
    if len(raw) != LAYOUT.size + SIGNATURE_LENGTH or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != encoded:
        raise TokenRejected("malformed", "This is not an exit pass.")
    body, signature = raw[: LAYOUT.size], raw[LAYOUT.size :]
    version, key_id, pass_id, order_id, store_id, items, total, issued, expires, flags = LAYOUT.unpack(body)
    if version != VERSION:
        raise TokenRejected("malformed", "This exit pass format is not supported.")
    try:
        kid = key_id.decode("ascii")
    except UnicodeDecodeError:
        raise TokenRejected("malformed", "This is not an exit pass.") from None
    claims = PassClaims(kid, pass_id, order_id, store_id, items, total, issued, expires, bool(flags & FLAG_AUDIT))
    return claims, body, signature


def verify(
    token: object,
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    now: float,
    clock_skew_seconds: float,
    store_id: int | None = None,
) -> PassClaims:
    """Check signature, key id, validity window (with clock skew) and store, in that order.

    The signature comes first: nothing in an unsigned token is worth an answer beyond
    "not a valid pass".
    """
    claims, body, signature = read_claims(token)
    key = public_keys.get(claims.key_id)
    if key is None:
        raise TokenRejected("unknown_key", "This exit pass was signed with a key this gate does not know.")
    try:
        key.verify(signature, body)
    except InvalidSignature:
        raise TokenRejected("bad_signature", "This exit pass is not genuine.") from None
    if now > claims.expires_at + clock_skew_seconds:
        raise TokenRejected("expired", "This exit pass has expired; get a fresh one in the mini-program.")
    if now < claims.issued_at - clock_skew_seconds:
        raise TokenRejected("not_yet_valid", "This exit pass is not valid yet; check the gate's clock.")
    if store_id is not None and claims.store_id != store_id:
        raise TokenRejected("wrong_store", "This exit pass is for another store.")
    return claims
