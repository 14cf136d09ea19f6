"""Festival campaigns: signed posters, the coupons a scan grants, the posters' zip for the
print shop, and the bonus for shopping on both channels."""

from __future__ import annotations

import datetime as dt
import io
import string
import zipfile
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from django.contrib.messages import get_messages
from django.urls import reverse
from PIL import Image

from checkout import after_payment, after_payment_jobs, tasks
from checkout.models import AfterPaymentJob, Order
from miniprogram_api.core import clock
from promotions import campaigns
from promotions.campaigns import CampaignAlreadyScanned, CampaignNotLive, InvalidPoster
from promotions.coupons import CouponsSoldOut, issue_coupons
from promotions.models import Campaign, CampaignBonusGrant, CampaignScan, Coupon, CouponTemplate
from tests.factories import CustomerFactory, LocationFactory, ProductFactory
from tests.orders import make_order
from tests.parallel import run_in_parallel

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 8, 8, 10, 0, tzinfo=SHANGHAI)
DAY = dt.timedelta(days=1)


def make_template(name: str, **fields) -> CouponTemplate:
    terms = {
        "kind": CouponTemplate.Kind.AMOUNT_OFF,
        "amount_off_fen": 1000,
        "threshold_fen": 9900,
        "channels": CouponTemplate.Channels.DELIVERY,
        "valid_from": NOW - DAY,
        "valid_until": NOW + 7 * DAY,
        **fields,
    }
    return CouponTemplate.objects.create(name=name, **terms)


def make_campaign(*, starts_at=NOW - DAY, ends_at=NOW + 3 * DAY, active=True, bonus=True, templates=2) -> Campaign:
    campaign = Campaign.objects.create(
        name="8.8 festival",
        starts_at=starts_at,
        ends_at=ends_at,
        active=active,
        omnichannel_bonus_template=make_template("Both channels: ¥20 off", amount_off_fen=2000) if bonus else None,
    )
    campaign.scan_templates.set(
        [make_template(f"满{99 + 100 * i}减{10 * (i + 1)}", amount_off_fen=1000 * (i + 1)) for i in range(templates)]
    )
    return campaign


@pytest.fixture
def campaign(db) -> Campaign:
    return make_campaign()


@pytest.fixture
def store(db):
    return LocationFactory(code="SH088")


def coupons_of(customer) -> list[Coupon]:
    return list(Coupon.objects.filter(customer=customer).order_by("template_id"))


# --- Poster payloads ----------------------------------------------------------------------


def test_a_payload_names_the_campaign_and_store_and_verifies():
    payload = campaigns.poster_payload(12, 345)

    version, campaign_id, store_id, signature = payload.split(".")
    assert (version, campaign_id, store_id, len(signature)) == ("CP1", "12", "345", 43)
    assert campaigns.verify_payload(payload) == (12, 345)


def test_changing_any_one_character_of_the_signature_is_refused():
    payload = campaigns.poster_payload(12, 345)
    head, signature = payload.rsplit(".", 1)
    alphabet = string.ascii_letters + string.digits + "-_"

    for position, char in enumerate(signature):
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        tampered = f"{head}.{signature[:position]}{other}{signature[position + 1 :]}"
        with pytest.raises(InvalidPoster):
            campaigns.verify_payload(tampered)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: p.replace("CP1.12.345.", "CP1.12.346."),  # another store
        lambda p: p.replace("CP1.12.345.", "CP1.13.345."),  # another campaign
        lambda p: p.replace("CP1.12.345.", "CP1.012.345."),  # same ids, other spelling
        lambda p: p.replace("CP1.", "CP2."),
        lambda p: p + "\n",
        lambda p: " " + p,
        lambda p: p[:-1],
        lambda p: p + "A",
        lambda p: p.rsplit(".", 1)[0],
        lambda p: "",
        lambda p: "CP1.99999999999999999999.1." + p.rsplit(".", 1)[1],
    ],
)
def test_altered_or_malformed_payloads_are_refused(tamper):
    with pytest.raises(InvalidPoster):
        campaigns.verify_payload(tamper(campaigns.poster_payload(12, 345)))


