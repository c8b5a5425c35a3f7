"""Dictionary and record services: validation, governance rules and audited history."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from revops import services
from revops.dictionary_defaults import DEFAULT_FIELDS
from revops.models import FieldDefinition, Lead
from revops.validation import validator_for
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor():
    # No password: hashing one (UserFactory) costs most of a second per test.
    return get_user_model().objects.create(username="ops-lead")


def custom_field(**overrides):
    values = {
        "object_type": "lead",
        "key": "buying_stage",
        "label": "Buying stage",
        "definition": "Where the buyer says they are in their purchase.",
        "field_type": "choice",
        "allowed_values": ["research", "evaluation", "purchase"],
        "source_of_truth": "marketing_automation",
        "owning_team": "Marketing",
    }
    return {**values, **overrides}


def test_created_custom_field_is_used_by_the_validator(actor):
    assert "buying_stage" in validator_for("lead").validate({"buying_stage": "evaluation"}).errors

    field = services.dictionary_field_create(actor=actor, **custom_field())

    validator = validator_for("lead")
    accepted = validator.validate({"buying_stage": "evaluation"}, existing={"external_id": "L1"})
    assert accepted.ok
    assert accepted.attributes == {"buying_stage": "evaluation"}
    rejected = validator.validate({"buying_stage": "someday"})
    assert "not an allowed value" in rejected.errors["buying_stage"][0]
    row = field.history.get()
    assert (row.history_type, row.history_user, row.history_change_reason) == (
        "+",
        actor,
        "dictionary: created lead.buying_stage",
    )


@pytest.mark.parametrize(
    "overrides, field_name",
    [
        ({"allowed_values": []}, "allowed_values"),
        ({"allowed_values": ["research", ""]}, "allowed_values"),
        ({"allowed_values": "research"}, "allowed_values"),
        ({"field_type": "text"}, "allowed_values"),  # values on a non-choice field
        ({"key": "Buying Stage"}, "key"),
        ({"object_type": "rep", "key": "user"}, "key"),  # shadows a rep column
        ({"is_core": True}, "key"),  # no such column
        ({"required": "from_stages", "required_from": ["signed"]}, "required_from"),
        ({"object_type": "team"}, "is_core"),  # teams have no custom attributes
        ({"field_type": "reference", "allowed_values": []}, "reference_to"),
    ],
)
def test_invalid_fields_are_refused(actor, overrides, field_name):
    with pytest.raises(ValidationError) as excinfo:
        services.dictionary_field_create(actor=actor, **custom_field(**overrides))
    assert field_name in excinfo.value.message_dict
    assert not FieldDefinition.objects.filter(key=overrides.get("key", "buying_stage")).exclude(is_core=True).exists()


def test_duplicate_key_is_refused(actor):
    services.dictionary_field_create(actor=actor, **custom_field())
    with pytest.raises(ValidationError):
        services.dictionary_field_create(actor=actor, **custom_field(label="Again"))


def test_update_records_who_and_what_and_skips_no_op_saves(actor):
    field = FieldDefinition.objects.get(object_type="lead", key="score")
    services.dictionary_field_update(
        field=field, actor=actor, definition="Fit and intent, 0-100.", owning_team="RevOps"
    )

    field.refresh_from_db()
    assert field.definition == "Fit and intent, 0-100."
    latest = field.history.latest()
    assert latest.history_user == actor
    assert latest.history_change_reason == "dictionary: changed definition, owning_team of lead.score"
    rows = field.history.count()
    services.dictionary_field_update(field=field, actor=actor, definition="Fit and intent, 0-100.")
    assert field.history.count() == rows


@pytest.mark.parametrize("change", [{"key": "lead_score"}, {"field_type": "decimal"}, {"is_core": False}])
def test_core_entries_keep_their_key_and_type(actor, change):
    field = FieldDefinition.objects.get(object_type="lead", key="score")
    with pytest.raises(ValidationError) as excinfo:
        services.dictionary_field_update(field=field, actor=actor, **change)
    assert "core column" in str(excinfo.value)
    field.refresh_from_db()
    assert (field.key, field.field_type, field.is_core) == ("score", "integer", True)


def test_custom_field_in_use_cannot_be_renamed(actor):
    field = services.dictionary_field_create(actor=actor, **custom_field())
    LeadFactory(attributes={"buying_stage": "research"})
    with pytest.raises(ValidationError, match="renaming it would orphan"):
        services.dictionary_field_update(field=field, actor=actor, key="stage_of_buying")


def test_update_refuses_unknown_fields(actor):
    field = FieldDefinition.objects.get(object_type="lead", key="score")
    with pytest.raises(TypeError):
        services.dictionary_field_update(field=field, actor=actor, colour="red")


def test_core_entries_cannot_be_deleted(actor):
    field = FieldDefinition.objects.get(object_type="opportunity", key="stage")
    with pytest.raises(ValidationError) as excinfo:
        services.dictionary_field_delete(field=field, actor=actor)
    assert "core column" in excinfo.value.messages[0]
    assert "deprecated" in excinfo.value.messages[0]
    assert FieldDefinition.objects.filter(pk=field.pk).exists()
    assert not field.history.filter(history_type="-").exists()


def test_custom_field_in_use_cannot_be_deleted_until_cleared(actor):
    field = services.dictionary_field_create(actor=actor, **custom_field())
    lead = LeadFactory(attributes={"buying_stage": "research"})
    with pytest.raises(ValidationError, match="1 lead record"):
        services.dictionary_field_delete(field=field, actor=actor)

    Lead.objects.filter(pk=lead.pk).update(attributes={})
    services.dictionary_field_delete(field=field, actor=actor)

    assert not FieldDefinition.objects.filter(key="buying_stage").exists()
    deleted = FieldDefinition.history.filter(key="buying_stage", history_type="-").get()
    assert deleted.history_user == actor


def test_load_defaults_creates_only_missing_entries_with_history(actor):
    total = FieldDefinition.objects.count()
    assert total >= len(DEFAULT_FIELDS)
    FieldDefinition.objects.filter(object_type="opportunity", key__in=["use_case", "next_step"]).delete()
    FieldDefinition.objects.filter(object_type="lead", key="score").update(definition="Edited by RevOps.")

    created = services.dictionary_load_defaults(actor=actor)

    assert sorted(f.key for f in created) == ["next_step", "use_case"]
    assert FieldDefinition.objects.count() == total
    assert FieldDefinition.objects.get(object_type="lead", key="score").definition == "Edited by RevOps."
    row = FieldDefinition.objects.get(object_type="opportunity", key="use_case").history.get()
    assert (row.history_user, row.history_change_reason) == (actor, "dictionary: default entries")

    assert services.dictionary_load_defaults(actor=actor) == []
    assert FieldDefinition.objects.count() == total


def test_record_save_validates_and_audits(actor):
    lead = LeadFactory(status="new")
    lead.status = "working"
    services.record_save(instance=lead, actor=actor, reason="triage")
    latest = lead.history.latest()
    assert (latest.status, latest.history_user, latest.history_change_reason) == ("working", actor, "triage")

    lead.status = "bogus"
    with pytest.raises(ValidationError):
        services.record_save(instance=lead, actor=actor)
    lead.refresh_from_db()
    assert lead.status == "working"


def test_record_services_refuse_non_records(actor):
    field = FieldDefinition.objects.first()
    with pytest.raises(TypeError):
        services.record_save(instance=field, actor=actor)
