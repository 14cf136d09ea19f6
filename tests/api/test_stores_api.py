"""``GET /api/v1/stores`` and ``/api/v1/stores/{id}``: what the store picker shows."""

from __future__ import annotations

import datetime as dt

import pytest

from miniprogram_api.core import clock
from stores.models import Location
from tests.factories import CityFactory, LocationFactory

pytestmark = pytest.mark.django_db

SHANGHAI_TZ = dt.timezone(dt.timedelta(hours=8))
JINGAN_TEMPLE = {"lat": "31.2235", "lng": "121.4453"}
LANDMARKS = {
    "PSQ": ("People's Square", "31.230400", "121.473700"),
    "XJH": ("Xujiahui", "31.195500", "121.436800"),
    "LJZ": ("Lujiazui", "31.239700", "121.499800"),
    "HQA": ("Hongqiao Airport", "31.197900", "121.336300"),
    "PVG": ("Pudong Airport", "31.144300", "121.808300"),
}


@pytest.fixture
def landmark_stores():
    return {
        code: LocationFactory(code=code, name=name, latitude=lat, longitude=lng)
        for code, (name, lat, lng) in LANDMARKS.items()
    }


@pytest.fixture
def at_shanghai_time(monkeypatch):
    def move(hour: int, minute: int = 0) -> None:
        when = dt.datetime(2026, 5, 20, hour, minute, tzinfo=SHANGHAI_TZ)
        monkeypatch.setattr(clock, "now", lambda: when)

    return move


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def test_nearest_store_comes_first_with_its_distance_in_metres(auth_client, landmark_stores):
    response = auth_client.get("/api/v1/stores", JINGAN_TEMPLE)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [s["code"] for s in results] == ["PSQ", "XJH", "LJZ", "HQA", "PVG"]
    distances = [s["distance_m"] for s in results]
    assert all(isinstance(d, int) for d in distances)
    assert distances[0] == pytest.approx(2_807, abs=5)  # Jing'an Temple to People's Square
    assert distances[-1] == pytest.approx(35_637, abs=20)  # ... to Pudong Airport


def test_a_store_as_the_client_sees_it(auth_client, at_shanghai_time):
    at_shanghai_time(9, 30)
    store = LocationFactory(
        code="PSQ",
        name="People's Square",
        address="1 Nanjing Road West",
        latitude="31.230400",
        longitude="121.473700",
        opens_at=dt.time(7, 0),
        closes_at=dt.time(22, 0),
        scan_and_go_enabled=True,
        has_pickup_station=False,
    )
    response = auth_client.get(f"/api/v1/stores/{store.pk}")
    assert response.status_code == 200
    assert response.json() == {
        "id": store.pk,
        "code": "PSQ",
        "name": "People's Square",
        "city": {"code": "shanghai", "name": "Shanghai", "name_zh": "上海"},
        "address": "1 Nanjing Road West",
        "latitude": 31.2304,
        "longitude": 121.4737,
        "opens_at": "07:00:00",
        "closes_at": "22:00:00",
        "is_open_now": True,
        "scan_and_go_enabled": True,
        "has_pickup_station": False,
        "distance_m": None,
    }


def test_without_coordinates_stores_are_by_code_with_no_distance(auth_client, landmark_stores):
    LocationFactory(code="AAA-WAREHOUSE", kind=Location.Kind.WAREHOUSE)
    LocationFactory(code="AAA-CLOSED", active=False)
    body = auth_client.get("/api/v1/stores").json()
    assert body["count"] == len(LANDMARKS)
    assert [s["code"] for s in body["results"]] == sorted(LANDMARKS)
    assert {s["distance_m"] for s in body["results"]} == {None}


def test_blank_coordinates_are_treated_as_absent(auth_client, landmark_stores):
    body = auth_client.get("/api/v1/stores?city=&lat=&lng=").json()
    assert [s["code"] for s in body["results"]] == sorted(LANDMARKS)


def test_city_narrows_the_list(auth_client, landmark_stores):
    suzhou = CityFactory(code="suzhou", name="Suzhou", name_zh="苏州", latitude="31.2989", longitude="120.5853")
    LocationFactory(code="SZ1", city=suzhou, latitude="31.298900", longitude="120.585300")
    body = auth_client.get("/api/v1/stores", {"city": "suzhou", **JINGAN_TEMPLE}).json()
    assert [(s["code"], s["city"]["code"]) for s in body["results"]] == [("SZ1", "suzhou")]
    assert body["results"][0]["distance_m"] == pytest.approx(85_000, rel=0.05)


def test_a_city_code_that_names_no_city_is_a_400_unknown_city(auth_client, landmark_stores):
    error = assert_error(auth_client.get("/api/v1/stores", {"city": "atlantis"}), 400, "unknown_city")
    assert error["details"] == {"city": "atlantis"}


def test_a_known_city_without_stores_is_an_empty_page(auth_client, landmark_stores):
    CityFactory(code="hangzhou", name="Hangzhou", latitude="30.2741", longitude="120.1551")
    body = auth_client.get("/api/v1/stores", {"city": "hangzhou"}).json()
    assert (body["count"], body["results"]) == (0, [])


