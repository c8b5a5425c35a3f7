"""Exception API serializers: the item as read, the "next item" input, and the schema of each action's body."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from rest_framework import serializers

from exceptions.actions import ItemAction, UserField
from exceptions.models import ExceptionItem


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


# --- Action bodies, for the OpenAPI schema only ------------------------------------------------
# The body of ``POST /api/v1/exceptions/<id>/<key>/`` is validated by the action's form
# (``exceptions.actions``), exactly as the admin validates it; these serializers only describe it.


def _schema_field(field) -> serializers.Field:
    options = {"required": field.required, "help_text": str(field.help_text or "") or None}
    if getattr(field, "structured", False):
        return serializers.DictField(**options)
    if isinstance(field, UserField):
        return serializers.CharField(max_length=150, **{**options, "help_text": "Username of an active staff user."})
    if isinstance(field, forms.ModelChoiceField):
        return serializers.CharField(**options)
    if isinstance(field, forms.ChoiceField):
        return serializers.ChoiceField(choices=list(field.choices), **options)
    if isinstance(field, forms.DateTimeField):
        return serializers.DateTimeField(**options)
    if isinstance(field, forms.BooleanField):
        return serializers.BooleanField(**options)
    if isinstance(field, forms.IntegerField):
        return serializers.IntegerField(**options)
    max_length = getattr(field, "max_length", None)
    return serializers.CharField(max_length=max_length, allow_blank=not field.required, **options)


def action_request_serializer(action: ItemAction) -> type[serializers.Serializer] | None:
    """A serializer describing ``action``'s body (its form's fields), named after the action."""
    if action.form is None:
        return None
    form = action.bind()
    attrs = {name: _schema_field(field) for name, field in form.fields.items()}
    attrs["__doc__"] = f"The body of the {action.key!r} action (validated by its form, as in the admin)."
    name = "".join(part.title() for part in action.key.split("_")) + "Serializer"
    return type(name, (serializers.Serializer,), attrs)


class NextSerializer(serializers.Serializer):
    queues = serializers.ListField(
        child=serializers.CharField(max_length=120),
        required=False,
        max_length=100,
        help_text="Only these queues (names); default: every queue you work.",
    )
