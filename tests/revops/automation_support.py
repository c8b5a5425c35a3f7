"""Helpers for admin tests of automations: a small registered kind, automations and runs made directly."""

from __future__ import annotations

from django.utils import timezone

from revops.engine import services as automations
from revops.engine.kinds import KINDS, AutomationKind, register
from revops.models import AppliedAction, AutomationRun

TEST_KIND = "admin_test_follow_up"


def ensure_test_kind() -> str:
    """Register a kind for admin tests (idempotent); it takes any parameters."""
    if TEST_KIND not in KINDS:

        @register
        class AdminTestKind(AutomationKind):
            key = TEST_KIND
            label = "Admin test follow-up"
            object_types = ()

            def validate_config(self, config, *, object_type):
                return dict(config or {})

    return TEST_KIND


COUNTRY_AND_SIZE = {
    "all": [
        {"field": "lead.country", "op": "in", "value": ["US", "CA"]},
        {"field": "lead.score", "op": "gte", "value": 50},
    ]
}


def make_automation(*, actor=None, name="Hot lead follow-up", conditions=None, **fields):
    ensure_test_kind()
    values = {
        "purpose": "Follow up quickly on strong North American leads.",
        "kind": TEST_KIND,
        "object_type": "lead",
        "trigger": "updated",
        "conditions": COUNTRY_AND_SIZE if conditions is None else conditions,
        **fields,
    }
    return automations.automation_create(actor=actor, name=name, **values)


def explanation_for(country="US", score=80):
    """A stored explanation as the engine writes it: the condition explain tree under "conditions"."""
    ok_country = country in ("US", "CA")
    ok_score = score >= 50
    return {
        "conditions": {
            "op": "all",
            "result": ok_country and ok_score,
            "conditions": [
                {
                    "field": "lead.country",
                    "label": "Country",
                    "op": "in",
                    "expected": ["US", "CA"],
                    "actual": country,
                    "result": ok_country,
                    "text": "Country is one of US, CA",
                },
                {
                    "field": "lead.score",
                    "label": "Lead score",
                    "op": "gte",
                    "expected": 50,
                    "actual": score,
                    "result": ok_score,
                    "text": "Lead score ≥ 50",
                },
            ],
        }
    }


def make_run(automation, record, *, key, mode="live", outcome="fired", when=None, actions=(), **fields):
    """An AutomationRun (and its AppliedAction rows) written directly, as the engine would."""
    run = AutomationRun.objects.create(
        automation=automation,
        version=automation.versions.get(number=automation.version),
        trigger_key=key,
        mode=mode,
        object_type=record._meta.model_name,
        object_id=record.pk,
        external_id=getattr(record, "external_id", ""),
        outcome=outcome,
        explanation=fields.pop("explanation", explanation_for()),
        summary=fields.pop("summary", "Strong North American lead: a follow-up task was created."),
        expected_next=fields.pop("expected_next", "The owner calls the lead within 1 hour."),
        duration_ms=3.2,
        **fields,
    )
    if when is not None:
        AutomationRun.objects.filter(pk=run.pk).update(created_at=when)
        run.created_at = when
    for index, (action, status, before, after) in enumerate(actions):
        AppliedAction.objects.create(
            run=run,
            index=index,
            action=action,
            object_type=record._meta.model_name,
            object_id=record.pk,
            params={},
            before=before,
            after=after,
            status=status,
        )
    return run


def now():
    return timezone.now()
