"""``/api/v1/addresses``: what the mini-program's address book sends and sees."""

from __future__ import annotations

import pytest

from checkout.models import Address
from tests.factories import CityFactory, CustomerFactory, client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/addresses"
HOME = {
    "recipient": "Li Lei",
    "phone": "+86 138 0013 8000",
    "text": "1 Renmin Road, 2-301",
    "city": "shanghai",
    "latitude": 31.2320001,
    "longitude": 121.475,
}


@pytest.fixture(autouse=True)
def shanghai():
    return CityFactory()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]["details"]


def post(client, **fields):
    return client.post(URL, {**HOME, **fields}, format="json")


def rows() -> list[dict]:
    return list(Address.objects.order_by("pk").values())


def test_adding_and_reading_an_address(auth_client, shanghai):
    response = post(auth_client)

    assert response.status_code == 201, response.content
    body = response.json()
    address = Address.objects.get()
    assert body == {
        "id": address.pk,
        "recipient": "Li Lei",
        "phone": "13800138000",
        "text": "1 Renmin Road, 2-301",
        "city": {"code": "shanghai", "name": "Shanghai", "name_zh": "上海"},
        "latitude": 31.232,
        "longitude": 121.475,
        "is_default": True,  # the first address
        "created_at": body["created_at"],
    }
    assert body["created_at"].endswith("+08:00")
    assert auth_client.get(f"{URL}/{address.pk}").json() == body
    assert auth_client.get(URL).json() == [body]


def test_the_list_puts_the_default_first(auth_client):
    first = post(auth_client).json()["id"]
    second = post(auth_client, recipient="Han Meimei").json()["id"]
    third = post(auth_client, recipient="Wang Fang", is_default=True).json()["id"]

    listed = auth_client.get(URL).json()

    assert [(a["id"], a["is_default"]) for a in listed] == [(third, True), (second, False), (first, False)]


def test_patch_changes_only_what_is_sent_and_moves_the_default(auth_client):
    first = post(auth_client).json()["id"]
    second = post(auth_client).json()["id"]

    response = auth_client.patch(f"{URL}/{second}", {"phone": "021-12345678", "is_default": True}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["phone"], response.json()["is_default"], response.json()["recipient"]) == (
        "021-12345678",
        True,
        "Li Lei",
    )
    assert list(Address.objects.filter(is_default=True).values_list("pk", flat=True)) == [second]
    assert Address.objects.get(pk=first).is_default is False


def test_delete_is_204_and_the_address_is_gone(auth_client):
    address_id = post(auth_client).json()["id"]

    assert auth_client.delete(f"{URL}/{address_id}").status_code == 204
    assert_error(auth_client.get(f"{URL}/{address_id}"), 404, "address_not_found")
    assert not Address.objects.exists()


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"phone": "12345678901"}, 400, "invalid_phone"),
        ({"phone": "021-1234567"}, 400, "invalid_phone"),
        ({"phone": 13800138000}, 400, "validation_error"),
        ({"latitude": 91}, 400, "validation_error"),
        ({"longitude": -180.5}, 400, "validation_error"),
        ({"latitude": "NaN"}, 400, "validation_error"),
        ({"latitude": None}, 400, "validation_error"),
        ({"latitude": "north"}, 400, "validation_error"),
        ({"city": "atlantis"}, 400, "unknown_city"),
        ({"city": 1}, 400, "validation_error"),
        ({"recipient": ""}, 400, "validation_error"),
        ({"recipient": "   "}, 400, "validation_error"),
        ({"recipient": "x" * 65}, 400, "validation_error"),
        ({"text": "Road\u0000 1"}, 400, "validation_error"),
        ({"text": "Road\n1"}, 400, "invalid_address"),
        ({"is_default": "yes"}, 400, "validation_error"),
        ({"is_default": 1}, 400, "validation_error"),
        ({"latitude": 31.2989, "longitude": 120.5853}, 422, "address_outside_service_area"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(auth_client, fields, status, code):
    assert_error(post(auth_client, **fields), status, code)
    assert not Address.objects.exists()


@pytest.mark.parametrize("missing", ["recipient", "phone", "text", "city", "latitude", "longitude"])
def test_every_field_but_is_default_is_required(auth_client, missing):
    body = {key: value for key, value in HOME.items() if key != missing}

    details = assert_error(auth_client.post(URL, body, format="json"), 400, "validation_error")

    assert list(details) == [missing]
    assert not Address.objects.exists()


def test_outside_the_service_area_says_how_far_and_the_radius(auth_client):
    details = assert_error(post(auth_client, latitude=31.2989, longitude=120.5853), 422, "address_outside_service_area")

    assert details["service_radius_km"] == 60
    assert 83_000 < details["distance_m"] < 86_000


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"phone": "110"}, 400, "invalid_phone"),
        ({"latitude": 31.2989, "longitude": 120.5853}, 422, "address_outside_service_area"),
        ({"city": "beijing"}, 422, "address_outside_service_area"),
        ({"latitude": 100}, 400, "validation_error"),
        ({"is_default": None}, 400, "validation_error"),
    ],
)
def test_a_bad_patch_changes_nothing(auth_client, fields, status, code):
    CityFactory(code="beijing", name="Beijing", latitude="39.904200", longitude="116.407400")
    address_id = post(auth_client).json()["id"]
    before = rows()

    assert_error(auth_client.patch(f"{URL}/{address_id}", fields, format="json"), status, code)

    assert rows() == before


def test_another_shoppers_address_is_404_for_every_method(auth_client):
    theirs = post(client_for(CustomerFactory())).json()["id"]
    before = rows()

    assert_error(auth_client.get(f"{URL}/{theirs}"), 404, "address_not_found")
    assert_error(auth_client.patch(f"{URL}/{theirs}", {"recipient": "Me"}, format="json"), 404, "address_not_found")
    assert_error(auth_client.delete(f"{URL}/{theirs}"), 404, "address_not_found")
    assert_error(auth_client.get(f"{URL}/{2**63}"), 404, "address_not_found")
    assert auth_client.get(URL).json() == []
    assert rows() == before


def test_the_twenty_first_address_is_a_422(auth_client):
    for _ in range(20):
        assert post(auth_client).status_code == 201

    details = assert_error(post(auth_client), 422, "too_many_addresses")

    assert details == {"max_addresses": 20}
    assert Address.objects.count() == 20


def test_listing_costs_the_same_for_one_or_twenty_addresses(auth_client, django_assert_max_num_queries):
    post(auth_client)
    with django_assert_max_num_queries(3):
        assert len(auth_client.get(URL).json()) == 1
    for _ in range(19):
        post(auth_client)
    with django_assert_max_num_queries(3):
        assert len(auth_client.get(URL).json()) == 20
