"""``GET /api/gate/v1/keys``: the public keys an offline gate verifies passes with."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rest_framework.test import APIClient

from checkout import exit_keys, gates
from gate_verifier.offline import OfflineVerifier, load_keys
from gate_verifier.token import PassClaims, encode
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gate_client() -> APIClient:
    store = LocationFactory()
    gate, secret = gates.create_gate(store_id=store.pk, name="Exit 1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=gates.authorization_header(gate.key_id, secret))
    client.gate = gate
    return client


@pytest.fixture
def retired_key(tmp_path, settings):
    """A previous signing key still listed during a rotation."""
    private = Ed25519PrivateKey.generate()
    path = tmp_path / "k000.pem"
    path.write_text(exit_keys.public_key_pem(private.public_key()))
    settings.EXIT_PASS_EXTRA_PUBLIC_KEYS = [f"k000:{path}"]
    return private


def test_lists_the_current_key(gate_client, settings):
    response = gate_client.get("/api/gate/v1/keys")

    assert response.status_code == 200
    _, private = exit_keys.signing_key()
    assert response.json() == {
        "keys": [
            {
                "key_id": settings.EXIT_PASS_KEY_ID,
                "algorithm": "Ed25519",
                "public_key_pem": exit_keys.public_key_pem(private.public_key()),
            }
        ],
        "clock_skew_seconds": 60,
    }
    assert "max-age=300" in response["Cache-Control"]


def test_lists_the_keys_still_accepted_during_a_rotation(gate_client, retired_key, settings):
    body = gate_client.get("/api/gate/v1/keys").json()

    assert [key["key_id"] for key in body["keys"]] == [settings.EXIT_PASS_KEY_ID, "k000"]
    assert body["keys"][1]["public_key_pem"] == exit_keys.public_key_pem(retired_key.public_key())


def test_an_offline_gate_verifies_passes_signed_with_either_key(gate_client, retired_key):
    keys = load_keys(gate_client.get("/api/gate/v1/keys").content)
    verifier = OfflineVerifier(gate_client.gate.store_id, keys)
    key_id, current = exit_keys.signing_key()

    def token(pass_id: int, kid: str, private: Ed25519PrivateKey) -> str:
        claims = PassClaims(kid, pass_id, pass_id, gate_client.gate.store_id, 1, 100, 0, 2**32 - 1, False)
        return encode(claims, private)

    assert verifier.decide(token(1, key_id, current)).decision == "open"
    assert verifier.decide(token(2, "k000", retired_key)).decision == "open"


def test_needs_a_gate_credential(gate_client, auth_client):
    anonymous = APIClient().get("/api/gate/v1/keys")
    shopper = auth_client.get("/api/gate/v1/keys")
    wrong = APIClient(HTTP_AUTHORIZATION=f"Gate {gate_client.gate.key_id}:not-the-secret").get("/api/gate/v1/keys")

    assert anonymous.status_code == shopper.status_code == wrong.status_code == 401
    assert anonymous.json()["error"]["code"] == shopper.json()["error"]["code"] == "gate_not_authenticated"
    assert wrong.json()["error"]["code"] == "invalid_gate_credential"
    assert "keys" not in anonymous.json()


def test_a_disabled_gate_gets_no_keys(gate_client):
    gates.disable_gates(gate_ids=[gate_client.gate.pk])

    response = gate_client.get("/api/gate/v1/keys")

    assert response.status_code == 401 and response.json()["error"]["code"] == "gate_disabled"
