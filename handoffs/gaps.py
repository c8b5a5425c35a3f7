"""How the handoffs app hears about deals: the sync's gap handler (in the sync transaction) and the
engine's event hook (hand edits in the portal)."""

from __future__ import annotations

from exceptions.gap_items import exception_items_sync_gaps

from .renewals import renewals_evaluate
from .services import handoffs_evaluate


def handoffs_sync_gaps(*, object_type: str, gaps: dict, complete: list, batch, actor=None, records=None) -> None:
    """Evaluate the batch's stored deals against the checklists; deals no checklist covers keep the
    queue's generic "Required fields missing" item (and a covered deal's old generic item closes)."""
    ids = [*gaps, *complete]
    counts = handoffs_evaluate(
        opportunity_ids=ids,
        actor=actor,
        cause=f"sync batch #{batch.pk}",
        refresh=True,
        deals=[records[pk] for pk in ids] if records else None,
    )
    covered = counts["covered"]
    exception_items_sync_gaps(
        object_type=object_type,
        gaps={pk: missing for pk, missing in gaps.items() if pk not in covered},
        complete=[*complete, *(pk for pk in gaps if pk in covered)],
        batch=batch,
        actor=actor,
    )


def handoffs_note_changes(events, *, now=None) -> None:
    """Re-evaluate deals edited in the portal (sync batches were evaluated in their own transaction),
    and the renewal handoffs of accounts changed by the CRM or in the portal."""
    changed = [event for event in events if event.kind in ("created", "updated")]
    ids = {event.object_id for event in changed if event.object_type == "opportunity" and event.batch_id is None}
    if ids:
        handoffs_evaluate(opportunity_ids=sorted(ids), cause="deal edited in the portal", now=now)
    accounts = {event.object_id for event in changed if event.object_type == "account"}
    if accounts:
        renewals_evaluate(account_ids=sorted(accounts), cause="account changed", now=now)
