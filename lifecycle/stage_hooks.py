"""The stages' event hook (``revops.engine.hooks``), registered after the scoring hook so criteria read
fresh scores: a lead created or changed by the CRM, or a new activity of a lead, re-evaluates that
lead's stage. Idempotent: a re-delivered batch finds every lead where its criteria send it."""

from __future__ import annotations

from revops.engine.hooks import batch_activity_leads


def lifecycle_stage_leads(events, *, now=None) -> int:
    """Evaluate the stages of the leads the batch's events touch; returns how many moved."""
    event_ids: dict[int, int] = {}
    activities: dict[int, int] = {}
    for event in events:
        if event.kind not in ("created", "updated"):
            continue
        if event.object_type == "lead":
            event_ids[event.object_id] = event.pk
        elif event.object_type == "activity":
            activities[event.object_id] = event.pk
    for pk, lead_id in batch_activity_leads(events).items():
        event_ids.setdefault(lead_id, activities[pk])
    if not event_ids:
        return 0
    from .stage_services import lead_stages_evaluate

    return lead_stages_evaluate(lead_ids=list(event_ids), now=now, event_ids=event_ids)
