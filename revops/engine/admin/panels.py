"""What the engine adds to pages of the layers below it: the runs on a record's Why page, the run that
opened an exception item, the description of a prepared action on an approval's page, and the reverts
of runs on a record (who, when, why, linked to the original run)."""

from __future__ import annotations

from django.urls import reverse

from revops.display import FieldText
from revops.models import AutomationRun, HeldEvent, RunRevert

from ..registry import action_label
from ..revert import OUTCOME_LABELS
from ..selectors import record_runs
from .explain import action_changes, run_context

WHY_RUN_LIMIT = 200


def why_runs_panel(object_type: str, object_id: int, *, request=None) -> dict:
    """Every run on the record, newest first, explained (always shown: "no automation has run" too)."""
    runs = list(record_runs(object_type=object_type, object_id=object_id, limit=WHY_RUN_LIMIT))
    text = FieldText()
    contexts, seen = [], set()
    for run in runs:
        context = run_context(run, text)
        # One card per automation: its newest run; the earlier ones (a re-route, a rescan) stay folded.
        context["earlier"] = run.automation_id in seen
        seen.add(run.automation_id)
        contexts.append(context)
    return {
        "runs": contexts,
        "truncated": len(runs) >= WHY_RUN_LIMIT,
        "limit": WHY_RUN_LIMIT,
        "held": held_on_record(object_type, object_id),
    }


def held_on_record(object_type: str, object_id: int, *, limit: int = 20) -> list[dict]:
    """Events of this record held while an automation was paused, newest first, with the decision in words."""
    rows = (
        HeldEvent.objects.filter(object_type=object_type, object_id=object_id)
        .select_related("automation", "decided_by")
        .order_by("-arrived_at", "-pk")[:limit]
    )
    out = []
    for row in rows:
        who = (row.decided_by.get_full_name() or row.decided_by.get_username()) if row.decided_by else "someone"
        if row.decision == HeldEvent.Decision.PENDING:
            decision = "held: waiting for the resume"
        else:
            verb = "processed" if row.decision == HeldEvent.Decision.PROCESS else "skipped"
            decision = f"{verb} on resume by {who}" + (f" ({row.decision_reason})" if row.decision_reason else "")
            if row.note:
                decision += f" — {row.note}"
        out.append(
            {
                "automation": row.automation.name,
                "automation_id": row.automation_id,
                "arrived_at": row.arrived_at,
                "because": row.get_held_because_display(),
                "decision": decision,
                "decided_at": row.decided_at,
            }
        )
    return out


def item_run_panel(item) -> dict | None:
    """The run that opened ``item``, as the same run card the Why page shows (None without a run)."""
    if not item.run_id:
        return None
    run = (
        AutomationRun.objects.filter(pk=item.run_id)
        .select_related("automation", "version", "automation__rule_owner", "automation__failure_owner")
        .prefetch_related("applied")
        .first()
    )
    return run_context(run) if run is not None else None


def proposal_describe(proposal: dict) -> dict:
    """A prepared action in words: its label and the (what, now, after approval) rows."""
    return {
        "label": action_label(proposal.get("action") or ""),
        "changes": action_changes(proposal.get("before"), proposal.get("after"), proposal.get("object_type") or ""),
    }


REVERT_LIMIT = 20


def why_reverts_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """The reverts of runs on the record: who reverted which run, when and why, what each action became,
    with links to the original run and its batch (None when no run on the record was reverted)."""
    reverts = list(
        RunRevert.objects.filter(run__object_type=object_type, run__object_id=object_id)
        .select_related("actor", "run__automation", "batch")
        .order_by("-created_at", "-pk")[:REVERT_LIMIT]
    )
    if not reverts:
        return None
    rows = []
    for revert in reverts:
        rows.append(
            {
                "revert": revert,
                "who": (revert.actor.get_full_name() or revert.actor.get_username()) if revert.actor else "the system",
                "run_url": reverse("admin:revops_automationrun_change", args=[revert.run_id]),
                "batch_url": reverse("admin:revops_runrevertbatch_change", args=[revert.batch_id])
                if revert.batch_id
                else None,
                "lines": [
                    {**line, "outcome_label": OUTCOME_LABELS.get(line["outcome"], (line["outcome"],) * 2)[1]}
                    for line in revert.lines or []
                ],
            }
        )
    return {"reverts": rows}