def test_a_payload_signed_with_another_key_is_refused(settings):
    settings.SECRET_KEY = "a-different-secret-key-of-enough-length-0123456789"
    forged = campaigns.poster_payload(12, 345)
    settings.SECRET_KEY = "the-real-secret-key-of-enough-length-0123456789abc"

    with pytest.raises(InvalidPoster):
        campaigns.verify_payload(forged)


def test_printed_posters_still_verify_after_the_key_is_rotated(settings):
    settings.SECRET_KEY = "the-old-secret-key-of-enough-length-0123456789abcd"
    printed = campaigns.poster_payload(12, 345)
    settings.SECRET_KEY = "the-new-secret-key-of-enough-length-0123456789abcd"
    settings.SECRET_KEY_FALLBACKS = ["the-old-secret-key-of-enough-length-0123456789abcd"]

    assert campaigns.verify_payload(printed) == (12, 345)


def test_the_poster_png_decodes_to_the_payload():
    payload = campaigns.poster_payload(12, 345)

    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(campaigns.poster_png(payload))))

    assert [(code.format.name, code.text) for code in decoded] == [("QRCode", payload)]


# --- Scanning -----------------------------------------------------------------------------


def test_a_scan_grants_each_poster_coupon_once(campaign, store, customer):
    result = campaigns.scan_poster(
        customer_id=customer.pk, payload=campaigns.poster_payload(campaign.pk, store.pk), now=NOW
    )

    templates = sorted(campaign.scan_templates.all(), key=lambda template: template.pk)
    assert result.campaign.pk == campaign.pk
    assert [coupon.template_id for coupon in result.coupons] == [template.pk for template in templates]
    mine = coupons_of(customer)
    assert [(c.template_id, c.status, c.source, c.source_id) for c in mine] == [
        (template.pk, "available", "campaign", campaign.pk) for template in templates
    ]
    assert [(c.valid_from, c.valid_until) for c in mine] == [(NOW - DAY, NOW + 7 * DAY)] * 2
    assert list(CampaignScan.objects.values_list("campaign_id", "customer_id", "store_id")) == [
        (campaign.pk, customer.pk, store.pk)
    ]
    assert all(
        template.issued_count == 1 for template in CouponTemplate.objects.filter(pk__in=[t.pk for t in templates])
    )


def test_the_shoppers_own_per_customer_limit_does_not_block_campaign_coupons(campaign, store, customer):
    """A shopper who already claimed a template up to its limit still gets it from the poster:
    the scan row, not the template's per-shopper limit, is what makes it once-only."""
    template = campaign.scan_templates.order_by("pk").first()
    issue_coupons(template_id=template.pk, customer_id=customer.pk)

    result = campaigns.scan_poster(
        customer_id=customer.pk, payload=campaigns.poster_payload(campaign.pk, store.pk), now=NOW
    )

    assert len(result.coupons) == 2
    assert Coupon.objects.filter(customer=customer, template=template).count() == 2


def test_a_second_scan_is_refused_and_grants_nothing_more(campaign, store, customer):
    other_store = LocationFactory()
    campaigns.scan_poster(customer_id=customer.pk, payload=campaigns.poster_payload(campaign.pk, store.pk), now=NOW)

    for poster_store in (store, other_store):
        with pytest.raises(CampaignAlreadyScanned):
            campaigns.scan_poster(
                customer_id=customer.pk, payload=campaigns.poster_payload(campaign.pk, poster_store.pk), now=NOW
            )

    assert len(coupons_of(customer)) == 2
    assert CampaignScan.objects.count() == 1


def test_each_shopper_gets_their_own_set(campaign, store):
    first, second = CustomerFactory(), CustomerFactory()
    payload = campaigns.poster_payload(campaign.pk, store.pk)

    for shopper in (first, second):
        campaigns.scan_poster(customer_id=shopper.pk, payload=payload, now=NOW)

    assert (len(coupons_of(first)), len(coupons_of(second))) == (2, 2)


def test_a_tampered_payload_grants_nothing(campaign, store, customer):
    payload = campaigns.poster_payload(campaign.pk, store.pk)
    other = "A" if payload[-5] != "A" else "B"

    with pytest.raises(InvalidPoster):
        campaigns.scan_poster(customer_id=customer.pk, payload=payload[:-5] + other + payload[-4:], now=NOW)

    assert coupons_of(customer) == [] and CampaignScan.objects.count() == 0


