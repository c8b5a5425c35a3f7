"""The engine actions that apply a routing ``Plan`` (``routing.engine``): owner, review item, approval, SLA clock."""

from __future__ import annotations

from revops.engine.types import Action
from revops.models import Lead

from .engine import Outcome, Plan


def plan_actions(plan: Plan, lead: Lead) -> list:
    """The engine actions that apply ``plan`` (all idempotent; see ``revops.engine.actions``)."""
    actions = []
    if getattr(plan.account, "pk", None) != plan.saved_account_id:
        account_ext = getattr(plan.account, "external_id", None)
        actions.append(Action("update_field", {"key": "matched_account", "value": account_ext}))
    feed = {"rule": plan.rule.name if plan.rule is not None else None, "outcome": plan.outcome}
    if plan.owner is not None and plan.outcome in (Outcome.ASSIGNED, Outcome.FALLBACK):
        params = {"owner_id": plan.owner.pk, "feed": feed}
        if plan.pool is not None and plan.pick is not None and plan.pick.rep_id == plan.owner.pk:
            params["pool_id"] = plan.pool.pk
            if plan.pick.weights:
                params["pool_weights"] = {str(k): v for k, v in plan.pick.weights.items()}
        actions.append(Action("assign_owner", params))
    if plan.outcome == Outcome.APPROVAL and plan.approval_owner is not None:
        actions.append(
            Action(
                "request_approval",
                {
                    "action": {"type": "assign_owner", "params": {"owner_id": plan.approval_owner.pk, "feed": feed}},
                    "reason": plan.summary,
                },
            )
        )
    if plan.outcome == Outcome.QUEUED:
        actions.append(
            Action(
                "open_exception",
                {
                    "kind": "routing_review",
                    "title": f"Choose an owner for {lead}"[:200],
                    "reason": plan.summary + " " + " ".join(plan.match.evidence),
                    "expected_action": "Assign the lead to the right rep in the CRM (or here), then resolve.",
                    "severity": "medium",
                    "queue": plan.queue,
                    "owner": "queue_manager",
                    "dedupe_key": f"routing:review:lead:{lead.pk}",
                },
            )
        )
    for item in plan.items:
        actions.append(Action("open_exception", dict(item)))
    if plan.sla and plan.owner is not None:
        # The clock needs the plan's times and policy; why that policy applies is the decision's to keep.
        clock_plan = {key: value for key, value in plan.sla.items() if key != "explanation"}
        params = {"plan": clock_plan, "owner_id": plan.owner.pk}
        if plan.previous_owner_id and plan.previous_owner_id != plan.owner.pk:
            params["replace_running"] = True  # re-routed: the old owner's clock stops, the new one's starts
        actions.append(Action("start_sla_clock", params))
    return actions
