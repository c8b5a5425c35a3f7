"""The lifecycle event hook (``revops.engine.hooks``): a lead created or changed by the CRM, or a new
or changed activity of a lead, re-scores that lead under the active scoring models. Idempotent: a
re-delivered batch computes the same scores and writes nothing new."""

from __future__ import annotations

from revops.models import Activity


def lifecycle_rescore_leads(events, *, now=None) -> int:
    """Re-score the leads the batch's events touch; returns how many scores changed."""
    lead_ids: set[int] = set()
    activity_ids = []
    for event in events:
        if event.object_type == "lead" and event.kind in ("created", "updated"):
            lead_ids.add(event.object_id)
        elif event.object_type == "activity" and event.kind in ("created", "updated"):
            activity_ids.append(event.object_id)
    if activity_ids:
        lead_ids.update(
            Activity.objects.filter(pk__in=activity_ids, lead_id__isnull=False).values_list("lead_id", flat=True)
        )
    if not lead_ids:
        return 0
    from .services import active_specs, lead_scores_refresh

    specs = active_specs()
    if not specs:
        return 0
    return lead_scores_refresh(lead_ids=lead_ids, now=now, specs=specs)