def test_unknown_campaigns_and_stores_get_the_same_answer_as_a_forgery(campaign, store, customer):
    warehouse = LocationFactory(kind="warehouse")
    closed = LocationFactory(active=False)
    genuine_but_unknown = [
        campaigns.poster_payload(campaign.pk + 1000, store.pk),
        campaigns.poster_payload(campaign.pk, store.pk + 1000),
        campaigns.poster_payload(campaign.pk, warehouse.pk),
        campaigns.poster_payload(campaign.pk, closed.pk),
    ]

    for payload in genuine_but_unknown:
        with pytest.raises(InvalidPoster) as refused:
            campaigns.scan_poster(customer_id=customer.pk, payload=payload, now=NOW)
        assert (refused.value.code, refused.value.details) == ("invalid_poster", {})

    assert coupons_of(customer) == [] and CampaignScan.objects.count() == 0


@pytest.mark.parametrize(
    ("window", "active"),
    [
        ((NOW + dt.timedelta(seconds=1), NOW + DAY), True),  # not started
        ((NOW - DAY, NOW), True),  # ended exactly now
        ((NOW - 3 * DAY, NOW - DAY), True),
        ((NOW - DAY, NOW + DAY), False),  # switched off by staff
    ],
)
def test_outside_the_window_or_switched_off_nothing_is_granted(window, active, store, customer):
    campaign = make_campaign(starts_at=window[0], ends_at=window[1], active=active)

    with pytest.raises(CampaignNotLive):
        campaigns.scan_poster(customer_id=customer.pk, payload=campaigns.poster_payload(campaign.pk, store.pk), now=NOW)

    assert coupons_of(customer) == [] and CampaignScan.objects.count() == 0


def test_when_one_poster_coupon_has_run_out_nothing_is_granted_and_the_scan_is_not_counted(campaign, store, customer):
    last = campaign.scan_templates.order_by("pk").last()
    CouponTemplate.objects.filter(pk=last.pk).update(total_cap=5, issued_count=5)

    with pytest.raises(CouponsSoldOut):
        campaigns.scan_poster(customer_id=customer.pk, payload=campaigns.poster_payload(campaign.pk, store.pk), now=NOW)

    assert coupons_of(customer) == [] and CampaignScan.objects.count() == 0
    assert sorted(campaign.scan_templates.values_list("issued_count", flat=True)) == [0, 5]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_scans_by_one_shopper_grant_one_set():
    campaign = make_campaign(templates=3)
    store = LocationFactory()
    shopper = CustomerFactory()
    payload = campaigns.poster_payload(campaign.pk, store.pk)

    def scan(_: int) -> str:
        try:
            campaigns.scan_poster(customer_id=shopper.pk, payload=payload, now=NOW)
        except CampaignAlreadyScanned:
            return "already_scanned"
        return "granted"

    outcomes = run_in_parallel(scan, 5)

    assert sorted(outcomes) == ["already_scanned"] * 4 + ["granted"]
    assert Coupon.objects.filter(customer=shopper).count() == 3
    assert CampaignScan.objects.filter(customer=shopper).count() == 1
    assert list(campaign.scan_templates.values_list("issued_count", flat=True)) == [1, 1, 1]


# --- The posters' zip in the admin --------------------------------------------------------


@pytest.fixture
def stores(db):
    return [LocationFactory(code=code) for code in ("SH002", "BJ001", "SH001")]


def download(admin_client, *campaign_ids):
    return admin_client.post(
        reverse("admin:promotions_campaign_changelist"),
        {"action": "download_posters", "_selected_action": [str(pk) for pk in campaign_ids]},
    )


def test_the_admin_action_downloads_one_decodable_png_per_active_store(admin_client, campaign, stores):
    LocationFactory(code="WH001", kind="warehouse")
    LocationFactory(code="SH999", active=False)

    response = download(admin_client, campaign.pk)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.pk}-posters.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["BJ001.png", "SH001.png", "SH002.png"]
    for store in stores:
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(archive.read(f"{store.code}.png"))))
        assert [code.text for code in decoded] == [campaigns.poster_payload(campaign.pk, store.pk)]
        assert campaigns.verify_payload(decoded[0].text) == (campaign.pk, store.pk)


