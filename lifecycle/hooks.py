"""The lifecycle event hook (``revops.engine.hooks``): a lead created or changed by the CRM, or a new
or changed activity of a lead, re-scores that lead under the active scoring models. Idempotent: a
re-delivered batch computes the same scores and writes nothing new."""

from __future__ import annotations

from revops.engine.hooks import batch_activity_leads


def lifecycle_rescore_leads(events, *, now=None) -> int:
    """Re-score the leads the batch's events touch; returns how many scores changed."""
    lead_ids = {e.object_id for e in events if e.object_type == "lead" and e.kind in ("created", "updated")}
    lead_ids.update(batch_activity_leads(events).values())
    if not lead_ids:
        return 0
    from .services import lead_scores_refresh

    return lead_scores_refresh(lead_ids=lead_ids, now=now)
