"""The courier webhook's event, in and out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from checkout.models import CourierEvent, Shipment


class CourierEventInput(serializers.Serializer):
    event_id = serializers.CharField(max_length=64, help_text="The provider's id of the event; applied once.")
    tracking_no = serializers.CharField(max_length=64, help_text="The waybill number our dispatch was given.")
    kind = serializers.ChoiceField(choices=CourierEvent.Kind.choices)
    occurred_at = serializers.DateTimeField(help_text="When it happened (ISO 8601 with offset).")
    data = serializers.DictField(
        required=False, default=dict, help_text='Anything else the provider says, e.g. {"reason": "..."} for failed.'
    )

    def validate_data(self, value: dict) -> dict:
        """The text in ``data`` is stored as it came (PostgreSQL jsonb, which holds no NUL
        character and only encodable text): the refusals every CharField makes."""
        for text in _texts(value):
            ProhibitNullCharactersValidator()(text)
            ProhibitSurrogateCharactersValidator()(text)
        return value


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


class CourierEventOutput(serializers.Serializer):
    event_id = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=["applied", "duplicate", "ignored"],
        help_text="applied: the shipment moved; ignored: recorded, changes nothing (late, out of order, or the "
        "shipment is cancelled); duplicate: this event_id was received before, nothing was written.",
    )
    shipment_status = serializers.CharField(
        help_text="The shipment's status after the event: " + ", ".join(Shipment.Status.values) + "."
    )