def test_the_download_wants_exactly_one_campaign(admin_client, campaign, stores):
    other = make_campaign()

    response = download(admin_client, campaign.pk, other.pk)

    assert response.status_code == 302
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Select exactly one campaign to download its posters."
    ]


def test_the_campaign_screens_show_scans_and_bonuses(admin_client, campaign, store):
    shoppers = [CustomerFactory() for _ in range(3)]
    for shopper in shoppers:
        campaigns.scan_poster(customer_id=shopper.pk, payload=campaigns.poster_payload(campaign.pk, store.pk), now=NOW)
    campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=shoppers[0].pk)

    listing = admin_client.get(reverse("admin:promotions_campaign_changelist"))
    page = admin_client.get(reverse("admin:promotions_campaign_change", args=[campaign.pk]))
    scans = admin_client.get(reverse("admin:promotions_campaignscan_changelist"), {"campaign__id__exact": campaign.pk})

    assert listing.status_code == page.status_code == scans.status_code == 200
    assert listing.context["cl"].result_list[0].scan_total == 3
    assert listing.context["cl"].result_list[0].bonus_total == 1
    assert "3 scan(s)" in page.content.decode() and "1 bonus(es)" in page.content.decode()
    assert scans.context["cl"].result_count == 3


def test_a_duplicated_campaign_keeps_its_coupons_and_starts_switched_off(admin_client, campaign):
    response = admin_client.post(
        reverse("admin:promotions_campaign_changelist"),
        {"action": "duplicate_selected", "_selected_action": [str(campaign.pk)]},
    )

    assert response.status_code == 302
    copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert (copy.name, copy.active) == ("8.8 festival (copy)", False)
    assert set(copy.scan_templates.all()) == set(campaign.scan_templates.all())
    assert copy.omnichannel_bonus_template_id == campaign.omnichannel_bonus_template_id


# --- The omnichannel bonus ----------------------------------------------------------------


def paid_order(customer, store, channel: str, *, paid_at: dt.datetime = NOW, state: str = "paid") -> Order:
    """A paid order as payment leaves it. Delivery checkout does not exist yet, so an online
    order is the same row with its channel changed."""
    order = make_order(customer_id=customer.pk, store_id=store.pk, items=[(ProductFactory(), 1, 12000)])
    Order.objects.filter(pk=order.pk).update(channel=channel, state=state, paid_at=paid_at)
    return order


def bonus_coupons(customer) -> list[tuple[str, int | None]]:
    return list(Coupon.objects.filter(customer=customer, source="omnichannel_bonus").values_list("source", "source_id"))


def test_the_bonus_is_granted_once(campaign, customer):
    assert campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=customer.pk) is True
    assert campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=customer.pk) is False

    assert bonus_coupons(customer) == [("omnichannel_bonus", campaign.pk)]
    assert Coupon.objects.get(customer=customer).template_id == campaign.omnichannel_bonus_template_id
    assert CampaignBonusGrant.objects.filter(campaign=campaign, customer=customer).count() == 1


def test_no_bonus_from_a_campaign_without_one(customer):
    campaign = make_campaign(bonus=False)

    assert campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=customer.pk) is False
    assert CampaignBonusGrant.objects.count() == 0


def test_a_sold_out_bonus_grants_nothing_and_may_be_granted_later(campaign, customer):
    CouponTemplate.objects.filter(pk=campaign.omnichannel_bonus_template_id).update(total_cap=1, issued_count=1)

    assert campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=customer.pk) is False
    assert CampaignBonusGrant.objects.count() == 0 and bonus_coupons(customer) == []

    CouponTemplate.objects.filter(pk=campaign.omnichannel_bonus_template_id).update(total_cap=2)
    assert campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=customer.pk) is True


