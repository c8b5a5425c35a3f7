"""Handoff API serializers: the handoff as read, and the bodies of its answers."""

from __future__ import annotations

from rest_framework import serializers

from handoffs.models import Handoff
from handoffs.services import REJECTION_REASONS


class HandoffMissingSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["field", "attestation", "receiver"])
    key = serializers.CharField()
    label = serializers.CharField()
    role = serializers.CharField(required=False, allow_blank=True)


class HandoffSerializer(serializers.ModelSerializer):
    """A deal's handoff (or an account's renewal handoff): its state, what it still needs and who receives it."""

    checklist = serializers.SlugRelatedField(slug_field="name", read_only=True)
    opportunity = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True, allow_null=True, help_text="The deal's CRM id (null for renewals)."
    )
    account = serializers.SlugRelatedField(
        slug_field="external_id",
        read_only=True,
        allow_null=True,
        help_text="For renewal handoffs: the account's CRM id (null for deal handoffs).",
    )
    receiver = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True, allow_null=True, help_text="The receiving rep's CRM id."
    )
    missing = HandoffMissingSerializer(many=True, read_only=True)
    attested = serializers.DictField(read_only=True, help_text='{key: {"by": username, "at": ISO time}}.')

    class Meta:
        model = Handoff
        fields = [
            "id",
            "checklist",
            "opportunity",
            "account",
            "renewal_date",
            "status",
            "missing",
            "attested",
            "receiver",
            "ready_at",
            "sent_at",
            "accepted_at",
            "rejected_at",
            "rejection_code",
            "rejection_note",
            "cancelled_at",
            "created_at",
            "updated_at",
        ]


class HandoffRejectSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=list(REJECTION_REASONS.items()))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class HandoffAttestSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64, help_text="The attestation's key in the checklist.")


class HandoffAnswerSerializer(serializers.Serializer):
    pass
