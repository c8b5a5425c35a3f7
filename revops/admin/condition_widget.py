"""The condition builder: edit a condition tree (``revops.conditions``) without typing JSON.

``ConditionBuilderWidget`` renders the JSON textarea as before plus a builder above it
(``revops/static/revops/condition_builder.js``): groups ("all"/"any", optionally negated) of
comparisons, each a field picked from the data dictionary (own fields, fields one relation away,
computed fields), an operator offered for the field's type and a value widget for that type. The
builder writes the tree into the textarea on every change, so the form posts JSON exactly as
before and is validated by ``clean_condition``; a "JSON" toggle shows the textarea for power users
(and configuration as code). A tree the builder cannot show (invalid JSON, an unknown field, an
operator the field does not take, a double "not") opens in JSON with a note saying why.

The builder reads its vocabulary from ``condition_schema``, embedded as a JSON data block (no
inline script: the portal's CSP allows scripts only from static files). Without JavaScript the
textarea works as before.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from revops import conditions
from revops.conditions.schema import (
    DAY_OPS,
    EVENT_OPS,
    LIST_OPS,
    NO_VALUE_OPS,
    RELATIONS,
    TEMPORAL,
    Field,
    ops_for,
)

# Operator labels as the builder shows them (the plain-language renderer's phrases without values).
OP_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is not one of",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "between": "is between",
    "contains": "contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "changed": "changed",
    "changed_to": "changed to",
    "older_than_days": "is more than … days ago",
    "within_days": "is within … days of today",
    "in_past": "is in the past",
    "in_future": "is in the future",
    "within_next_days": "is within the next … days",
    "within_last_days": "is within the last … days",
}
TEMPORAL_LABELS = {
    "eq": "is on",
    "ne": "is not on",
    "gt": "is after",
    "gte": "is on or after",
    "lt": "is before",
    "lte": "is on or before",
}
MULTI_CHOICE_LABELS = {"contains": "has"}
# The builder's order of operators in the picker: the common ones first.
OP_ORDER = (
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "in_past",
    "in_future",
    "within_last_days",
    "within_next_days",
    "within_days",
    "older_than_days",
    "is_empty",
    "is_not_empty",
    "changed",
    "changed_to",
)


def _op_labels(field_type: str) -> dict[str, str]:
    labels = dict(OP_LABELS)
    if field_type in TEMPORAL:
        labels.update(TEMPORAL_LABELS)
    if field_type == "multi_choice":
        labels.update(MULTI_CHOICE_LABELS)
    return labels


def _entry(path: str, field: Field, group: str, *, own: bool) -> dict[str, Any]:
    usable = ops_for(field) if own else ops_for(field) - EVENT_OPS
    labels = _op_labels(field.field_type)
    return {
        "path": path,
        "label": field.label,
        "group": group,
        "type": field.field_type,
        "ops": [[op, labels[op]] for op in OP_ORDER if op in usable],
        "choices": [str(value) for value in field.allowed_values],
    }


def _by_label(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda e: e["label"].lower())


def object_fields(object_type: str, fields: dict[tuple[str, str], Field]) -> list[dict[str, Any]]:
    """The fields a condition of ``object_type`` can read, grouped as the builder's picker shows them."""
    noun = object_type.replace("_", " ").capitalize()
    own = [(key, spec) for (obj, key), spec in fields.items() if obj == object_type]
    entries = _by_label([_entry(f"{object_type}.{key}", spec, f"{noun} fields", own=True) for key, spec in own])
    for relation, target in RELATIONS.get(object_type, {}).items():
        ref = fields.get((object_type, relation))
        relation_label = ref.label if ref else relation.replace("_", " ").capitalize()
        group = f"{relation_label} ({target.replace('_', ' ')})"
        entries += _by_label(
            [
                _entry(f"{object_type}.{relation}.{key}", spec, group, own=False)
                for (obj, key), spec in fields.items()
                if obj == target
            ]
        )
    computed = []
    for spec in conditions.computed_fields(object_type):
        if (object_type, spec.key) in fields:
            continue  # the dictionary wins over a computed field of the same key
        field = Field(
            object_type=object_type,
            key=spec.key,
            label=spec.label,
            field_type=spec.field_type,
            is_core=False,
            computed=True,
        )
        computed.append(_entry(f"{object_type}.{spec.key}", field, "Computed", own=True))
    return entries + _by_label(computed)


def condition_schema(object_types: tuple[str, ...], fields=None) -> dict[str, Any]:
    """What the builder needs: fields (with their operators and choices) per object type, and value kinds."""
    from revops.conditions.schema import normalise_fields

    loaded = normalise_fields(conditions.load_fields() if fields is None else fields)
    return {
        "objects": {object_type: object_fields(object_type, loaded) for object_type in object_types},
        "no_value": sorted(NO_VALUE_OPS),
        "lists": sorted(LIST_OPS),
        "days": sorted(DAY_OPS),
    }


def all_object_types() -> tuple[str, ...]:
    from revops.models.dictionary import ObjectType

    return tuple(value for value, _label in ObjectType.choices)


class ConditionBuilderWidget(forms.Textarea):
    """A condition's JSON textarea with the builder above it (see the module docstring).

    ``object_type`` fixes the record type (routing rules: ``"lead"``); ``object_type_field`` names
    the form field that chooses it (automations: ``"object_type"``), whose select the builder follows.
    """

    template_name = "admin/revops/widgets/condition_builder.html"

    class Media:
        css = {"all": ("revops/condition_builder.css",)}
        js = ("revops/condition_builder.js",)

    def __init__(self, attrs=None, *, object_type: str = "", object_type_field: str = ""):
        super().__init__({"rows": 10, "cols": 90, "class": "rv-code", **(attrs or {})})
        self.object_type = object_type
        self.object_type_field = object_type_field

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        object_types = (self.object_type,) if self.object_type else all_object_types()
        widget_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["builder"] = {
            "schema": condition_schema(object_types),
            "schema_id": f"{widget_id}-schema",
            "object_type": self.object_type or object_types[0],
            "object_type_input": f"id_{self.object_type_field}" if self.object_type_field else "",
        }
        return context

    def render(self, name, value, attrs=None, renderer=None):
        # The project's template engine: the form renderer's own does not search templates/.
        return mark_safe(render_to_string(self.template_name, self.get_context(name, value, attrs)))
