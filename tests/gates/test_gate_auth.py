"""Gates prove who they are with their own credential; the secret is shown once and only
its hash is kept; a disabled gate is locked out at once."""

from __future__ import annotations

import datetime as dt
import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from checkout import gates
from checkout.models import Gate, GateEvent
from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from stores.models import Location
from tests.factories import CustomerFactory, LocationFactory
from tests.gates.gate_shop import VERIFY_URL, exit_pass, gate_client, paid_order, scan

pytestmark = pytest.mark.django_db

CHALLENGE = 'Gate realm="gate"'
RESOLVE_URL = "/api/gate/v1/audits/1/resolve"


def assert_401(response, code: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert response["WWW-Authenticate"] == CHALLENGE


@pytest.fixture
def store():
    return LocationFactory(code="PSQ", name="People's Square")


def client_with(header: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


# --- The credential -----------------------------------------------------------------------------


def test_created_gate_keeps_only_the_hash_of_its_secret(store):
    gate, secret = gates.create_gate(store_id=store.pk, name="Exit 1")

    stored = Gate.objects.get(pk=gate.pk)
    assert secret not in (stored.secret_hash, stored.key_id)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert len(secret) >= 43 and ":" not in secret and ":" not in stored.key_id
    assert stored.active and stored.last_seen_at is None


def test_each_gate_gets_its_own_credential(store):
    first, first_secret = gates.create_gate(store_id=store.pk, name="Exit 1")
    second, second_secret = gates.create_gate(store_id=store.pk, name="Exit 2")

    assert first.key_id != second.key_id and first_secret != second_secret


def test_a_gate_name_is_unique_within_its_store(store):
    gates.create_gate(store_id=store.pk, name="Exit 1")

    with pytest.raises(gates.GateNameTaken):
        gates.create_gate(store_id=store.pk, name="Exit 1")
    gates.create_gate(store_id=LocationFactory().pk, name="Exit 1")  # another store may


def test_gates_stand_only_at_stores(store):
    warehouse = LocationFactory(kind=Location.Kind.WAREHOUSE)

    with pytest.raises(gates.GateStoreNotFound):
        gates.create_gate(store_id=warehouse.pk, name="Dock")


# --- Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [VERIFY_URL, RESOLVE_URL])
def test_no_credential_is_401_gate_not_authenticated_with_a_gate_challenge(db, path):
    assert_401(APIClient().post(path, {"token": "x"}, format="json"), "gate_not_authenticated")
    assert not GateEvent.objects.exists()


def test_a_shoppers_bearer_token_opens_no_gate(store):
    raw, _ = issue_token(customer=CustomerFactory())
    issued = exit_pass(paid_order(store))

    assert_401(scan(client_with(f"Bearer {raw}"), issued.token), "gate_not_authenticated")
    issued.refresh_from_db()
    assert issued.used_at is None


WRONG_CREDENTIALS = {
    "scheme-only": "Gate",
    "scheme-space": "Gate ",
    "unknown-key": "Gate gk_nosuchgate:secret",
    "no-secret": "Gate {key_id}",
    "empty-secret": "Gate {key_id}:",
    "wrong-secret": "Gate {key_id}:wrong-secret",
    "secret-plus-one": "Gate {key_id}:{secret}x",
    "no-key-id": "Gate :{secret}",
    "swapped": "Gate {secret}:{key_id}",
}


@pytest.mark.parametrize("header", WRONG_CREDENTIALS.values(), ids=WRONG_CREDENTIALS.keys())
def test_wrong_credential_is_401_invalid_gate_credential(store, header):
    gate, secret = gates.create_gate(store_id=store.pk, name="Exit 1")
    issued = exit_pass(paid_order(store))

    response = scan(client_with(header.format(key_id=gate.key_id, secret=secret)), issued.token)

    assert_401(response, "invalid_gate_credential")
    issued.refresh_from_db()
    assert issued.used_at is None
    assert not GateEvent.objects.exists()


def test_gate_scheme_is_case_insensitive(store):
    gate, secret = gates.create_gate(store_id=store.pk, name="Exit 1")
    issued = exit_pass(paid_order(store))

    assert scan(client_with(f"gate {gate.key_id}:{secret}"), issued.token).json()["decision"] == "open"


def test_disabled_gate_is_401_gate_disabled_and_decides_nothing(store):
    client, gate = gate_client(store)
    issued = exit_pass(paid_order(store))

    assert gates.disable_gates(gate_ids=[gate.pk]) == 1

    assert_401(scan(client, issued.token), "gate_disabled")
    issued.refresh_from_db()
    assert issued.used_at is None
    assert not GateEvent.objects.exists()


def test_disabling_twice_counts_once(store):
    _, gate = gate_client(store)

    assert gates.disable_gates(gate_ids=[gate.pk]) == 1
    assert gates.disable_gates(gate_ids=[gate.pk]) == 0


# --- last_seen_at ---------------------------------------------------------------------------------


def test_last_seen_is_recorded_then_refreshed_at_most_once_a_minute(store, monkeypatch, django_assert_num_queries):
    client, gate = gate_client(store)
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start)

    scan(client, "garbage")
    gate.refresh_from_db()
    assert gate.last_seen_at == start

    later = start + dt.timedelta(seconds=59)
    monkeypatch.setattr(clock, "now", lambda: later)
    with django_assert_num_queries(2):  # the gate, the event: no write to the gate
        scan(client, "garbage")
    gate.refresh_from_db()
    assert gate.last_seen_at == start

    much_later = start + dt.timedelta(seconds=61)
    monkeypatch.setattr(clock, "now", lambda: much_later)
    with django_assert_num_queries(3):  # plus the one UPDATE of last_seen_at
        scan(client, "garbage")
    gate.refresh_from_db()
    assert gate.last_seen_at == much_later


# --- manage.py create_gate -------------------------------------------------------------------------


def test_create_gate_command_prints_a_working_credential_once(store):
    out = StringIO()

    call_command("create_gate", "PSQ", "Exit 1", stdout=out)

    gate = Gate.objects.get(store=store, name="Exit 1")
    header_lines = [line for line in out.getvalue().splitlines() if line.startswith("Gate ")]
    assert len(header_lines) == 1
    header = header_lines[0]
    assert header.startswith(f"Gate {gate.key_id}:")
    secret = header.split(":", 1)[1]
    assert out.getvalue().count(secret) == 1
    assert gate.secret_hash != secret and secret not in gate.secret_hash
    assert gate.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    issued = exit_pass(paid_order(store))
    assert scan(client_with(header), issued.token).json()["decision"] == "open"


def test_create_gate_command_refuses_an_unknown_store(db):
    with pytest.raises(CommandError, match="no store"):
        call_command("create_gate", "NOPE", "Exit 1", stdout=StringIO())
    assert not Gate.objects.exists()


def test_create_gate_command_refuses_a_duplicate_name(store):
    call_command("create_gate", "PSQ", "Exit 1", stdout=StringIO())

    with pytest.raises(CommandError, match="already has a gate"):
        call_command("create_gate", "PSQ", "Exit 1", stdout=StringIO())
    assert Gate.objects.count() == 1


def test_create_gate_command_refuses_a_warehouse(db):
    LocationFactory(code="WH1", kind=Location.Kind.WAREHOUSE)

    with pytest.raises(CommandError):
        call_command("create_gate", "WH1", "Dock", stdout=StringIO())
