"""Shared building blocks of the routing admin: the conditions form, weekday lists, audited inlines."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from revops.admin.base import PrettyJSONField, admin_change_reason, remap_form_errors
from revops.admin.condition_widget import ConditionBuilderWidget
from revops.audit import audited

CONDITIONS_HELP = (
    "Build it from the lead's data-dictionary fields (and its owner's and matched account's), or switch to JSON: "
    'a tree such as {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}, {"field": "lead.score", '
    '"op": "gte", "value": 50}]}. Empty: every lead. Checked against the dictionary\'s types when saved.'
)


def clean_weekdays(value) -> list[int]:
    """A JSON list of weekday numbers (0 = Monday … 6 = Sunday), sorted and without repeats."""
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise ValidationError("Give a JSON list of weekday numbers, e.g. [0, 1, 2, 3, 4] (0 = Monday … 6 = Sunday).")
    if any(not 0 <= d <= 6 for d in value):
        raise ValidationError("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
    return sorted(set(value))


def clean_with_service(form: forms.ModelForm, clean) -> None:
    """Validate ``form.instance`` with a setup service's ``clean`` (e.g. ``pool_clean``) too.

    The save service runs the same check again, so it cannot reject what the form accepted; its
    errors show on the fields they concern. Skipped while the form has errors of its own (the
    instance is then incomplete).
    """
    if form.errors:
        return
    try:
        clean(form.instance)
    except ValidationError as error:
        remap_form_errors(form, error)


class AuditedRelatedMixin:
    """Inlines and many-to-many fields are saved inside ``audited(...)`` too (their history names the actor)."""

    def save_related(self, request, form, formsets, change):
        reason = admin_change_reason(request, form, change, form.instance)
        changed = [fs.model._meta.verbose_name_plural for fs in formsets if fs.has_changed()]
        if changed:
            reason = f"{reason}; {', '.join(map(str, changed))} changed"
        with audited(actor=request.user, reason=reason):
            super().save_related(request, form, formsets, change)


class ConditionsForm(forms.ModelForm):
    """A model form with a lead-conditions JSON field; empty means every lead (``{"all": []}``)."""

    conditions = PrettyJSONField(
        required=False, widget=ConditionBuilderWidget(object_type="lead"), help_text=CONDITIONS_HELP
    )

    def clean_conditions(self):
        value = self.cleaned_data.get("conditions")
        return value if value not in (None, "") else {"all": []}
