"""Keys for the local run: generated once into ``var/keys`` so the payment sandbox and our
clients can sign and verify for real without an account at Tencent or Ant.

Never used in production, where every key path and secret comes from the environment.
Several processes (web, worker, beat) start at once, so each file is created with
``os.link`` from a temporary file: the first writer wins and the others read its key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import string
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


def _create_once(path: Path, content: bytes) -> None:
    if path.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):  # another process won the race
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _rsa_pair(directory: Path, name: str) -> None:
    private_path, public_path = directory / f"{name}_private.pem", directory / f"{name}_public.pem"
    if not private_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _create_once(private_path, pem)
    if not public_path.exists():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        _create_once(public_path, pem)


def ensure_local_keys(directory: Path) -> dict[str, str]:
    """Create what is missing and return the non-file values (serials, the APIv3 key)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("wechatpay_merchant", "wechatpay_platform", "alipay_app", "alipay_platform"):
        _rsa_pair(directory, name)
    exit_key = directory / "exit_pass_ed25519.pem"
    if not exit_key.exists():
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _create_once(exit_key, pem)
    alphabet = string.ascii_letters + string.digits
    _create_once(directory / "wechatpay_apiv3.key", "".join(secrets.choice(alphabet) for _ in range(32)).encode())
    _create_once(directory / "wechatpay_merchant_serial.txt", secrets.token_hex(20).upper().encode())
    _create_once(
        directory / "wechatpay_platform_public_key_id.txt",
        ("PUB_KEY_ID_0" + "".join(secrets.choice(string.digits) for _ in range(33))).encode(),
    )
    return {
        "apiv3_key": (directory / "wechatpay_apiv3.key").read_text().strip(),
        "merchant_serial": (directory / "wechatpay_merchant_serial.txt").read_text().strip(),
        "platform_public_key_id": (directory / "wechatpay_platform_public_key_id.txt").read_text().strip(),
    }
