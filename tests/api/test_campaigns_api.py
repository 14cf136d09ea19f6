"""``POST /api/v1/campaigns/scan``: a shopper scans a festival poster in a store."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from miniprogram_api.accounts.tokens import issue_token
from miniprogram_api.core import clock
from promotions import campaigns
from promotions.models import Campaign, CampaignScan, Coupon, CouponTemplate
from tests.factories import CustomerFactory, LocationFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 8, 8, 10, 0, tzinfo=SHANGHAI)
URL = "/api/v1/campaigns/scan"
COUPON_FIELDS = ("name", "kind", "threshold_fen", "amount_off_fen", "percent_off", "cap_fen", "channels", "status",
                 "valid_from", "valid_until", "source")  # fmt: skip


@pytest.fixture(autouse=True)
def _festival_morning(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.fixture
def campaign() -> Campaign:
    campaign = Campaign.objects.create(
        name="8.8 festival",
        starts_at=dt.datetime(2026, 8, 1, tzinfo=SHANGHAI),
        ends_at=dt.datetime(2026, 8, 9, tzinfo=SHANGHAI),
    )
    festival = {"valid_from": campaign.starts_at, "valid_until": campaign.ends_at, "channels": "delivery"}
    campaign.scan_templates.set(
        [
            CouponTemplate.objects.create(
                name="满99减10", kind="amount_off", threshold_fen=9900, amount_off_fen=1000, **festival
            ),
            CouponTemplate.objects.create(name="8.8折", kind="percent_off", percent_off=12, cap_fen=3000, **festival),
        ]
    )
    return campaign


@pytest.fixture
def payload(campaign) -> str:
    return campaigns.poster_payload(campaign.pk, LocationFactory().pk)


def next_store(payload: str) -> str:
    version, campaign_id, store_id, signature = payload.split(".")
    return f"{version}.{campaign_id}.{int(store_id) + 1}.{signature}"


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


def nothing_granted(customer) -> bool:
    return not Coupon.objects.filter(customer=customer).exists() and not CampaignScan.objects.exists()


def test_a_scan_grants_the_campaigns_coupons(auth_client, campaign, payload):
    response = auth_client.post(URL, {"payload": payload})

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["campaign"] == {"id": campaign.pk, "name": "8.8 festival", "ends_at": "2026-08-09T00:00:00+08:00"}
    coupons = Coupon.objects.filter(customer=auth_client.customer).order_by("pk")
    assert [coupon["id"] for coupon in body["coupons"]] == [coupon.pk for coupon in coupons]
    shown = [{key: coupon[key] for key in COUPON_FIELDS} for coupon in body["coupons"]]
    festival = {"channels": "delivery", "status": "available", "source": "campaign",
                "valid_from": "2026-08-01T00:00:00+08:00", "valid_until": "2026-08-09T00:00:00+08:00"}  # fmt: skip
    assert shown == [
        {"name": "满99减10", "kind": "amount_off", "threshold_fen": 9900, "amount_off_fen": 1000, "percent_off": 0,
         "cap_fen": None, **festival},
        {"name": "8.8折", "kind": "percent_off", "threshold_fen": 0, "amount_off_fen": 0, "percent_off": 12,
         "cap_fen": 3000, **festival},
    ]  # fmt: skip


def test_the_coupons_show_up_among_my_coupons(auth_client, payload):
    granted = auth_client.post(URL, {"payload": payload}).json()["coupons"]

    listed = auth_client.get("/api/v1/coupons").json()

    listed = listed["results"] if isinstance(listed, dict) else listed
    assert {coupon["id"] for coupon in granted} <= {coupon["id"] for coupon in listed}


def test_a_second_scan_is_a_409_and_still_one_set(auth_client, campaign, payload):
    auth_client.post(URL, {"payload": payload})
    other_store = campaigns.poster_payload(campaign.pk, LocationFactory().pk)

    assert_error(auth_client.post(URL, {"payload": payload}), 409, "campaign_already_scanned")
    assert_error(auth_client.post(URL, {"payload": other_store}), 409, "campaign_already_scanned")

    assert Coupon.objects.filter(customer=auth_client.customer).count() == 2


def test_another_shopper_scanning_the_same_poster_gets_their_own_set(auth_client, payload):
    auth_client.post(URL, {"payload": payload})
    other = CustomerFactory()
    raw, _ = issue_token(customer=other)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.post(URL, {"payload": payload}).status_code == 201
    assert Coupon.objects.filter(customer=other).count() == 2


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p[:-1] + ("B" if p[-1] == "A" else "A"), id="signature-last-character"),
        pytest.param(lambda p: p[:-20] + ("x" if p[-20] != "x" else "y") + p[-19:], id="signature-middle"),
        pytest.param(next_store, id="store-id"),
        pytest.param(lambda p: "https://evil.example/" + p, id="wrapped"),
        pytest.param(lambda p: "hello", id="not-a-poster"),
    ],
)
def test_a_tampered_poster_is_a_400_and_grants_nothing(tamper, auth_client, payload):
    LocationFactory()  # so a changed store id may name a real store: the signature still fails

    assert_error(auth_client.post(URL, {"payload": tamper(payload)}), 400, "invalid_poster")

    assert nothing_granted(auth_client.customer)


def test_a_poster_of_an_unknown_campaign_is_the_same_400(auth_client, campaign):
    genuine = campaigns.poster_payload(campaign.pk + 1, LocationFactory().pk)

    assert_error(auth_client.post(URL, {"payload": genuine}), 400, "invalid_poster")
    assert nothing_granted(auth_client.customer)


@pytest.mark.parametrize(
    "moment",
    [dt.datetime(2026, 7, 31, 23, 59, tzinfo=SHANGHAI), dt.datetime(2026, 8, 9, 0, 0, tzinfo=SHANGHAI)],
)
def test_outside_the_festival_is_a_422(moment, auth_client, payload, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: moment)

    assert_error(auth_client.post(URL, {"payload": payload}), 422, "campaign_not_live")
    assert nothing_granted(auth_client.customer)


def test_a_switched_off_campaign_is_a_422(auth_client, campaign, payload):
    Campaign.objects.filter(pk=campaign.pk).update(active=False)

    assert_error(auth_client.post(URL, {"payload": payload}), 422, "campaign_not_live")
    assert nothing_granted(auth_client.customer)


@pytest.mark.parametrize("body", [{}, {"payload": ""}, {"payload": 12}, {"payload": "x" * 501}, {"payload": None}])
def test_a_missing_or_odd_payload_is_a_400(body, auth_client, campaign):
    response = auth_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"validation_error", "invalid_poster"}
    assert nothing_granted(auth_client.customer)


def test_scanning_needs_a_shopper(api_client, payload):
    assert_error(api_client.post(URL, {"payload": payload}), 401, "not_authenticated")
    assert not CampaignScan.objects.exists()
