"""Merge proposals in the exception queue: the approval handler (approve merges, reject records the
no) and the words the item page shows for a proposal."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.urls import reverse

from .merges import merge_apply, merge_reject
from .models import Merge


def _merge(item_or_proposal) -> Merge:
    proposal = getattr(item_or_proposal, "proposal", item_or_proposal) or {}
    merge = Merge.objects.filter(pk=proposal.get("merge_id")).first()
    if merge is None:
        raise ValidationError("The merge proposal no longer exists.")
    return merge


def approve(item, actor) -> str:
    """Apply the proposal's merge with the winners as they stand (the approver may have changed some)."""
    merge_apply(merge=_merge(item), actor=actor, note=item.resolution_note or "")
    return "applied"


def reject(item, actor, reason: str) -> None:
    merge = _merge(item)
    if merge.status == Merge.Status.PROPOSED:
        merge_reject(merge=merge, actor=actor, reason=reason or "Rejected in the queue.")


def describe(proposal: dict) -> dict:
    """The survivor's values that change, and the record merged away, as (what, now, after) rows."""
    merge = Merge.objects.filter(pk=proposal.get("merge_id")).first()
    if merge is None:
        return {"label": "Merge records", "changes": []}
    rows = [
        {"label": row["label"], "before": row["survivor_text"], "after": row["loser_text"]}
        for row in merge.fields
        if row["winner"] == "loser"
    ]
    rows.append(
        {
            "label": "The other record",
            "before": "a duplicate",
            "after": "kept, marked merged into the survivor; its activities, tasks and related records move",
        }
    )
    return {
        "label": f"Merge records (merge #{merge.pk}; its page lets you choose another winner for any field)",
        "changes": rows,
    }


def item_merge_panel(item) -> dict | None:
    """On a merge proposal's page: the two records and a link to the merge page, where any winner can change."""
    if item.kind != "merge_proposal" or not item.proposal:
        return None
    merge = Merge.objects.filter(pk=item.proposal.get("merge_id")).first()
    if merge is None:
        return None
    differing = [row for row in merge.fields if row.get("differs")]
    return {
        "merge": merge,
        "url": reverse("admin:dataquality_merge_change", args=[merge.pk]),
        "differing": differing,
    }
