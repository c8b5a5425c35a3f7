"""Exception API serializers: the item as read, and the validated input of each action."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from exceptions.models import ExceptionItem
from exceptions.services import RESOLUTION_CODES


class ExceptionItemSerializer(serializers.ModelSerializer):
    """An exception item: why it is here, what to do, who owns it and by when."""

    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, help_text="Owner's username.")
    queue = serializers.SlugRelatedField(slug_field="name", read_only=True, help_text="Queue name.")
    automation = serializers.PrimaryKeyRelatedField(read_only=True, help_text="Id of the automation that raised it.")
    automation_name = serializers.CharField(source="automation.name", read_only=True, allow_null=True, default=None)
    run = serializers.PrimaryKeyRelatedField(read_only=True, help_text="Id of the automation run that raised it.")
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    proposal = serializers.DictField(read_only=True, help_text="For approvals: the prepared action.")
    overdue = serializers.SerializerMethodField(help_text="Open and past its due time.")

    class Meta:
        model = ExceptionItem
        fields = [
            "id",
            "kind",
            "title",
            "reason",
            "expected_action",
            "severity",
            "status",
            "owner",
            "queue",
            "escalation_level",
            "escalated_at",
            "snoozed_until",
            "claimed_at",
            "due_at",
            "overdue",
            "automation",
            "automation_name",
            "run",
            "object_type",
            "object_id",
            "external_id",
            "occurrences",
            "first_seen_at",
            "last_seen_at",
            "proposal",
            "decision",
            "resolution_code",
            "resolution_note",
            "resolved_by",
            "resolved_at",
        ]
        read_only_fields = fields

    def get_overdue(self, item) -> bool:
        return bool(item.status in ExceptionItem.OPEN_STATUSES and item.due_at and item.due_at < timezone.now())


def _reject_nul(value, path="params"):
    """JSON stored in PostgreSQL cannot hold NUL characters, in keys or string values."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(f"{path}: null characters are not allowed.")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _reject_nul(key, path)
            _reject_nul(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _reject_nul(inner, f"{path}[{index}]")


class AssignSerializer(serializers.Serializer):
    owner = serializers.CharField(max_length=150, help_text="Username of the new owner.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)

    def validate_owner(self, value):
        user = get_user_model().objects.filter(username=value, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(f"No active user {value!r}.")
        return user


class ResolveSerializer(serializers.Serializer):
    reason_code = serializers.ChoiceField(choices=list(RESOLUTION_CODES.items()), help_text="Why it is resolved.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class DismissSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the item needs no action.")


class SnoozeSerializer(serializers.Serializer):
    until = serializers.DateTimeField(help_text="Hide the item until this time (ISO 8601, in the future).")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)

    def validate_until(self, value):
        try:
            value = value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise serializers.ValidationError("Enter a date/time between years 1 and 9999.") from None
        if value <= timezone.now():
            raise serializers.ValidationError("Snooze until a time in the future.")
        return value


class EscalateSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ApproveSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the proposed action is rejected.")


class OverrideSerializer(serializers.Serializer):
    params = serializers.DictField(help_text="The action's parameters to apply instead of the proposal's.")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)

    def validate_params(self, value):
        _reject_nul(value)
        return value


class NextSerializer(serializers.Serializer):
    queues = serializers.ListField(
        child=serializers.CharField(max_length=120),
        required=False,
        max_length=100,
        help_text="Only these queues (names); default: every queue you work.",
    )
