"""The gate's offline verifier: pure Python, deciding from the signed token and its own
memory of passes it let through, and journaling every decision for upload."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gate_verifier import token as pass_token
from gate_verifier.offline import OfflineVerifier, load_keys

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000  # a fixed Unix time; the verifier takes "now" from its clock argument
STORE = 7
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def pem(private: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


KEYS = {"k001": pem(KEY)}


def make_token(
    pass_id: int = 1,
    *,
    store_id: int = STORE,
    key: Ed25519PrivateKey = KEY,
    key_id: str = "k001",
    audit: bool = False,
    issued_at: int = NOW - 60,
    expires_at: int = NOW + 1800,
) -> str:
    claims = pass_token.PassClaims(
        key_id=key_id,
        pass_id=pass_id,
        order_id=1000 + pass_id,
        store_id=store_id,
        item_count=3,
        total_fen=4590,
        issued_at=issued_at,
        expires_at=expires_at,
        audit=audit,
    )
    return pass_token.encode(claims, key)


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(path=None, clock=None, **kwargs) -> OfflineVerifier:
    return OfflineVerifier(STORE, KEYS, path, clock=clock or Clock(), **kwargs)


def test_a_valid_pass_opens_the_gate_with_what_the_shopper_paid_for():
    decision = verifier().decide(make_token(1))

    assert (decision.decision, decision.reason) == ("open", "ok")
    assert (decision.pass_id, decision.order_id, decision.item_count, decision.total_fen) == (1, 1001, 3, 4590)


def test_second_scan_of_the_same_pass_is_denied_as_already_used():
    gate = verifier()
    token = make_token(1)

    assert gate.decide(token).decision == "open"
    replay = gate.decide(token)

    assert (replay.decision, replay.reason, replay.pass_id) == ("deny", "already_used", 1)
    assert gate.decide(make_token(2)).decision == "open"


def test_used_passes_survive_a_reboot_of_the_gate(tmp_path):
    path = tmp_path / "gate-state.jsonl"
    token = make_token(1)
    assert verifier(path).decide(token).decision == "open"

    rebooted = verifier(path)

    assert rebooted.decide(token).reason == "already_used"
    assert [e["reason"] for e in rebooted.pending_events()] == ["ok", "already_used"]


def test_used_passes_survive_an_upload_and_a_reboot(tmp_path):
    path = tmp_path / "gate-state.jsonl"
    gate = verifier(path)
    token = make_token(1)
    gate.decide(token)
    gate.mark_uploaded(gate.pending_events())

    rebooted = verifier(path)

    assert rebooted.pending_events() == []
    assert rebooted.decide(token).reason == "already_used"
    assert not list(tmp_path.glob("*.tmp"))


def test_a_line_torn_by_a_power_cut_is_skipped(tmp_path):
    path = tmp_path / "gate-state.jsonl"
    verifier(path).decide(make_token(1))
    with open(path, "a") as state:
        state.write('{"seq": 2, "event": {"tok')  # the write never finished

    rebooted = verifier(path)

    assert rebooted.decide(make_token(1)).reason == "already_used"
    assert rebooted.decide(make_token(2)).decision == "open"


def test_a_pass_for_another_store_is_denied():
    decision = verifier().decide(make_token(1, store_id=STORE + 1))

    assert (decision.decision, decision.reason, decision.pass_id) == ("deny", "wrong_store", 1)


def test_expiry_allows_the_clock_skew_and_no_more():
    token = make_token(1, expires_at=NOW)

    assert verifier(clock=Clock(NOW + 60)).decide(token).decision == "open"
    late = verifier(clock=Clock(NOW + 61)).decide(token)

    assert (late.decision, late.reason) == ("deny", "expired")


def test_a_pass_from_the_future_beyond_the_skew_is_not_yet_valid():
    token = make_token(1, issued_at=NOW + 120, expires_at=NOW + 1800)

    assert verifier().decide(token).reason == "not_yet_valid"
    assert verifier(clock_skew_seconds=120).decide(token).decision == "open"


def test_a_tampered_pass_is_denied_as_bad_signature():
    token = make_token(1)
    _, body, signature = pass_token.read_claims(token)
    richer = bytearray(body)
    richer[-5] ^= 0x01  # a bit of expires_at
    forged = "EP1." + base64.urlsafe_b64encode(bytes(richer) + signature).rstrip(b"=").decode()

    decision = verifier().decide(forged)

    assert (decision.decision, decision.reason, decision.pass_id) == ("deny", "bad_signature", None)


def test_a_pass_signed_by_a_key_the_gate_does_not_hold_is_denied():
    assert verifier().decide(make_token(1, key=OTHER_KEY)).reason == "bad_signature"
    assert verifier().decide(make_token(1, key=OTHER_KEY, key_id="k002")).reason == "unknown_key"


def test_a_rotated_key_verifies_once_downloaded():
    gate = verifier()
    token = make_token(1, key=OTHER_KEY, key_id="k002")
    assert gate.decide(token).reason == "unknown_key"

    gate.update_keys({**KEYS, "k002": pem(OTHER_KEY)})

    assert gate.decide(token).decision == "open"


@pytest.mark.parametrize("garbage", ["", "hello", "EP1.!!!", "EP1." + "A" * 300, None, 42])
def test_garbage_is_denied_as_malformed_and_journaled(garbage):
    gate = verifier()

    decision = gate.decide(garbage)

    assert (decision.decision, decision.reason) == ("deny", "malformed")
    [event] = gate.pending_events()
    assert event["reason"] == "malformed" and len(event["token"]) <= 512


def test_an_audit_pass_asks_for_staff_and_is_spent():
    gate = verifier()
    token = make_token(1, audit=True)

    first = gate.decide(token)

    assert (first.decision, first.reason) == ("audit", "audit_required")
    assert gate.decide(token).reason == "already_used"


def test_every_decision_is_journaled_until_uploaded():
    clock = Clock()
    gate = verifier(clock=clock)
    gate.decide(make_token(1))
    clock.now += 2.5
    gate.decide(make_token(1))

    pending = gate.pending_events()

    assert pending == [
        {"token": make_token(1), "decision": "open", "reason": "ok", "occurred_at": "2026-09-21T14:13:20.000+00:00"},
        {
            "token": make_token(1),
            "decision": "deny",
            "reason": "already_used",
            "occurred_at": "2026-09-21T14:13:22.500+00:00",
        },
    ]
    gate.decide(make_token(2))  # while the upload is in flight
    gate.mark_uploaded(pending)

    assert [e["reason"] for e in gate.pending_events()] == ["ok"]
    gate.mark_uploaded()
    assert gate.pending_events() == []


def test_used_passes_are_forgotten_once_expired_when_the_journal_is_compacted(tmp_path):
    clock = Clock()
    gate = verifier(tmp_path / "state.jsonl", clock=clock)
    gate.decide(make_token(1, expires_at=NOW + 100))
    clock.now = NOW + 100 + 61

    gate.mark_uploaded()

    assert not gate.is_used(1)
    assert "used" not in (tmp_path / "state.jsonl").read_text()


def test_load_keys_reads_the_keys_endpoint_answer():
    document = {
        "keys": [
            {"key_id": "k001", "algorithm": "Ed25519", "public_key_pem": pem(KEY)},
            {"key_id": "k002", "algorithm": "Ed25519", "public_key_pem": pem(OTHER_KEY)},
        ],
        "clock_skew_seconds": 60,
    }

    assert load_keys(json.dumps(document)) == {"k001": pem(KEY), "k002": pem(OTHER_KEY)}


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"keys": []},
        {"keys": [{"key_id": "k001", "algorithm": "RS256", "public_key_pem": pem(KEY)}]},
        {"keys": [{"key_id": "k1", "algorithm": "Ed25519", "public_key_pem": pem(KEY)}]},
        {"keys": [{"key_id": "k001", "algorithm": "Ed25519", "public_key_pem": "not a pem"}]},
    ],
)
def test_load_keys_refuses_a_broken_document(document):
    with pytest.raises(ValueError):
        load_keys(document)


def test_the_offline_verifier_imports_without_django():
    code = (
        "import sys, gate_verifier.offline, gate_verifier.token\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'rest_framework')))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("mangle", ["flip-last-bit", "insert-dots"])
def test_a_pass_has_exactly_one_spelling(mangle):
    """Lenient base64 would accept other spellings of the same signed pass, and a used-pass
    list keyed by text would let each of them through once more."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gate_verifier import token as pass_token

    key = Ed25519PrivateKey.generate()
    claims = pass_token.PassClaims("k001", 1, 2, 3, 4, 500, 1_700_000_000, 1_700_001_800, False)
    genuine = pass_token.encode(claims, key)
    if mangle == "flip-last-bit":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        variant = genuine[:-1] + alphabet[alphabet.index(genuine[-1]) ^ 1]
    else:
        variant = genuine[:20] + "...." + genuine[20:]

    with pytest.raises(pass_token.TokenRejected) as rejected:
        pass_token.verify(variant, {"k001": key.public_key()}, now=1_700_000_100, clock_skew_seconds=60)
    assert rejected.value.reason == "malformed"
