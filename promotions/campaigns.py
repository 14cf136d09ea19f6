"""Festival campaigns: signed poster QR codes that grant coupons, and the omnichannel bonus.

A poster payload is ``CP1.<campaign id>.<store id>.<signature>``: short enough for a QR
code a phone reads across an aisle, and signed (HMAC-SHA256 keyed from ``SECRET_KEY``
with a salt of its own) so nobody can print a poster for a campaign or store we did not.
Posters are printed once and hang for weeks, so a key listed in ``SECRET_KEY_FALLBACKS``
still verifies after a rotation.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import re
import zipfile
from dataclasses import dataclass

import qrcode
import qrcode.constants
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import constant_time_compare, salted_hmac

from miniprogram_api.core import clock
from miniprogram_api.core.errors import Conflict, InvalidInput, Unprocessable
from stores.models import Location

from .coupons import CouponsSoldOut, issue_coupons
from .models import Campaign, CampaignBonusGrant, CampaignScan, Coupon

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = "CP1"
SIGNING_SALT = "promotions.campaigns.poster"
MAX_ID = 2**63 - 1
# Ids without leading zeros, so each (campaign, store) has exactly one valid payload; the
# signature is unpadded base64url of the 32-byte digest (43 characters).
PAYLOAD_RE = re.compile(r"CP1\.([1-9][0-9]{0,18})\.([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{43})", re.ASCII)


class InvalidPoster(InvalidInput):
    """Malformed, tampered, or naming a campaign or store we do not know: one answer for
    all, so a forger learns nothing about which ids exist."""

    code = "invalid_poster"
    default_message = "This is not one of our campaign posters."


class CampaignNotLive(Unprocessable):
    code = "campaign_not_live"
    default_message = "This campaign is not running now."


class CampaignAlreadyScanned(Conflict):
    code = "campaign_already_scanned"
    default_message = "You already have this campaign's coupons."


# --- Poster payloads ----------------------------------------------------------------------


def _signature(message: str, secret: str) -> str:
    digest = salted_hmac(SIGNING_SALT, message, secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def poster_payload(campaign_id: int, store_id: int) -> str:
    message = f"{PAYLOAD_VERSION}.{campaign_id}.{store_id}"
    return f"{message}.{_signature(message, settings.SECRET_KEY)}"


def verify_payload(payload: str) -> tuple[int, int]:
    """The (campaign id, store id) a genuine payload names; ``InvalidPoster`` otherwise.

    The signature is compared as text, in constant time: comparing decoded bytes would
    accept a payload whose last character differs only in the unused low bits.
    """
    match = PAYLOAD_RE.fullmatch(payload) if isinstance(payload, str) else None
    if match is None:
        raise InvalidPoster()
    campaign_id, store_id = int(match[1]), int(match[2])
    if campaign_id > MAX_ID or store_id > MAX_ID:
        raise InvalidPoster()
    message = f"{PAYLOAD_VERSION}.{campaign_id}.{store_id}"
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(constant_time_compare(_signature(message, secret), match[3]) for secret in secrets):
        raise InvalidPoster()
    return campaign_id, store_id


def poster_png(payload: str) -> bytes:
    """The payload as a QR code: error correction Q, since a poster may be creased, glared
    or partly covered; a large module size so it prints sharp."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=12, border=4)
    code.add_data(payload)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def poster_stores():
    """The stores that hang posters: active stores, never warehouses (no shopper walks in)."""
    return Location.objects.filter(kind=Location.Kind.STORE, active=True).order_by("code")


def posters_zip(campaign: Campaign) -> bytes:
    """One PNG per active store, named by the store's code, for the print shop.

    Stored rather than deflated: PNGs are compressed already.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for store_id, code in poster_stores().values_list("pk", "code"):
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", code)
            archive.writestr(f"{name}.png", poster_png(poster_payload(campaign.pk, store_id)))
    return buffer.getvalue()


# --- Scanning a poster --------------------------------------------------------------------


@dataclass(frozen=True)
class ScanResult:
    campaign: Campaign
    coupons: list[Coupon]


def scan_poster(*, customer_id: int, payload: str, now: dt.datetime) -> ScanResult:
    """Grant the campaign's scan coupons to a shopper who scanned one of its posters.

    Once per shopper per campaign, whichever store's poster they scan: the scan row's
    unique constraint decides, so parallel scans by one shopper grant one set. All or
    nothing: if a template has run out, nothing is granted (409 ``coupons_sold_out``)
    and no scan is recorded, so the shopper is not marked as served.
    """
    campaign_id, store_id = verify_payload(payload)
    campaign = Campaign.objects.filter(pk=campaign_id).prefetch_related("scan_templates").first()
    if campaign is None or not poster_stores().filter(pk=store_id).exists():
        raise InvalidPoster()
    if not campaign.is_live(now):
        raise CampaignNotLive(
            details={"starts_at": clock.local_iso(campaign.starts_at), "ends_at": clock.local_iso(campaign.ends_at)}
        )
    coupons: list[Coupon] = []
    with transaction.atomic():
        try:
            with transaction.atomic():
                CampaignScan.objects.create(campaign_id=campaign_id, customer_id=customer_id, store_id=store_id)
        except IntegrityError:
            raise CampaignAlreadyScanned(details={"campaign_id": campaign_id}) from None
        # In id order, so two shoppers' grants lock the templates in the same order.
        for template in sorted(campaign.scan_templates.all(), key=lambda template: template.pk):
            coupons += issue_coupons(
                template_id=template.pk,
                customer_id=customer_id,
                source=Coupon.Source.CAMPAIGN,
                source_id=campaign_id,
                enforce_customer_limit=False,
            )
    return ScanResult(campaign=campaign, coupons=coupons)


# --- The omnichannel bonus ----------------------------------------------------------------


@dataclass(frozen=True)
class BonusWindow:
    campaign_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime


def bonus_windows(*, at: dt.datetime, customer_id: int) -> list[BonusWindow]:
    """Campaigns live at ``at`` that offer a bonus this shopper has not had yet: what the
    after-payment step checks a paid order against (one query)."""
    rows = (
        Campaign.objects.filter(Campaign.live_q(at), omnichannel_bonus_template__isnull=False)
        .exclude(bonus_grants__customer_id=customer_id)
        .order_by("pk")
        .values_list("pk", "starts_at", "ends_at")
    )
    return [BonusWindow(campaign_id=pk, starts_at=starts, ends_at=ends) for pk, starts, ends in rows]


def grant_omnichannel_bonus(*, campaign_id: int, customer_id: int) -> bool:
    """Issue the campaign's bonus coupon to a shopper, once; False if they had it already
    (or the campaign has no bonus, or the bonus coupons have run out).

    The grant row's unique constraint is what makes it once-only, however many paid-order
    tasks race. Running out is logged, not raised: it runs after a payment, which must
    not fail for it, and a later paid order tries again.
    """
    template_id = (
        Campaign.objects.filter(pk=campaign_id).values_list("omnichannel_bonus_template_id", flat=True).first()
    )
    if template_id is None:
        return False
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    CampaignBonusGrant.objects.create(campaign_id=campaign_id, customer_id=customer_id)
            except IntegrityError:
                return False
            issue_coupons(
                template_id=template_id,
                customer_id=customer_id,
                source=Coupon.Source.OMNICHANNEL_BONUS,
                source_id=campaign_id,
                enforce_customer_limit=False,
            )
    except CouponsSoldOut:
        logger.warning("campaign %s: omnichannel bonus coupons ran out (shopper %s)", campaign_id, customer_id)
        return False
    return True
