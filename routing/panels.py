"""What routing adds to a lead's Why page: its latest routing decision (and, when its owner assignment
was reverted, who reverted it, when and why), and its running SLA clock."""

from __future__ import annotations

from revops.models import RunRevert

from .admin.helpers import decision_panel
from .models import SlaClock
from .selectors import lead_latest_decision


def why_decision_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """For a lead: its latest routing decision explained (outcome, rule, owner, match, candidates, SLA)."""
    if object_type != "lead":
        return None
    decision = lead_latest_decision(object_id)
    if decision is None:
        return None
    return {**decision_panel(decision, collapse_rules=True), "reverted": decision_revert(decision.run_id)}


def decision_revert(run_id) -> dict | None:
    """When the decision's owner assignment was reverted: who, when, why and the owner it went back to."""
    if run_id is None:
        return None
    revert = (
        RunRevert.objects.filter(run_id=run_id, reverted__gt=0).select_related("actor").order_by("-created_at").first()
    )
    if revert is None:
        return None
    line = next(
        (x for x in revert.lines or [] if x.get("action") == "assign_owner" and x.get("outcome") == "revert"), None
    )
    if line is None:
        return None
    return {
        "when": revert.created_at,
        "who": (revert.actor.get_full_name() or revert.actor.get_username()) if revert.actor else "the system",
        "reason": revert.reason,
        "owner": line.get("before", "").removeprefix("owner: "),
    }


def why_sla_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """For a lead with a running response SLA clock: the clock, its owner and due time."""
    if object_type != "lead":
        return None
    clock = SlaClock.objects.filter(lead_id=object_id, status=SlaClock.Status.RUNNING).select_related("owner").first()
    return {"clock": clock} if clock is not None else None
