"""The gate asks "may this shopper leave?": open once for a paid pass, deny everything else
with a reason, and keep one event per decision."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings

from checkout import exit_keys
from checkout.models import ExitPass, Gate, GateEvent, Order
from gate_verifier import token as pass_token
from miniprogram_api.core import clock
from tests.factories import LocationFactory
from tests.gates.gate_shop import VERIFY_URL, exit_pass, gate_client, paid_order, scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return LocationFactory(code="PSQ", name="People's Square")


@pytest.fixture
def gate(store):
    return gate_client(store)


@pytest.fixture
def move_clock(monkeypatch):
    def move(by: dt.timedelta) -> dt.datetime:
        when = dt.datetime.now(dt.UTC) + by
        monkeypatch.setattr(clock, "now", lambda: when)
        return when

    return move


def forged(exit_pass_row: ExitPass, *, key: Ed25519PrivateKey, key_id: str, **changes) -> str:
    """A token with the pass's claims (or ``changes``), signed with ``key`` as ``key_id``."""
    claims, _, _ = pass_token.read_claims(exit_pass_row.token)
    fields = {**claims.__dict__, "key_id": key_id, **changes}
    return pass_token.encode(pass_token.PassClaims(**fields), key)


def assert_denied(response, reason: str) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["decision"], body["reason"]) == ("deny", reason), body
    assert body["message"]
    event = GateEvent.objects.get(pk=body["event_id"])
    assert (event.decision, event.reason) == ("deny", reason)
    return body


# --- Open ---------------------------------------------------------------------------------


def test_paid_pass_opens_the_gate_and_is_used_by_that_gate(store, gate):
    client, gate_row = gate
    order = paid_order(store)
    issued = exit_pass(order)

    response = scan(client, issued.token)

    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "open" and body["reason"] == "ok"
    assert body["audit_id"] is None and body["used_at"] is None and body["used_gate"] is None
    assert body["pass"]["id"] == issued.pk and body["pass"]["order_number"] == order.number
    assert body["staff"] == {"item_count": 2, "total_fen": 2380, "age_restricted_items": [], "audit_reasons": []}
    issued.refresh_from_db()
    assert issued.used_at is not None and issued.used_gate_id == gate_row.pk
    event = GateEvent.objects.get()
    assert (event.pk, event.gate_id, event.exit_pass_id, event.decision, event.reason) == (
        body["event_id"], gate_row.pk, issued.pk, "open", "ok"
    )  # fmt: skip
    assert event.occurred_at == issued.used_at


def test_age_restricted_items_are_shown_to_staff_even_when_the_gate_opens(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store, age_restricted=True))

    body = scan(client, issued.token).json()

    assert body["decision"] == "open"
    assert body["staff"]["age_restricted_items"] == ["Tsingtao Beer 500ml"]
    assert body["staff"]["item_count"] == 3 and body["staff"]["total_fen"] == 2380 + 650


def test_a_pass_scanned_with_a_trailing_newline_still_opens(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store))

    assert scan(client, issued.token + "\n").json()["decision"] == "open"


# --- Replays ------------------------------------------------------------------------------


def test_second_scan_is_denied_as_already_used_with_when_and_which_gate(store, gate):
    client, gate_row = gate
    issued = exit_pass(paid_order(store))
    first = scan(client, issued.token).json()
    other_client, _ = gate_client(store, "Exit 2")

    body = assert_denied(scan(other_client, issued.token), "already_used")

    issued.refresh_from_db()
    assert dt.datetime.fromisoformat(body["used_at"]) == issued.used_at
    assert first["pass"]["id"] == body["pass"]["id"] == issued.pk
    assert body["used_gate"] == {"id": gate_row.pk, "name": "Exit 1"}
    assert body["pass"]["id"] == issued.pk
    assert issued.used_gate_id == gate_row.pk  # the first gate keeps it
    assert list(GateEvent.objects.order_by("pk").values_list("decision", "reason")) == [
        ("open", "ok"),
        ("deny", "already_used"),
    ]


def test_a_used_audit_pass_is_denied_on_the_next_scan(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store), audit=True)
    assert scan(client, issued.token).json()["decision"] == "audit"

    assert_denied(scan(client, issued.token), "already_used")


# --- Tampered, foreign and garbage tokens ---------------------------------------------------


def _change_char(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize("index", [6, 12, 20, 30, 40, 55, 60, 80, 100, 130])
def test_token_with_one_character_changed_is_denied_and_the_pass_stays_unused(store, gate, index):
    client, _ = gate
    issued = exit_pass(paid_order(store))
    tampered = _change_char(issued.token, index)

    body = scan(client, tampered).json()

    assert body["decision"] == "deny"
    assert body["reason"] in {"bad_signature", "malformed", "unknown_key"}
    assert body["pass"] is None and body["staff"] is None
    issued.refresh_from_db()
    assert issued.used_at is None
    assert scan(client, issued.token).json()["decision"] == "open"  # the genuine pass still works


def test_changed_signature_is_denied_as_bad_signature(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store))

    body = assert_denied(scan(client, _change_char(issued.token, 100)), "bad_signature")

    assert body["pass"] is None
    event = GateEvent.objects.get()
    assert event.exit_pass is None
    assert event.data["claims"]["pass_id"] == issued.pk and event.data["signature_valid"] is False


