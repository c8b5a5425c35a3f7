"""Exception API serializers: the item as read, the "next item" input, and the schema of each action's body."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from rest_framework import serializers

from exceptions.actions import ItemAction, UserField
from exceptions.models import ExceptionItem
from exceptions.timing import due_phrase


class ExceptionItemSerializer(serializers.ModelSerializer):
    """An exception item: why it is here, what to do, who owns it and by when."""

    owner = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Owner's username (null: unassigned)."
    )
    queue = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True, help_text="Queue name (null: no queue)."
    )
    automation = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Id of the automation that raised it (null: not an automation)."
    )
    automation_name = serializers.CharField(source="automation.name", read_only=True, allow_null=True, default=None)
    run = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="Id of the automation run that raised it."
    )
    resolved_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who resolved it (null while open)."
    )
    proposal = serializers.DictField(read_only=True, help_text="For approvals: the prepared action.")
    overdue = serializers.SerializerMethodField(help_text="Open and past its due time.")
    resolution_label = serializers.CharField(
        source="get_resolution_code_display", read_only=True, help_text="The resolution code in words."
    )
    due_text = serializers.SerializerMethodField(
        help_text='When it is due, in words: "2 days overdue", "due in 3 hours", "snoozed for 1 day".'
    )
    kind_label = serializers.CharField(source="get_kind_display", read_only=True, help_text="The kind in words.")

    class Meta:
        model = ExceptionItem
        fields = [
            "id",
            "kind",
            "kind_label",
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
            "due_text",
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
            "resolution_label",
            "resolution_note",
            "resolved_by",
            "resolved_at",
        ]
        read_only_fields = fields

    def get_due_text(self, item) -> str:
        return due_phrase(item)

    def get_overdue(self, item) -> bool:
        return bool(item.status in ExceptionItem.OPEN_STATUSES and item.due_at and item.due_at < timezone.now())


# --- Action bodies, for the OpenAPI schema only ------------------------------------------------
# The body of ``POST /api/v1/exceptions/<id>/<key>/`` is validated by the action's form
# (``exceptions.actions``), exactly as the admin validates it; these serializers only describe it.


def form_text(field, value) -> tuple[str | None, str | None]:
    """A JSON body's ``value`` as the text the form ``field`` parses, or an error when its JSON type is not
    the one ``_schema_field`` documents (a boolean for a boolean, an integer for a number, else a string)."""
    if isinstance(field, forms.BooleanField):
        return ("true" if value else "false", None) if isinstance(value, bool) else (None, "Must be true or false.")
    if isinstance(field, forms.IntegerField):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value), None
        return None, "A valid integer is required."
    return (value, None) if isinstance(value, str) else (None, "Not a valid string.")


def _schema_field(field) -> serializers.Field:
    # null is accepted for an optional field and means "not given" (exceptions.api.views._form_data)
    options = {
        "required": field.required,
        "allow_null": not field.required,
        "help_text": str(field.help_text or "") or None,
    }
    if getattr(field, "structured", False) and isinstance(field, forms.MultipleChoiceField):
        return serializers.ListField(child=serializers.CharField(), **options)
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


class StrictCharField(serializers.CharField):
    """Text only: DRF's ``CharField`` would take ``0`` as ``"0"``, which the schema (a string) does not allow."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class NextSerializer(serializers.Serializer):
    queues = serializers.ListField(
        child=StrictCharField(max_length=120),
        required=False,
        max_length=100,
        help_text="Only these queues (names); default: every queue you work.",
    )
