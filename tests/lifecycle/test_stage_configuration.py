"""Configuration as code for lifecycle stages: the documented example applies (stages naming stages
later in the file included), export → apply is a no-op, bad entries are located, and a version is
recorded per saved change."""

from pathlib import Path

import pytest
import yaml

from lifecycle.models import Stage
from revops.configuration import config_apply, config_export_text, config_plan
from revops.models import ObjectVersion
from routing.models import SlaPolicy
from routing.setup_services import sla_policy_save
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "lifecycle-stages-config.yaml"


@pytest.fixture
def policy():
    return sla_policy_save(
        policy=SlaPolicy(name="MQL: 24 hours", target_minutes=24 * 60, conditions={"all": []}), actor=UserFactory()
    )


def test_the_documented_example_applies_and_round_trips(policy):
    plan = config_apply(document=EXAMPLE.read_text())
    assert plan.applied, plan.render()
    mql = Stage.objects.get(key="mql")
    assert (mql.accept_to.name, mql.reject_to.name, mql.sla_policy) == ("Sales accepted", "Recycled", policy.name)
    assert mql.awaits_acceptance and mql.crm_rejected_status == "nurture"
    assert mql.entry_condition == {"field": "lead.score", "op": "gte", "value": 60}
    assert Stage.objects.get(key="recycled").hold_days == 30
    assert ObjectVersion.objects.filter(content_type__model="stage").count() >= 7

    text = config_export_text()
    assert config_plan(document=text).changes == []
    exported = yaml.safe_load(text)["lifecycle_stages"]
    assert [s["name"] for s in exported][:2] == ["New", "MQL"]
    assert exported[1]["sla_policy"] == "MQL: 24 hours"


def test_bad_entries_are_located_and_nothing_is_written(policy):
    document = yaml.safe_load(EXAMPLE.read_text())
    document["lifecycle_stages"][1]["sla_policy"] = "Nope"
    document["lifecycle_stages"][1]["reject_to"] = "Nowhere"
    plan = config_apply(document=yaml.safe_dump(document))
    assert not plan.applied
    problems = {str(p) for p in plan.problems}
    assert "lifecycle_stages[1] 'MQL': sla_policy: no SLA policy is named 'Nope'" in problems  # as docs/lifecycle.md
    assert Stage.objects.count() == 0