def test_changed_total_is_denied_as_bad_signature(store, gate):
    """A forger who lowers the total cannot re-sign it."""
    client, _ = gate
    issued = exit_pass(paid_order(store))
    claims, _, signature = pass_token.read_claims(issued.token)
    cheaper = pass_token.LAYOUT.pack(
        1, b"k001", claims.pass_id, claims.order_id, claims.store_id, claims.item_count, 1, claims.issued_at,
        claims.expires_at, 0,
    )  # fmt: skip
    token = pass_token.PREFIX + base64.urlsafe_b64encode(cheaper + signature).rstrip(b"=").decode()

    assert_denied(scan(client, token), "bad_signature")


def test_pass_signed_with_an_unknown_key_is_denied_as_unknown_key(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store))

    assert_denied(scan(client, forged(issued, key=Ed25519PrivateKey.generate(), key_id="zz99")), "unknown_key")
    issued.refresh_from_db()
    assert issued.used_at is None


def test_pass_signed_with_another_key_under_our_key_id_is_denied_as_bad_signature(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store))

    assert_denied(scan(client, forged(issued, key=Ed25519PrivateKey.generate(), key_id="k001")), "bad_signature")


@pytest.mark.parametrize(
    "token",
    ["", "hello", "EP1.", "EP1.!!!!", "EP1." + "A" * 139, "https://wxaurl.cn/abc", "x" * 5000],
    ids=["empty", "word", "prefix-only", "not-base64", "wrong-version", "url", "huge"],
)
def test_garbage_is_denied_as_malformed_and_recorded(store, gate, token):
    client, gate_row = gate

    body = assert_denied(scan(client, token), "malformed")

    assert body["pass"] is None and body["staff"] is None and body["audit_id"] is None
    event = GateEvent.objects.get()
    assert event.gate_id == gate_row.pk and event.exit_pass is None
    assert event.data == {"length": len(token.strip())}


def test_pass_signed_by_us_for_a_pass_not_on_record_is_denied_as_unknown_pass(store, gate):
    client, _ = gate
    issued = exit_pass(paid_order(store))
    kid, key = exit_keys.signing_key()

    assert_denied(scan(client, forged(issued, key=key, key_id=kid, pass_id=issued.pk + 1000)), "unknown_pass")


def test_our_signature_on_different_claims_than_the_pass_on_record_is_unknown_pass(store, gate):
    """The row's own token is the one that counts: a pass id cannot borrow another order."""
    client, _ = gate
    issued = exit_pass(paid_order(store))
    kid, key = exit_keys.signing_key()

    assert_denied(scan(client, forged(issued, key=key, key_id=kid, order_id=issued.order_id + 1)), "unknown_pass")
    issued.refresh_from_db()
    assert issued.used_at is None


# --- Store and time -------------------------------------------------------------------------


def test_another_stores_gate_denies_as_wrong_store(store):
    issued = exit_pass(paid_order(store))
    elsewhere, _ = gate_client(LocationFactory(code="XJH"))

    body = assert_denied(scan(elsewhere, issued.token), "wrong_store")

    assert body["pass"] is None
    issued.refresh_from_db()
    assert issued.used_at is None
    assert GateEvent.objects.get().data["signature_valid"] is True


def test_expired_pass_is_denied_and_stays_unused(store, gate, move_clock):
    client, _ = gate
    issued = exit_pass(paid_order(store))
    move_clock(issued.expires_at - dt.datetime.now(dt.UTC) + settings.EXIT_PASS_CLOCK_SKEW + dt.timedelta(seconds=2))

    assert_denied(scan(client, issued.token), "expired")
    issued.refresh_from_db()
    assert issued.used_at is None


def test_pass_just_past_expiry_but_within_the_clock_skew_still_opens(store, gate, move_clock):
    client, _ = gate
    issued = exit_pass(paid_order(store))
    move_clock(issued.expires_at - dt.datetime.now(dt.UTC) + settings.EXIT_PASS_CLOCK_SKEW - dt.timedelta(seconds=5))

    assert scan(client, issued.token).json()["decision"] == "open"


def test_pass_from_the_future_is_denied_as_not_yet_valid(store, gate, move_clock):
    client, _ = gate
    issued = exit_pass(paid_order(store))
    move_clock(-settings.EXIT_PASS_CLOCK_SKEW - dt.timedelta(minutes=5))

    assert_denied(scan(client, issued.token), "not_yet_valid")


