"""Output serializers for pick-up codes."""

from __future__ import annotations

from rest_framework import serializers


class PickupStoreSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()


class PickupCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="8 digits: show at the store's pick-up station (or use pickup-code.png).")
    store = PickupStoreSerializer(help_text="Where to collect the order.")
    ready = serializers.BooleanField(help_text="Everything in the order has reached the pick-up station.")
    collected_at = serializers.DateTimeField(allow_null=True, help_text="When the order was handed over, if it was.")