@pytest.mark.parametrize("online", ["delivery", "pickup"])
def test_paid_orders_on_both_channels_in_the_window_earn_the_bonus_once(online, campaign, store, customer):
    paid_order(customer, store, "in_store", paid_at=NOW - dt.timedelta(hours=5))
    second = paid_order(customer, store, online)

    assert after_payment.award_campaign_bonuses(order_id=second.pk) == 1
    assert after_payment.award_campaign_bonuses(order_id=second.pk) == 0
    third = paid_order(customer, store, "in_store", paid_at=NOW + dt.timedelta(hours=1))
    assert after_payment.award_campaign_bonuses(order_id=third.pk) == 0

    assert bonus_coupons(customer) == [("omnichannel_bonus", campaign.pk)]


def test_orders_on_one_channel_only_earn_no_bonus(campaign, store, customer):
    orders = [paid_order(customer, store, "in_store", paid_at=NOW - dt.timedelta(hours=h)) for h in (1, 2, 3)]

    assert sum(after_payment.award_campaign_bonuses(order_id=order.pk) for order in orders) == 0
    assert bonus_coupons(customer) == [] and CampaignBonusGrant.objects.count() == 0


@pytest.mark.parametrize(
    ("online_paid_at", "online_state"),
    [
        (NOW - 2 * DAY, "paid"),  # before the festival started
        (NOW, "pending_payment"),
        (NOW, "closed"),
        (NOW, "cancelled"),
    ],
)
def test_an_online_order_outside_the_window_or_unpaid_does_not_count(
    online_paid_at, online_state, campaign, store, customer
):
    paid_order(customer, store, "delivery", paid_at=online_paid_at, state=online_state)
    in_store = paid_order(customer, store, "in_store")

    assert after_payment.award_campaign_bonuses(order_id=in_store.pk) == 0
    assert bonus_coupons(customer) == []


@pytest.mark.parametrize("state", ["refunded", "partially_refunded"])
def test_a_refunded_online_order_was_still_shopping_online(state, campaign, store, customer):
    paid_order(customer, store, "delivery", state=state)
    in_store = paid_order(customer, store, "in_store")

    assert after_payment.award_campaign_bonuses(order_id=in_store.pk) == 1


def test_another_shoppers_orders_do_not_count(campaign, store, customer):
    paid_order(CustomerFactory(), store, "delivery")
    in_store = paid_order(customer, store, "in_store")

    assert after_payment.award_campaign_bonuses(order_id=in_store.pk) == 0


def test_an_order_paid_after_the_campaign_ended_earns_nothing(store, customer):
    campaign = make_campaign(starts_at=NOW - 3 * DAY, ends_at=NOW - DAY)
    paid_order(customer, store, "delivery", paid_at=NOW - 2 * DAY)
    late = paid_order(customer, store, "in_store")

    assert after_payment.award_campaign_bonuses(order_id=late.pk) == 0
    assert not CampaignBonusGrant.objects.filter(campaign=campaign).exists()


def test_the_order_paid_task_grants_the_bonus_however_often_it_runs(campaign, store, customer, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    paid_order(customer, store, "delivery", paid_at=NOW - dt.timedelta(hours=3))
    in_store = paid_order(customer, store, "in_store")

    tasks.order_paid.delay(in_store.pk)
    tasks.order_paid.delay(in_store.pk)

    assert bonus_coupons(customer) == [("omnichannel_bonus", campaign.pk)]


def test_the_redrive_grants_the_bonus_a_lost_task_never_did(campaign, store, customer, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    paid_order(customer, store, "delivery", paid_at=NOW - dt.timedelta(hours=3))
    lost = paid_order(customer, store, "in_store", paid_at=NOW - dt.timedelta(minutes=10))
    AfterPaymentJob.objects.create(order=lost, created_at=NOW - dt.timedelta(minutes=10))  # its task never came

    after_payment_jobs.redrive()

    assert bonus_coupons(customer) == [("omnichannel_bonus", campaign.pk)]
    assert Order.objects.get(pk=lost.pk).stock_committed_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_bonus_grants_grant_once():
    campaign = make_campaign()
    shopper = CustomerFactory()

    granted = run_in_parallel(
        lambda _: campaigns.grant_omnichannel_bonus(campaign_id=campaign.pk, customer_id=shopper.pk), 5
    )

    assert sorted(granted) == [False] * 4 + [True]
    assert len(bonus_coupons(shopper)) == 1
