"""Configuration as code for scoring models: apply creates through the service, export → apply is a
no-op, and bad rules are located in the file."""

from pathlib import Path

import pytest
import yaml

from lifecycle.demo import demo_scoring_spec
from lifecycle.models import EngagementRule, FitRule, ScoringModel
from revops.configuration import config_apply, config_export, config_export_text, config_plan

from .support import BIG

pytestmark = pytest.mark.django_db

DOCUMENT = """
version: 1
scoring_models:
  - name: Inbound
    status: shadow
    agreement_points: 15
    fit_rules:
      - condition: {field: lead.matched_account.employees, op: gte, value: 500}
        points: 20
      - label: Free-mail address
        condition: {field: lead.email, op: ends_with, value: "@gmail.com"}
        points: -10
    engagement_rules:
      - label: Pricing interest
        activity_kind: call
        subject_contains: pricing
        points: 20
        window_days: 30
        decay: half_life
        half_life_days: 7
        cap: 30
"""


def test_apply_creates_the_model_and_export_round_trips():
    plan = config_apply(document=DOCUMENT)
    assert plan.applied, plan.render()
    model = ScoringModel.objects.get(name="Inbound")
    assert (model.status, model.agreement_points) == ("shadow", 15)
    assert [(r.condition, r.points) for r in FitRule.objects.filter(model=model)][0] == (BIG, 20)
    assert FitRule.objects.get(model=model, label="Free-mail address").points == -10
    assert EngagementRule.objects.get(model=model).half_life_days == 7

    exported = config_export()["scoring_models"]
    assert exported[0]["fit_rules"][1] == {
        "label": "Free-mail address",
        "condition": {"field": "lead.email", "op": "ends_with", "value": "@gmail.com"},
        "points": -10,
    }
    text = config_export_text()
    assert config_plan(document=text).changes == []
    ScoringModel.objects.all().delete()
    assert config_apply(document=text).applied
    assert config_export_text() == text


def test_updates_show_old_and_new_values_and_bad_rules_are_located():
    config_apply(document=DOCUMENT)
    document = yaml.safe_load(DOCUMENT)
    document["scoring_models"][0]["fit_rules"][0]["points"] = 25
    plan = config_plan(document=document)
    [change] = plan.changes
    assert change.action == "update" and [f[0] for f in change.fields] == ["fit_rules"]

    document["scoring_models"][0]["fit_rules"][0]["condition"] = {"field": "lead.nope", "op": "eq", "value": 1}
    document["scoring_models"][0]["engagement_rules"][0]["decay"] = "half_life"
    document["scoring_models"][0]["engagement_rules"][0]["half_life_days"] = None
    plan = config_apply(document=document)
    assert not plan.applied
    assert any("scoring_models[0] 'Inbound'" in str(p) and "fit_rules[0]" in str(p) for p in plan.problems), (
        plan.render()
    )
    assert FitRule.objects.get(model__name="Inbound", label="").points == 20  # nothing written


def test_the_demo_model_applies_as_configuration():
    spec = demo_scoring_spec()
    document = {"version": 1, "scoring_models": [{"name": "Demo", "status": "live", **spec}]}
    plan = config_apply(document=document)
    assert plan.applied, plan.render()
    assert config_plan(document=config_export_text()).changes == []


def test_the_documented_example_applies_and_round_trips():
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "scoring-config.yaml"
    plan = config_apply(document=example.read_text())
    assert plan.applied, plan.render()
    model = ScoringModel.objects.get(name="Inbound score")
    assert (model.fit_rules.count(), model.engagement_rules.count()) == (3, 3)
    assert config_plan(document=example.read_text()).changes == []
