"""Lifecycle API serializers: a lead's stage as read, and the bodies of the answers to an MQL."""

from __future__ import annotations

from rest_framework import serializers

from lifecycle.models import REJECTION_REASONS, LeadStage, StageTransition


class TransitionSerializer(serializers.ModelSerializer):
    """One move of a lead between stages, with its cause in words."""

    from_stage = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    to_stage = serializers.SlugRelatedField(slug_field="key", read_only=True)
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = StageTransition
        fields = ["id", "from_stage", "to_stage", "at", "cause", "source", "text", "actor", "reason_code", "note"]


class LeadStageSerializer(serializers.ModelSerializer):
    """Where a lead is in its lifecycle: the stage (its key and name), since when, and the SLA's due time."""

    lead = serializers.SlugRelatedField(slug_field="external_id", read_only=True, help_text="The lead's CRM id.")
    owner = serializers.SerializerMethodField(help_text="The lead owner's CRM id.")
    stage = serializers.SlugRelatedField(slug_field="key", read_only=True)
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    awaits_answer = serializers.BooleanField(source="stage.awaits_acceptance", read_only=True)

    class Meta:
        model = LeadStage
        fields = [
            "lead",
            "owner",
            "stage",
            "stage_name",
            "awaits_answer",
            "entered_at",
            "due_at",
            "sla_text",
            "overdue_at",
        ]

    def get_owner(self, obj) -> str | None:
        owner = obj.lead.owner
        return owner.external_id if owner is not None else None


class AnswerResultSerializer(serializers.Serializer):
    transition = TransitionSerializer()
    stage = LeadStageSerializer()


class LeadAcceptSerializer(serializers.Serializer):
    pass


class LeadRejectSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(
        choices=list(REJECTION_REASONS.items()), help_text="Why sales rejects the MQL: " + ", ".join(REJECTION_REASONS)
    )
    note = serializers.CharField(max_length=2000, help_text="What you found, for marketing (required).")
