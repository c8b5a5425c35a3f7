"""Checklists as code: exported, planned and applied like the rest of the configuration."""

import pytest
import yaml

from handoffs.models import Checklist, Handoff
from revops.configuration import config_apply, config_export, config_export_text, config_plan
from revops.models import FieldDefinition
from routing.models import Pool
from tests.factories import OpportunityFactory, RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

ENTRY = {
    "name": "Sales → Billing",
    "conditions": {"all": [{"field": "opportunity.amount", "op": "gte", "value": 10000}]},
    "required_fields": [
        {"field": "billing_contact"},
        {
            "field": "contract_start_date",
            "when": {"all": [{"field": "opportunity.amount", "op": "gte", "value": 50000}]},
        },
    ],
    "attestations": [{"key": "po_checked", "label": "Purchase order checked", "role": "Finance"}],
    "tasks": [{"title": "Set up invoicing", "due_in_days": 2}],
    "receiving_team": "T-BILL",
    "owner_rule": "rep",
    "owner_rep": "R-FIN",
}


@pytest.fixture
def refs():
    TeamFactory(external_id="T-BILL", name="Billing")
    RepFactory(external_id="R-FIN", name="Fin Ance")


def test_a_file_creates_a_checklist_that_exports_as_written(refs):
    plan = config_apply(document={"version": 1, "checklists": [ENTRY]}, source="test")
    assert plan.ok, plan.render()
    checklist = Checklist.objects.get()
    assert checklist.receiving_team.external_id == "T-BILL" and checklist.owner_rep.name == "Fin Ance"
    assert checklist.history.count() == 1
    exported = [e for e in config_export()["checklists"] if e["name"] == "Sales → Billing"][0]
    # conditions come back in the engine's canonical form (decimal values as text)
    assert exported["conditions"] == {"all": [{"field": "opportunity.amount", "op": "gte", "value": "10000"}]}
    assert exported["required_fields"][1]["when"]["all"][0]["value"] == "50000"
    rest = {k: v for k, v in ENTRY.items() if k not in ("conditions", "required_fields")}
    assert {k: exported[k] for k in rest} == rest
    # export → plan is a no-op, and the text round-trips
    assert not config_plan(document=config_export_text(), source="again").changes
    assert yaml.safe_load(config_export_text())["checklists"][0]["name"] == "Sales → Billing"


def test_unknown_fields_and_references_are_plan_errors(refs):
    bad = {**ENTRY, "required_fields": [{"field": "colour"}], "owner_rep": "R-NOBODY"}
    plan = config_plan(document={"version": 1, "checklists": [bad]}, source="test")
    assert not plan.ok
    text = plan.render()
    assert "no rep with external id 'R-NOBODY'" in text
    assert not Checklist.objects.exists()


def test_prune_refuses_to_delete_a_checklist_with_handoffs(refs):
    config_apply(document={"version": 1, "checklists": [ENTRY]}, source="test")
    Handoff.objects.create(checklist=Checklist.objects.get(), opportunity=OpportunityFactory(stage="closed_won"))
    plan = config_plan(document={"version": 1, "prune": True, "checklists": []}, source="test")
    assert not plan.ok and "set is_active: false" in plan.render()


def test_the_docs_example_plans_cleanly():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    block = re.search(r"## `checklists`.*?```yaml\n(.*?)```", text, re.S).group(1)
    TeamFactory(external_id="TEAM-016", name="Billing")
    for key, label, kind in (("renewal_date", "Renewal date", "date"), ("health_score", "Health score", "integer")):
        FieldDefinition.objects.create(
            object_type="account", key=key, label=label, field_type=kind, definition=label, owning_team="CS"
        )
    pool = Pool.objects.create(name="Renewals desk")
    document = {"version": 1, **yaml.safe_load(block)}
    plan = config_plan(document=document, source="docs")
    assert plan.ok, plan.render()
    assert [(c.section, c.action) for c in plan.changes] == [("checklists", "create")] * 2
    assert config_apply(document=document, source="docs").ok
    renewal = Checklist.objects.get(name="CS → Renewal")
    assert (renewal.kind, renewal.days_before, renewal.owner_rule, renewal.owner_pool_id) == (
        "renewal",
        90,
        "pool",
        pool.pk,
    )
    exported = {c["name"]: c for c in config_export()["checklists"]}
    assert exported["CS → Renewal"]["owner_pool"] == "Renewals desk"
