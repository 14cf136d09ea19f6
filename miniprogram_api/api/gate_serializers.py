from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkout.gate_decisions import MESSAGES
from checkout.models import GateEvent

REASONS_HELP = (
    "Why, as a stable code: open `ok`; audit `audit_required`, `audit_partially_refunded`; deny `malformed`, "
    "`bad_signature`, `unknown_key`, `expired`, `not_yet_valid`, `wrong_store`, `unknown_pass`, `superseded`, "
    "`order_not_paid`, `order_closed`, `order_cancelled`, `order_refunded`, `already_used`."
)


class VerifyInput(serializers.Serializer):
    token = serializers.CharField(
        allow_blank=True, help_text="The exit QR code's content as scanned (`EP1.` and base64url)."
    )


class ResolveInput(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["passed", "failed"], help_text="passed opens the gate, failed denies.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class GateRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PassSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    order_number = serializers.CharField(source="order.number")
    store_id = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    audit = serializers.BooleanField()


class StaffSerializer(serializers.Serializer):
    """What staff at the gate check the basket against."""

    item_count = serializers.IntegerField()
    total_fen = serializers.IntegerField()
    age_restricted_items = serializers.ListField(child=serializers.CharField(), help_text="Check the shopper's ID.")
    audit_reasons = serializers.ListField(child=serializers.CharField())


class VerifyOutput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=GateEvent.Decision.choices)
    reason = serializers.CharField(help_text=REASONS_HELP)
    message = serializers.CharField(help_text="Text the gate may show the shopper.")
    event_id = serializers.IntegerField(source="event.pk", help_text="The GateEvent recording this decision.")
    audit_id = serializers.IntegerField(
        allow_null=True, help_text="For audit: the pending audit, to resolve at /audits/{id}/resolve."
    )
    exit_pass = serializers.SerializerMethodField(method_name="get_exit_pass")  # rendered as "pass", a Python keyword
    staff = serializers.SerializerMethodField()
    used_at = serializers.DateTimeField(allow_null=True, help_text="For already_used: when the pass was used.")
    used_gate = serializers.SerializerMethodField(help_text="For already_used: the gate that let it through.")

    def get_fields(self):
        return {("pass" if name == "exit_pass" else name): field for name, field in super().get_fields().items()}

    @extend_schema_field(PassSerializer(allow_null=True))
    def get_exit_pass(self, decision):
        return None if decision.exit_pass is None else PassSerializer(decision.exit_pass).data

    @extend_schema_field(StaffSerializer(allow_null=True))
    def get_staff(self, decision):
        return None if decision.exit_pass is None else StaffSerializer(decision.exit_pass).data

    @extend_schema_field(GateRefSerializer(allow_null=True))
    def get_used_gate(self, decision):
        return None if decision.used_gate is None else GateRefSerializer(decision.used_gate).data


class ResolveOutput(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=GateEvent.Decision.choices, help_text="open for passed, deny for failed."
    )
    reason = serializers.CharField(help_text="audit_passed or audit_failed.")
    message = serializers.SerializerMethodField()
    event_id = serializers.IntegerField(source="pk")
    audit_id = serializers.IntegerField(source="resolves_id")
    occurred_at = serializers.DateTimeField()
    note = serializers.CharField(source="data.note")

    def get_message(self, event) -> str:
        return MESSAGES[event.reason]
