"""Input and output of the offline gate endpoints: the keys and the upload."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from checkout.gate_offline import MAX_EVENTS_PER_UPLOAD, OfflineEvent
from checkout.models import GateEvent


class AwareDateTimeField(serializers.DateTimeField):
    """A gate's clock reading must say its offset: a naive time would be read as Shanghai
    time, silently eight hours off for a gate that keeps UTC."""

    default_error_messages = {"naive": "Give the time with its UTC offset, e.g. 2026-11-22T09:30:00+08:00."}

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class PublicKeySerializer(serializers.Serializer):
    key_id = serializers.CharField()
    algorithm = serializers.CharField()
    public_key_pem = serializers.CharField()


class KeysOutput(serializers.Serializer):
    keys = PublicKeySerializer(many=True)
    clock_skew_seconds = serializers.IntegerField()


class OfflineEventInput(serializers.Serializer):
    token = serializers.CharField(max_length=1024, allow_blank=True, trim_whitespace=False)
    decision = serializers.ChoiceField(choices=GateEvent.Decision.choices)
    reason = serializers.RegexField(
        r"^[a-z0-9_]{1,32}$", error_messages={"invalid": "A reason is 1-32 characters of a-z, 0-9 and _."}
    )
    occurred_at = AwareDateTimeField()

    def to_internal_value(self, data) -> OfflineEvent:
        return OfflineEvent(**super().to_internal_value(data))


class OfflineUploadInput(serializers.Serializer):
    events = serializers.ListField(child=OfflineEventInput(), max_length=MAX_EVENTS_PER_UPLOAD)


class DoubleUseOutput(serializers.Serializer):
    pass_id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField(help_text="When this gate let the pass through (its clock).")
    first_used_at = serializers.DateTimeField()
    first_gate_id = serializers.IntegerField(allow_null=True)
    first_gate = serializers.CharField(help_text="The name of the gate that spent the pass first.")


class OfflineUploadOutput(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="Events written now.")
    duplicates = serializers.IntegerField(help_text="Events already recorded by an earlier upload, skipped.")
    flagged = DoubleUseOutput(many=True, help_text="Passes that had already let someone out: loss prevention.")
