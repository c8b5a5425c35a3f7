"""Configuration as code for duplicate rules: apply creates through the service, export → apply is a
no-op, and a bad field is located in the file."""

import pytest

from dataquality.models import DuplicateRule, MatchField
from revops.configuration import config_apply, config_export, config_export_text, config_plan

pytestmark = pytest.mark.django_db

DOCUMENT = """
version: 1
duplicate_rules:
  - name: "Leads: same person"
    object_type: lead
    action: block
    threshold: 100
    fields:
      - {field: email, method: normalised, weight: 100}
      - {field: name, method: fuzzy, similarity: 88, weight: 50}
      - {field: company, method: fuzzy, weight: 50, blocking: false}
"""


def test_apply_creates_the_rule_and_export_round_trips():
    plan = config_apply(document=DOCUMENT)
    assert plan.applied, plan.render()
    saved = DuplicateRule.objects.get(name="Leads: same person")
    assert (saved.object_type, saved.action, saved.threshold) == ("lead", "block", 100)
    assert list(
        MatchField.objects.filter(rule=saved).values_list("field", "method", "similarity", "weight", "blocking")
    ) == [
        ("email", "normalised", 90, 100, True),
        ("name", "fuzzy", 88, 50, True),
        ("company", "fuzzy", 90, 50, False),
    ]
    assert config_export()["duplicate_rules"][0]["fields"][2] == {
        "field": "company",
        "method": "fuzzy",
        "blocking": False,
    }
    text = config_export_text()
    assert config_plan(document=text).changes == []
    DuplicateRule.objects.all().delete()
    assert config_apply(document=text).applied
    assert config_export_text() == text


def test_a_bad_field_is_reported_with_its_place_and_nothing_is_written():
    plan = config_apply(document=DOCUMENT.replace("field: name", "field: nickname"))
    assert not plan.applied
    assert "'nickname' is not a field of the lead" in plan.render()
    assert not DuplicateRule.objects.exists()


def test_the_contacts_example_of_the_docs_applies_as_written():
    from pathlib import Path

    from django.conf import settings

    doc = (Path(settings.BASE_DIR) / "docs" / "dataquality.md").read_text()
    block = next(b for b in doc.split("```yaml\n")[1:] if "Contacts: same person" in b).split("```", 1)[0]
    plan = config_apply(document="version: 1\n" + block)
    assert plan.applied, plan.render()
    saved = DuplicateRule.objects.get(name="Contacts: same person")
    assert saved.object_type == "contact"
    assert list(MatchField.objects.filter(rule=saved).values_list("field", flat=True)) == ["email", "phone", "name"]
