"""Input and output serializers for festival campaign poster scans."""

from __future__ import annotations

from rest_framework import serializers

from .coupons_serializers import CouponOutput


class CampaignScanInput(serializers.Serializer):
    payload = serializers.CharField(
        max_length=500, trim_whitespace=False, help_text="The text of the poster's QR code, exactly as scanned."
    )


class CampaignRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    ends_at = serializers.DateTimeField(help_text="The festival's end: when its poster coupons stop being granted.")


class CampaignScanOutput(serializers.Serializer):
    campaign = CampaignRefOutput()
    coupons = CouponOutput(many=True, help_text="The coupons just granted (`applies`, `reason`, `discount_fen` null).")