# --- The pass and its order ------------------------------------------------------------------


def test_superseded_pass_is_denied_and_the_new_one_opens(store, gate):
    client, _ = gate
    order = paid_order(store)
    old = exit_pass(order)
    ExitPass.objects.filter(pk=old.pk).update(superseded_at=clock.now())
    new = exit_pass(order)
    assert new.pk != old.pk

    body = assert_denied(scan(client, old.token), "superseded")

    assert body["pass"]["id"] == old.pk
    assert scan(client, new.token).json()["decision"] == "open"
    old.refresh_from_db()
    assert old.used_at is None


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (Order.State.PENDING_PAYMENT, "order_not_paid"),
        (Order.State.CLOSED, "order_closed"),
        (Order.State.CANCELLED, "order_cancelled"),
        (Order.State.REFUNDED, "order_refunded"),
    ],
)
def test_pass_of_an_order_that_is_not_paid_is_denied(store, gate, state, reason):
    client, _ = gate
    order = paid_order(store)
    issued = exit_pass(order)
    Order.objects.filter(pk=order.pk).update(state=state)

    body = assert_denied(scan(client, issued.token), reason)

    assert body["pass"]["id"] == issued.pk
    assert GateEvent.objects.get().data == {"order_state": state}
    issued.refresh_from_db()
    assert issued.used_at is None


def test_refund_through_the_order_states_closes_the_gate(store, gate):
    from checkout import order_states

    client, _ = gate
    order = paid_order(store)
    issued = exit_pass(order)
    order_states.transition(order_id=order.pk, from_state="paid", to_state="refunded", event="refunded")

    assert_denied(scan(client, issued.token), "order_refunded")


# --- Audits -----------------------------------------------------------------------------------


def test_audit_pass_is_used_and_answers_audit_with_the_pending_audits_id(store, gate):
    client, gate_row = gate
    issued = exit_pass(paid_order(store, age_restricted=True), audit=True)

    body = scan(client, issued.token).json()

    assert (body["decision"], body["reason"]) == ("audit", "audit_required")
    audit = GateEvent.objects.get()
    assert body["audit_id"] == body["event_id"] == audit.pk
    assert (audit.decision, audit.exit_pass_id, audit.gate_id) == ("audit", issued.pk, gate_row.pk)
    assert body["staff"] == {
        "item_count": 3,
        "total_fen": 3030,
        "age_restricted_items": ["Tsingtao Beer 500ml"],
        "audit_reasons": ["random_sample"],
    }
    assert body["pass"]["audit"] is True
    issued.refresh_from_db()
    assert issued.used_at is not None


# --- Input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{}", "application/json", 400, "validation_error"),
        ('{"token": null}', "application/json", 400, "validation_error"),
        ('{"token": ["EP1."]}', "application/json", 400, "validation_error"),
        ('["EP1."]', "application/json", 400, "validation_error"),
        ('{"token": "EP1.', "application/json", 400, "malformed_request"),
        ("token=EP1.abc", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
    ids=["no-token", "null", "list", "array-body", "broken-json", "form"],
)
def test_request_without_a_token_is_an_error_and_records_nothing(gate, body, content_type, status, code):
    client, _ = gate

    response = client.post(VERIFY_URL, body, content_type=content_type)

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not GateEvent.objects.exists()


# --- Query budget -----------------------------------------------------------------------------


@pytest.fixture
def seen_gate(gate):
    """A gate in service: seen within the last minute, so its last_seen_at needs no write."""
    client, gate_row = gate
    Gate.objects.filter(pk=gate_row.pk).update(last_seen_at=clock.now())
    return client, gate_row


@pytest.mark.parametrize("path", ["open", "audit", "already_used", "refunded", "superseded", "tampered", "garbage"])
def test_verify_takes_at_most_four_queries_including_authentication(
    store, seen_gate, django_assert_max_num_queries, path
):
    client, _ = seen_gate
    order = paid_order(store)
    issued = exit_pass(order, audit=path == "audit")
    token = issued.token
    if path == "already_used":
        ExitPass.objects.filter(pk=issued.pk).update(used_at=clock.now(), used_gate=seen_gate[1])
    elif path == "refunded":
        Order.objects.filter(pk=order.pk).update(state=Order.State.REFUNDED)
    elif path == "superseded":
        ExitPass.objects.filter(pk=issued.pk).update(superseded_at=clock.now())
    elif path == "tampered":
        token = _change_char(token, 100)
    elif path == "garbage":
        token = "not a pass"

    with django_assert_max_num_queries(4):
        response = scan(client, token)

    assert response.status_code == 200
    expected = {"open": "open", "audit": "audit"}.get(path, "deny")
    assert response.json()["decision"] == expected
