"""The gate's own decision when its network is down: verify the pass locally, once.

Runs on the gate device with only the standard library and ``cryptography`` (no Django, no
database). It checks the signature, key, validity window and store with
``gate_verifier.token.verify``, remembers the passes it let through so a screenshot opens
this gate once, and journals every decision for upload to
``POST /api/gate/v1/offline-events`` when the network is back. The server then spends each
pass as an online check would and flags a pass used at two gates (or online and offline)
for loss prevention: a gate alone cannot see what other gates did.

State survives a reboot when ``state_path`` is given: an append-only file of JSON lines,
one per decision, flushed and fsynced before the gate opens. A line is written with one
``write`` under ``O_APPEND``; a line torn by a power cut is skipped when the file is read
back. ``mark_uploaded`` rewrites the file (temporary file, fsync, ``os.replace``) keeping
only what is still needed: journal entries not yet uploaded and used passes not yet
expired.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import token as pass_token

OPEN, DENY, AUDIT = "open", "deny", "audit"
REASON_OK = "ok"
REASON_ALREADY_USED = "already_used"
REASON_AUDIT_REQUIRED = "audit_required"
# Rejections that come after the signature checked out, so the claims can be shown.
SIGNED_REJECTIONS = frozenset({"expired", "not_yet_valid", "wrong_store"})
# What the journal keeps of a scan; the upload endpoint takes up to 1024 characters.
MAX_TOKEN_CHARS = 512

MESSAGES = {
    REASON_OK: "Thank you for shopping with us.",
    REASON_ALREADY_USED: "This exit pass was already used.",
    REASON_AUDIT_REQUIRED: "Please wait: a member of staff will check your basket.",
}


@dataclass(frozen=True)
class Decision:
    """What the gate does. The pass fields are set only when the signature verified."""

    decision: str
    reason: str
    pass_id: int | None = None
    order_id: int | None = None
    item_count: int | None = None
    total_fen: int | None = None
    message: str = ""

    @property
    def opens(self) -> bool:
        return self.decision == OPEN


def load_keys(document: Mapping[str, Any] | str | bytes) -> dict[str, str]:
    """``{key_id: public_key_pem}`` from the answer of ``GET /api/gate/v1/keys``.

    Refuses (ValueError) a document that is not that shape, a key of another algorithm or
    a PEM that is not an Ed25519 public key, so a gate never swaps its working keys for
    a broken set.
    """
    if isinstance(document, str | bytes):
        document = json.loads(document)
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError('expected {"keys": [...]}')
    keys: dict[str, str] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping):
            raise ValueError("each key is an object")
        key_id, algorithm, pem = entry.get("key_id"), entry.get("algorithm"), entry.get("public_key_pem")
        if algorithm != "Ed25519":
            raise ValueError(f"key {key_id!r}: algorithm {algorithm!r} is not Ed25519")
        if not isinstance(key_id, str) or len(key_id.encode("ascii", "replace")) != 4 or not isinstance(pem, str):
            raise ValueError(f"key {key_id!r}: needs a 4-character key_id and a public_key_pem")
        _public_key(pem)
        keys[key_id] = pem
    if not keys:
        raise ValueError("the document lists no keys")
    return keys


def _public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="milliseconds")


class OfflineVerifier:
    """One gate's offline decisions. Thread-safe: two scan heads may share one verifier."""

    def __init__(
        self,
        store_id: int,
        public_keys_pem: Mapping[str, str],
        used_pass_store_path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        clock_skew_seconds: float = 60,
        fsync: bool = True,
    ):
        self.store_id = store_id
        self.clock = clock
        self.clock_skew_seconds = clock_skew_seconds
        self._fsync = fsync
        self._lock = threading.Lock()
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._used: dict[int, int] = {}  # pass id -> expires at (Unix seconds)
        self._journal: dict[int, dict[str, Any]] = {}  # seq -> event, in decision order
        self._seq = 0
        self._path = Path(used_pass_store_path) if used_pass_store_path is not None else None
        self.update_keys(public_keys_pem)
        if self._path is not None:
            self._load()

    # --- keys -------------------------------------------------------------------------

    def update_keys(self, public_keys_pem: Mapping[str, str]) -> None:
        """Swap in the keys last downloaded (e.g. ``load_keys(response.json())``)."""
        keys = {kid: _public_key(pem) for kid, pem in public_keys_pem.items()}
        with self._lock:
            self._keys = keys

    # --- deciding ---------------------------------------------------------------------

    def decide(self, token: object) -> Decision:
        """Open, deny or call for an audit; ``open`` and ``audit`` spend the pass."""
        with self._lock:
            now = self.clock()
            spends: pass_token.PassClaims | None = None
            try:
                claims = pass_token.verify(
                    token, self._keys, now=now, clock_skew_seconds=self.clock_skew_seconds, store_id=self.store_id
                )
            except pass_token.TokenRejected as rejected:
                decision = Decision(DENY, rejected.reason, message=rejected.message)
                if rejected.reason in SIGNED_REJECTIONS:
                    decision = _with_claims(decision, pass_token.read_claims(token)[0])
            else:
                if claims.pass_id in self._used:
                    decision = Decision(DENY, REASON_ALREADY_USED, message=MESSAGES[REASON_ALREADY_USED])
                else:
                    reason = REASON_AUDIT_REQUIRED if claims.audit else REASON_OK
                    decision = Decision(AUDIT if claims.audit else OPEN, reason, message=MESSAGES[reason])
                    spends = claims
                decision = _with_claims(decision, claims)
            self._record(token, decision, now, spends=spends)
            return decision

    def _record(self, token: object, decision: Decision, now: float, *, spends: pass_token.PassClaims | None) -> None:
        self._seq += 1
        event = {
            "token": token[:MAX_TOKEN_CHARS] if isinstance(token, str) else "",
            "decision": decision.decision,
            "reason": decision.reason,
            "occurred_at": _iso(now),
        }
        line: dict[str, Any] = {"seq": self._seq, "event": event}
        if spends is not None:
            line["used"] = [spends.pass_id, spends.expires_at]
        if self._path is not None:
            self._append(line)  # on disk before the gate opens
        self._apply(line)

    def _apply(self, line: dict[str, Any]) -> None:
        if "used" in line:
            pass_id, expires_at = line["used"]
            self._used[int(pass_id)] = int(expires_at)
        if "event" in line:
            self._journal[int(line["seq"])] = line["event"]
            self._seq = max(self._seq, int(line["seq"]))

    # --- the journal ------------------------------------------------------------------

    def pending_events(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Decisions not yet uploaded, oldest first, as the upload endpoint takes them
        (at most 500 per upload: pass ``limit=500`` and upload until none are left)."""
        with self._lock:
            events = [dict(event) for event in self._journal.values()]
        return events if limit is None else events[:limit]

    def mark_uploaded(self, events: Iterable[Mapping[str, Any]] | None = None) -> None:
        """Forget uploaded events: those given (as ``pending_events`` returned them), or
        all. Decisions made while the upload was in flight stay pending."""
        with self._lock:
            if events is None:
                self._journal.clear()
            else:
                done = {_event_key(event) for event in events}
                self._journal = {seq: e for seq, e in self._journal.items() if _event_key(e) not in done}
            self._forget_expired_passes()
            if self._path is not None:
                self._rewrite()

    def is_used(self, pass_id: int) -> bool:
        with self._lock:
            return pass_id in self._used

    def _forget_expired_passes(self) -> None:
        """A pass past its expiry (and the skew) is denied as expired anyway."""
        horizon = self.clock() - self.clock_skew_seconds
        self._used = {pid: exp for pid, exp in self._used.items() if exp >= horizon}

    # --- the file ---------------------------------------------------------------------

    def _append(self, line: dict[str, Any]) -> None:
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _load(self) -> None:
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for raw in text.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # a line torn by a power cut: that decision never finished
            if isinstance(line, dict):
                self._apply(line)

    def _rewrite(self) -> None:
        lines = [{"used": [pid, exp]} for pid, exp in self._used.items()]
        lines += [{"seq": seq, "event": event} for seq, event in self._journal.items()]
        tmp = self._path.with_name(self._path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
            out.flush()
            if self._fsync:
                os.fsync(out.fileno())
        os.replace(tmp, self._path)
        if self._fsync:
            dir_fd = os.open(self._path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def _event_key(event: Mapping[str, Any]) -> tuple:
    return (event.get("token"), event.get("decision"), event.get("reason"), event.get("occurred_at"))


def _with_claims(decision: Decision, claims: pass_token.PassClaims) -> Decision:
    return replace(
        decision,
        pass_id=claims.pass_id,
        order_id=claims.order_id,
        item_count=claims.item_count,
        total_fen=claims.total_fen,
    )