@pytest.mark.parametrize(
    ("params", "bad_field"),
    [
        ({"lat": "31.2"}, "lng"),
        ({"lng": "121.4"}, "lat"),
        ({"lat": "91", "lng": "121.4"}, "lat"),
        ({"lat": "-90.000001", "lng": "121.4"}, "lat"),
        ({"lat": "31.2", "lng": "180.5"}, "lng"),
        ({"lat": "31.2", "lng": "-181"}, "lng"),
        ({"lat": "abc", "lng": "121.4"}, "lat"),
        ({"lat": "NaN", "lng": "121.4"}, "lat"),
        ({"lat": "31.2", "lng": "Infinity"}, "lng"),
        ({"lat": "1e400", "lng": "121.4"}, "lat"),
        ({"lat": "31.2" + "1" * 2000, "lng": "121.4"}, "lat"),
        ({"city": "x" * 33}, "city"),
    ],
)
def test_bad_coordinates_are_a_400_validation_error(auth_client, landmark_stores, params, bad_field):
    error = assert_error(auth_client.get("/api/v1/stores", params), 400, "validation_error")
    assert bad_field in error["details"]


def test_coordinates_at_the_limits_and_with_many_digits_are_accepted(auth_client, landmark_stores):
    for lat, lng in [("90", "180"), ("-90", "-180"), ("31.22351234567891", "121.44531234567891")]:
        assert auth_client.get("/api/v1/stores", {"lat": lat, "lng": lng}).status_code == 200


@pytest.mark.parametrize(
    ("hour", "minute", "day_store_open", "night_store_open"),
    [(6, 59, False, False), (7, 0, True, False), (21, 59, True, False), (22, 0, False, True), (1, 30, False, True)],
)
def test_is_open_now_follows_shanghai_wall_clock(
    auth_client, at_shanghai_time, hour, minute, day_store_open, night_store_open
):
    LocationFactory(code="DAY", opens_at=dt.time(7, 0), closes_at=dt.time(22, 0))
    LocationFactory(code="NIGHT", opens_at=dt.time(22, 0), closes_at=dt.time(2, 0))
    at_shanghai_time(hour, minute)
    results = auth_client.get("/api/v1/stores").json()["results"]
    assert {s["code"]: s["is_open_now"] for s in results} == {"DAY": day_store_open, "NIGHT": night_store_open}


def test_is_open_now_uses_shanghai_time_even_when_utc_is_another_day(auth_client, monkeypatch):
    LocationFactory(code="DAY", opens_at=dt.time(7, 0), closes_at=dt.time(22, 0))
    # 23:30 UTC is 07:30 the next morning in Shanghai.
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 5, 20, 23, 30, tzinfo=dt.UTC))
    assert auth_client.get("/api/v1/stores").json()["results"][0]["is_open_now"] is True


def test_warehouses_inactive_and_unknown_stores_are_404_not_found(auth_client):
    warehouse = LocationFactory(kind=Location.Kind.WAREHOUSE)
    closed = LocationFactory(active=False)
    for store_id in (warehouse.pk, closed.pk, 999_999, 10**30):
        assert_error(auth_client.get(f"/api/v1/stores/{store_id}"), 404, "store_not_found")
    assert_error(auth_client.get("/api/v1/stores/abc"), 404, "not_found")


def test_a_page_beyond_the_last_is_404_not_found(auth_client, landmark_stores):
    assert_error(auth_client.get("/api/v1/stores", {"page": 2}), 404, "not_found")
    assert_error(auth_client.get("/api/v1/stores", {"page": 0}), 404, "not_found")
    assert_error(auth_client.get("/api/v1/stores", {"page": "abc"}), 404, "not_found")


def test_page_size_is_capped_at_100(auth_client):
    LocationFactory.create_batch(105)
    body = auth_client.get("/api/v1/stores", {"page_size": 1000}).json()
    assert (body["count"], len(body["results"])) == (105, 100)
    assert body["next"] is not None


@pytest.mark.parametrize("page_size", ["0", "-5", "abc", ""])
def test_a_page_size_that_is_not_a_positive_number_gives_the_default_page(auth_client, page_size):
    LocationFactory.create_batch(25)
    body = auth_client.get("/api/v1/stores", {"page_size": page_size}).json()
    assert (body["count"], len(body["results"])) == (25, 20)


@pytest.mark.parametrize("params", [{}, {"city": "shanghai"}, JINGAN_TEMPLE])
def test_store_list_queries_do_not_grow_with_the_page_size(
    auth_client, django_assert_num_queries, landmark_stores, params
):
    LocationFactory.create_batch(55)
    # Token, (city,) count, page: the city is one more query only when it is filtered on.
    expected = 4 if "city" in params else 3
    for page_size in (5, 50):
        with django_assert_num_queries(expected):
            response = auth_client.get("/api/v1/stores", {**params, "page_size": page_size})
        assert len(response.json()["results"]) == page_size


def test_store_detail_is_two_queries(auth_client, django_assert_num_queries):
    store = LocationFactory()
    with django_assert_num_queries(2):  # token, store with its city
        assert auth_client.get(f"/api/v1/stores/{store.pk}").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/stores", "/api/v1/stores/1", "/api/v1/stores/1/products/lookup"])
def test_stores_need_a_signed_in_shopper(api_client, path):
    assert_error(api_client.get(path), 401, "not_authenticated")


def test_a_bad_token_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = api_client.get("/api/v1/stores")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
