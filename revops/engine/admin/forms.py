"""The automation form: what a RevOps admin edits, validated by the registry services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from exceptions.queues import queue_names
from revops import conditions
from revops.admin.base import (
    PrettyJSONField,
    remap_form_errors,
)
from revops.admin.condition_widget import ConditionBuilderWidget
from revops.models import Automation
from revops.models.dictionary import ObjectType

from .. import services as automations
from ..kinds import kind_choices
from .helpers import EDITABLE_FIELDS, refusal


class KeyListField(forms.CharField):
    """A list of dictionary keys typed comma- or line-separated."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return list(value)
        text = super().to_python(value) or ""
        return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]

    def has_changed(self, initial, data):
        return list(initial or []) != self.to_python(data)


class AutomationForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=kind_choices, help_text="What it does; one of the registered automation kinds.")
    object_type = forms.ChoiceField(choices=ObjectType.choices, help_text="The record type it watches.")
    trigger_fields = KeyListField(
        required=False, help_text="For 'a field changed': dictionary keys, comma-separated (e.g. country, employees)."
    )
    conditions = PrettyJSONField(
        required=False,
        widget=ConditionBuilderWidget(attrs={"rows": 14}, object_type_field="object_type"),
        help_text=(
            "Build it from data-dictionary fields (fields of related records and computed fields included), or "
            'switch to JSON: a tree such as {"all": [{"field": "lead.country", "op": "in", "value": ["US", "CA"]}, '
            '{"field": "lead.matched_account.employees", "op": "gte", "value": 500}]}. '
            "Checked against the dictionary's types when saved."
        ),
    )
    config = PrettyJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90, "class": "rv-code"}),
        help_text="Parameters of the kind (e.g. the task to create); checked by the kind when saved.",
    )
    exception_queue = forms.ChoiceField(
        required=False,
        label="Exception path",
        help_text="The queue where what it cannot finish goes (Exception queue → Queues).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = queue_names()
        current = (self.instance.exception_queue or "").strip()
        choices = [("", "— none (it cannot go live) —")] + [(name, name) for name in names]
        if current and current not in names:  # a stored name no queue has (any more): show it, flagged
            choices.append((current, f"{current} (no such queue)"))
        self.fields["exception_queue"].choices = choices
        help_text = " Dates also take in_past, in_future, within_next_days and within_last_days (a number of days)."
        offered = conditions.computed_fields()
        if offered:
            names = ", ".join(f"{spec.object_type}.{spec.key} ({spec.label})" for spec in offered)
            help_text += f" Computed fields (no 'changed'): {names}."
        self.fields["conditions"].help_text += help_text

    class Meta:
        model = Automation
        fields = EDITABLE_FIELDS
        widgets = {
            "purpose": forms.Textarea(attrs={"rows": 3, "cols": 90}),
            "downstream_effect": forms.Textarea(attrs={"rows": 2, "cols": 90}),
            "rollback_notes": forms.Textarea(attrs={"rows": 2, "cols": 90}),
        }

    def clean_conditions(self):
        value = self.cleaned_data.get("conditions")
        return value if value not in (None, "") else {"all": []}

    def clean_config(self):
        value = self.cleaned_data.get("config")
        return value if value not in (None, "") else {}

    def _post_clean(self):
        super()._post_clean()
        if any(name in self.errors for name in ("conditions", "config", "kind", "object_type")):
            return
        try:
            stored = Automation.objects.filter(pk=self.instance.pk).first() if self.instance.pk else None
            automations.automation_clean(automation=self.instance, stored=stored)
        except ValidationError as error:
            if hasattr(error, "error_dict") and "mode" in error.error_dict:
                blockers = automations.automation_go_live_blockers(automation=self.instance)
                if blockers:
                    error.error_dict["mode"] = [
                        ValidationError(refusal(self.instance, self.instance.mode, blockers), code="governance")
                    ]
            remap_form_errors(self, error)


# --- Inlines ---------------------------------------------------------------------------------
