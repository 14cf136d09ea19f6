"""Every operation of ``/api/schema``, fuzzed with schemathesis against the live server.

What must hold for every generated request, valid or not: no 5xx; the status code is one
the operation documents, the body matches the documented schema for that status (the
error shape included) with the documented content type and headers; and a credential is
never ignored: without one, or with a wrong one, every operation but the public login
answers 401 in the error shape.

The server is the ``server`` fixture (a live server with the payment sandbox), so a
checkout really asks the sandbox for its payment. Each operation gets a fresh world
(``tests.fuzz.world``) and the fuzzer mixes its real ids and values into the generated
ones, so requests reach the code behind "not found" and "invalid" too.

Run alone with ``.venv/bin/pytest -m fuzz``. The examples are derandomized: a run tests
the same requests as the last one until the schema, the test or a library changes.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import hypothesis
import pytest
import schemathesis
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from miniprogram_api.api.throttling import LoginThrottle
from tests.fuzz.world import OMIT, World, build_world, courier_headers

pytestmark = [pytest.mark.fuzz]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]
EXAMPLES_PER_OPERATION = 25
# The first few requests of each operation that succeeded, and the first few refused for
# their input, are sent again without a credential and with a bad one. (``ignored_auth``
# probes every success too, but takes a 403 for a refusal.)
PROBES_PER_OUTCOME = 3
# The only operation in the schema a client calls without any credential. The other
# public endpoints (the schema, its docs, the payment notifications) are not in the schema;
# tests/api/test_auth_api.py covers them.
PUBLIC_OPERATIONS = {"POST /api/v1/auth/wechat-login"}
CREDENTIAL_HEADERS = ("Authorization", "X-Courier-Signature", "X-Courier-Timestamp")
BAD_CREDENTIALS = {
    "bearerAuth": {"Authorization": "Bearer not-a-token"},
    "gateAuth": {"Authorization": "Gate gk_unknown:not-the-secret"},
    "courierSignature": {"X-Courier-Timestamp": "1700000000", "X-Courier-Signature": "0" * 64},
}


def _load_schema() -> schemathesis.BaseSchema:
    """The schema exactly as ``/api/schema`` serves it (fetched in-process at collection:
    generating it touches no database)."""
    response = Client().get("/api/schema", {"format": "json"})
    assert response.status_code == 200, response.content
    return schemathesis.openapi.from_dict(json.loads(response.content))


schema = _load_schema()

# The world of the operation under test, for the generation hooks below (they are
# registered on the schema at import, before any fixture exists).
_world: World | None = None


def _mixed(generated: Any, real: dict[str, Any]) -> st.SearchStrategy:
    """``generated`` with ``real``'s fields swapped in: all of them (a request that reaches
    the code behind the ids), or each one or not, as Hypothesis draws. ``OMIT`` drops a
    generated field instead (one that would contradict the real ones)."""
    if not real or not isinstance(generated, dict):
        return st.just(generated)
    names = sorted(real)

    def swap(chosen) -> dict[str, Any]:
        merged = {**generated, **{name: real[name] for name in chosen}}
        return {name: value for name, value in merged.items() if value is not OMIT}

    some = st.lists(st.booleans(), min_size=len(names), max_size=len(names)).map(
        lambda flags: [name for name, flag in zip(names, flags, strict=True) if flag]
    )
    return st.one_of(st.just(names), some).map(swap)


def _label(context) -> str:
    return f"{context.operation.method.upper()} {context.operation.path}"


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    return _mixed(path_parameters, _world.path_ids.get(context.operation.path, {}) if _world else {})


@schema.hook
def flatmap_query(context, query):
    return _mixed(query, _world.query_values.get(_label(context), {}) if _world else {})


@schema.hook
def flatmap_body(context, body):
    return _mixed(body, _world.body_values.get(_label(context), {}) if _world else {})


@pytest.fixture(autouse=True)
def _logins_not_throttled(monkeypatch):
    """Twenty logins a minute would leave most of the login's examples a 429."""
    monkeypatch.setattr(LoginThrottle, "rate", "1000/min", raising=False)


@pytest.fixture
def world(server) -> World:
    global _world  # read by the generation hooks above
    _world = build_world(server)
    yield _world
    _world = None


def _security_schemes(case) -> set[str]:
    return {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}


def _credentials(case, world: World) -> dict[str, str]:
    schemes = _security_schemes(case)
    if "bearerAuth" in schemes:
        if case.operation.path == "/api/v1/auth/logout":
            # Logging out revokes the token it was sent with: each call spends its own.
            return world.shopper_headers(world.fresh_token())
        return world.shopper_headers()
    if "gateAuth" in schemes:
        return {"Authorization": world.gate_authorization}
    if "courierSignature" in schemes:
        body = case.body if isinstance(case.body, dict | list | str | int | float | bool) else None
        return courier_headers(json.dumps(body).encode() if body is not None else b"")
    return {}


def _assert_refused(response, label: str, why: str) -> None:
    assert response.status_code == 401, f"{label} {why}: {response.status_code} {response.text[:500]}"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        # The world is a function-scoped fixture on purpose: one per operation, for all its examples.
        hypothesis.HealthCheck.function_scoped_fixture,
        # Each example is an HTTP request, some a payment at the sandbox.
        hypothesis.HealthCheck.too_slow,
    ],
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_every_operation_conforms_to_the_schema_and_enforces_its_credential(case, world, server):
    label = f"{case.operation.method.upper()} {case.operation.path}"
    response = case.call_and_validate(base_url=server, headers=_credentials(case, world), checks=CHECKS)

    schemes = _security_schemes(case)
    if label in PUBLIC_OPERATIONS:
        assert not schemes, f"{label} is public but declares a credential"
        return
    assert schemes, f"{label} declares no credential: add it to PUBLIC_OPERATIONS only if it is public"
    if case.method.upper() != case.operation.method.upper() or not _routable(case):
        return  # another method, or a path no endpoint answers: nothing asks for a credential
    outcome = "succeeded" if 200 <= response.status_code < 300 else "refused"
    world.probed[outcome] += 1
    if world.probed[outcome] > PROBES_PER_OUTCOME:
        return
    anonymous = case.derive(
        headers={name: value for name, value in case.headers.items() if name not in CREDENTIAL_HEADERS}
    )
    _assert_refused(anonymous.call(base_url=server), label, "without a credential")
    for scheme in schemes:
        bad = anonymous.call(base_url=server, headers=BAD_CREDENTIALS[scheme])
        _assert_refused(bad, label, f"with a bad {scheme}")


def _routable(case) -> bool:
    """Whether the path reaches a view: a path parameter the URL pattern refuses (``-1`` for
    an id) is an unknown URL, answered 404 before any view, so before any credential."""
    try:
        resolve(unquote(case.formatted_path))
    except Resolver404:
        return False
    return True
