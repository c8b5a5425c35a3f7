"""The default dictionary covers every core column with the right type, plus the handoff fields."""

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models

from revops.models import FieldDefinition

pytestmark = pytest.mark.django_db

INTERNAL = {"id", "created_at", "updated_at", "attributes", "raw_values", "user", "created_by_automation"}
EXPECTED_TYPE = {
    models.EmailField: "email",
    models.BooleanField: "boolean",
    models.DateTimeField: "datetime",
    models.DateField: "date",
    models.DecimalField: "decimal",
    models.PositiveIntegerField: "integer",
    models.IntegerField: "integer",
    models.ForeignKey: "reference",
    models.JSONField: "multi_choice",
}


def _expected_type(field):
    if getattr(field, "choices", None):
        return "choice"
    for cls, kind in EXPECTED_TYPE.items():
        if isinstance(field, cls):
            return kind
    return "text"


@pytest.mark.parametrize("object_type", ["team", "rep", "account", "lead", "opportunity", "activity", "task"])
def test_every_core_column_is_in_the_dictionary_with_its_type(object_type):
    model = apps.get_model("revops", object_type)
    entries = {f.key: f for f in FieldDefinition.objects.filter(object_type=object_type, is_core=True)}
    for field in model._meta.concrete_fields:
        if field.name in INTERNAL:
            continue
        assert field.name in entries, f"{object_type}.{field.name} is missing from the default dictionary"
        assert entries[field.name].field_type == _expected_type(field), f"{object_type}.{field.name}"
        if field.is_relation:
            assert entries[field.name].reference_to == field.related_model._meta.model_name
        if getattr(field, "choices", None):
            assert entries[field.name].allowed_values == [value for value, _ in field.choices]


def test_handoff_fields_are_custom_and_required_once_won():
    keys = {
        "contract_start_date",
        "products_purchased",
        "use_case",
        "success_criteria",
        "implementation_notes",
        "billing_contact",
        "executive_sponsor",
        "sales_risks_promises",
    }
    entries = FieldDefinition.objects.filter(object_type="opportunity", key__in=keys)
    assert {e.key for e in entries} == keys
    for entry in entries:
        assert not entry.is_core
        assert entry.required == "from_stages"
        assert entry.required_from == ["closed_won"]
        assert entry.definition and entry.owning_team


@pytest.mark.parametrize(
    ("fields", "error_key"),
    [
        ({"field_type": "choice", "allowed_values": []}, "allowed_values"),
        ({"field_type": "text", "allowed_values": ["a"]}, "allowed_values"),
        ({"field_type": "reference"}, "reference_to"),
        ({"field_type": "text", "reference_to": "rep"}, "reference_to"),
        ({"field_type": "text", "required": "from_stages"}, "required_from"),
        ({"field_type": "text", "key": "Bad Key"}, "key"),
    ],
)
def test_inconsistent_entries_are_refused(fields, error_key):
    data = {"object_type": "lead", "key": "x_field", "label": "X", "definition": "d", "owning_team": "RevOps"}
    entry = FieldDefinition(**{**data, **fields})
    with pytest.raises(ValidationError) as exc:
        entry.full_clean()
    assert error_key in exc.value.message_dict
