"""The automation backlog: priority and the decision matrix on known scores, a ready candidate turned
into a draft automation (and only a ready one), in the services and the admin."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from revops.engine.backlog import candidate_draft, candidate_outcome, candidate_priority, candidate_save
from revops.models import Automation, AutomationCandidate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def candidate(**scores):
    values = {
        "name": "Call back demo requests",
        "process": "An SDR checks the demo-request inbox twice a day and creates a call task.",
        "object_type": "lead",
        "kind": "create_task",
        "volume_per_month": 400,
        "risk": 2,
        "rule_clarity": 5,
        "data_readiness": 4,
        "exception_clarity": 4,
        "user_impact": 5,
        "maintenance_cost": 2,
        **scores,
    }
    return candidate_save(candidate=AutomationCandidate(**values), actor=UserFactory())


def test_priority_and_the_decision_matrix():
    ready = candidate()
    assert candidate_outcome(ready).label == "Ready to automate"
    assert candidate_priority(ready) == 86
    worst = AutomationCandidate(
        volume_per_month=0,
        risk=5,
        rule_clarity=1,
        data_readiness=1,
        exception_clarity=1,
        user_impact=1,
        maintenance_cost=5,
    )
    best = AutomationCandidate(
        volume_per_month=5000,
        risk=1,
        rule_clarity=5,
        data_readiness=5,
        exception_clarity=5,
        user_impact=5,
        maintenance_cost=1,
    )
    assert (candidate_priority(worst), candidate_priority(best)) == (0, 100)
    design = candidate_outcome(AutomationCandidate(risk=2, rule_clarity=3, data_readiness=2, exception_clarity=2))
    assert design.label == "Needs process design"
    assert design.reasons == (
        "agree the rule so anyone could write it down",
        "get the data it needs into the dictionary and filled",
        "name who handles what it cannot finish",
    )
    human = candidate_outcome(AutomationCandidate(risk=5, rule_clarity=2, data_readiness=5, exception_clarity=5))
    assert human.label == "Keep human" and "judgement every time" in human.reasons[0]


def test_a_ready_candidate_becomes_a_draft_automation_once():
    asker = UserFactory(username="sam.sdr")
    ready = candidate(requested_by=asker)
    automation = candidate_draft(candidate=ready, actor=UserFactory())
    assert (automation.mode, automation.kind, automation.config["title"]) == ("draft", "create_task", ready.name)
    assert automation.rule_owner == asker and automation.purpose == ready.process
    ready.refresh_from_db()
    assert ready.status == "drafted" and ready.automation == automation
    with pytest.raises(ValidationError, match="already has its draft"):
        candidate_draft(candidate=ready, actor=UserFactory())
    unclear = candidate(name="Qualify inbound", rule_clarity=3)
    with pytest.raises(ValidationError, match="not ready to automate"):
        candidate_draft(candidate=unclear, actor=UserFactory())
    with pytest.raises(ValidationError, match="not an automation kind"):
        candidate(name="Other", kind="made_up")


def test_the_backlog_in_the_admin(admin_client):
    ready = candidate()
    listing = admin_client.get(reverse("admin:revops_automationcandidate_changelist")).content.decode()
    assert "Ready to automate" in listing and "86 / 100" in listing
    page = admin_client.get(reverse("admin:revops_automationcandidate_change", args=[ready.pk])).content.decode()
    assert "Create draft automation" in page
    response = admin_client.post(reverse("admin:revops_automationcandidate_draft", args=[ready.pk]))
    automation = Automation.objects.get(name=ready.name)
    assert response.url == reverse("admin:revops_automation_change", args=[automation.pk])
