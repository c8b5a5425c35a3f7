"""The engine's part of the demo: the governed automations of the demo org, created through the engine's services.

``demo_automations_ensure`` creates the four example automations (live, shadow and high-risk
examples of the built-in kinds), idempotent by name, owned by the demo's RevOps lead (rule owner)
and RevOps on-call (failure owner), and makes sure the demo queues they name exist first
(``exceptions.demo``). There is one stale-commit rule, not one per region: a forecast category is a
guarded field (``monitors.actions``), so each proposed downgrade waits for the manager of the deal
owner's team, in that team's queue, and one deal has at most one open approval about it. Nothing here runs an automation: the runs, tasks, items and approvals of the demo come from
these automations reacting to the demo's events (``revops.demo_records.crm``, routing's arrivals).
"""

from __future__ import annotations

from django.utils import timezone

from exceptions.demo import demo_queues_ready
from revops.demo_records.builders import demo_revops_people
from revops.models import AppliedAction, Automation, AutomationRun

from .revert import run_revert
from .services import automation_create, automation_set_mode

DEMO_EXCEPTION_QUEUE = "RevOps triage"
STALE_COMMIT_NAME = "Downgrade stale commit deals"
# Regional copies shipped before forecast categories were guarded; a load retires them (see below).
RETIRED_REGIONAL_NAMES = (f"{STALE_COMMIT_NAME} (NA)", f"{STALE_COMMIT_NAME} (EMEA)")


def demo_automation_specs() -> list[dict]:
    """The demo's automations: live, shadow and high-risk examples of the built-in kinds."""
    return [
        {
            "name": "Hot lead follow-up task",
            "purpose": "A new lead scoring 80 or more gets a call from its owner within two hours.",
            "kind": "create_task",
            "object_type": "lead",
            "trigger": "updated",
            "conditions": {
                "all": [
                    {"field": "lead.score", "op": "gte", "value": 80},
                    {"field": "lead.status", "op": "eq", "value": "new"},
                ]
            },
            "config": {"title": "Call the lead", "due_in_hours": 2, "assignee": "owner"},
            "mode": "live",
            "downstream_effect": "A task for the owner appears in the CRM through the changes feed.",
            "rollback_notes": "Cancel the tasks it created (they name the automation).",
        },
        {
            "name": "Missing country prompt",
            "purpose": "Routing needs a country and a company; new leads without them get a task for the owner.",
            "kind": "required_fields",
            "object_type": "lead",
            "trigger": "created",
            "conditions": {"all": [{"field": "lead.status", "op": "in", "value": ["new", "working"]}]},
            "config": {"fields": ["country", "company"], "task": True, "exception": False, "due_in_hours": 24},
            "mode": "live",
        },
        {
            "name": "Enterprise lead alert",
            "purpose": "Leads matched to enterprise accounts (1,000+ employees) deserve a human look (in shadow).",
            "kind": "alert",
            "object_type": "lead",
            "trigger": "updated",
            "conditions": {"all": [{"field": "lead.matched_account.employees", "op": "gte", "value": 1000}]},
            "config": {
                "title": "Enterprise lead {record}",
                "exception_kind": "hygiene_alert",
                "severity": "medium",
                "expected_action": "Check the account match and hand the lead to the named account owner.",
                "owner": "rule_owner",
            },
            "mode": "shadow",
        },
        {
            "name": STALE_COMMIT_NAME,
            "purpose": "Deals in commit with no activity for 30 days move to best case — proposed only: the "
            "manager of the deal owner's team approves each change in the team's queue.",
            "kind": "field_update",
            "object_type": "opportunity",
            "trigger": "updated",
            "risk": "high",
            "conditions": {
                "all": [
                    {"field": "opportunity.forecast_category", "op": "eq", "value": "commit"},
                    {"field": "opportunity.last_activity_at", "op": "older_than_days", "value": 30},
                ]
            },
            "config": {"set": {"forecast_category": "best_case"}},
            "mode": "live",
        },
    ]


def demo_specs_ensure(specs: list[dict], *, actor) -> list[Automation]:
    """Create the automations of ``specs`` not there yet (by name), owned by the demo's RevOps people,
    their exceptions in the demo's queue unless a spec names one; return the ones created."""
    demo_queues_ready(actor=actor)  # their exception paths: an automation may only name an existing queue
    rule_owner, failure_owner = demo_revops_people()
    existing = set(Automation.objects.values_list("name", flat=True))
    created = []
    for spec in specs:
        if spec["name"] in existing:
            continue
        fields = {"exception_queue": DEMO_EXCEPTION_QUEUE, **spec}
        created.append(
            automation_create(
                actor=actor,
                reason="demo automation",
                rule_owner=rule_owner,
                system_owner=rule_owner,
                failure_owner=failure_owner,
                last_reviewed_at=timezone.localdate(),
                **fields,
            )
        )
    return created


def demo_automations_ensure(*, actor) -> list[Automation]:
    """Create the demo automations that do not exist yet (by name); return the ones created."""
    return demo_specs_ensure(demo_automation_specs(), actor=actor)


def demo_regional_automations_retire(*, actor) -> list[Automation]:
    """Retire the per-region stale-commit copies an older demo created (one rule now covers every
    deal); return the ones retired. Their open approvals stay valid until decided."""
    retired = []
    for automation in Automation.objects.filter(name__in=RETIRED_REGIONAL_NAMES).exclude(mode=Automation.Mode.RETIRED):
        retired.append(
            automation_set_mode(
                automation=automation,
                mode=Automation.Mode.RETIRED,
                actor=actor,
                reason="demo: one stale-commit rule, approved by each deal owner's manager",
            )
        )
    return retired


def engine_demo_build(context: dict) -> None:
    """Demo builder: the demo's automations (idempotent; they react to the events of the later builders)."""
    demo_automations_ensure(actor=context["actor"])
    demo_regional_automations_retire(actor=context["actor"])


DEMO_REVERT_AUTOMATION = "Hot lead follow-up task"
DEMO_REVERT_REASON = "Demo: the lead was a test submission, so its follow-up call is not needed."


def engine_demo_revert(context: dict) -> None:
    """Demo builder (after the CRM's morning sync): on a fresh org, revert one run of the hot-lead follow-up
    automation through the real revert service, so its lead's Why page shows a revert (task cancelled)."""
    if not context.get("fresh"):
        return
    run = (
        AutomationRun.objects.filter(
            automation__name=DEMO_REVERT_AUTOMATION,
            mode=Automation.Mode.LIVE,
            applied__action="create_task",
            applied__status=AppliedAction.Status.APPLIED,
        )
        .order_by("pk")
        .first()
    )
    if run is None:
        return
    rule_owner, _failure_owner = demo_revops_people()
    revert = run_revert(run=run, actor=rule_owner or context["actor"], reason=DEMO_REVERT_REASON)
    context["details"]["runs:reverted"] = 1 if revert.reverted else 0
