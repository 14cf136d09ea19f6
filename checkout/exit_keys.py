"""The exit-pass keys: the current Ed25519 signing key and every public key a verifier
should accept (the current one plus those still listed during a rotation)."""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


@functools.lru_cache(maxsize=8)
def _load_private(path: str, mtime_ns: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


@functools.lru_cache(maxsize=32)
def _load_public(path: str, mtime_ns: int) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key); re-read when the file changes, cached otherwise."""
    path = settings.EXIT_PASS_SIGNING_KEY_PATH
    return settings.EXIT_PASS_KEY_ID, _load_private(path, Path(path).stat().st_mtime_ns)


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every key id a pass may carry, mapped to its public key."""
    key_id, private = signing_key()
    keys = {key_id: private.public_key()}
    for entry in settings.EXIT_PASS_EXTRA_PUBLIC_KEYS:
        kid, _, path = entry.partition(":")
        keys[kid.strip()] = _load_public(path.strip(), Path(path.strip()).stat().st_mtime_ns)
    return keys


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
