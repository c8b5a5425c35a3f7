"""How the handoffs app hears about deals: the sync's gap handler (in the sync transaction, or on the
bulk lane after it for a bulk batch) and the engine's event hook (hand edits in the portal)."""

from __future__ import annotations

from exceptions.gap_items import exception_items_sync_gaps
from revops.bulk_writes import InArray
from revops.models import Opportunity

from .deferred import handoffs_evaluate_later, inline_max
from .models import Handoff
from .renewals import renewals_evaluate
from .services import handoffs_covered, handoffs_evaluate


def handoffs_sync_gaps(*, object_type: str, gaps: dict, complete: list, batch, actor=None, records=None) -> None:
    """Evaluate the batch's stored deals against the checklists; deals no checklist covers keep the
    queue's generic "Required fields missing" item (and a covered deal's old generic item closes).

    The deals to evaluate are those a checklist covers and those with a handoff already (to cancel or
    restart it): up to ``HANDOFFS_INLINE_MAX`` of them in the sync's transaction, more on the bulk lane
    after the commit (``handoffs.deferred``)."""
    ids = [*gaps, *complete]
    deals = [records[pk] for pk in ids] if records else list(Opportunity.objects.filter(InArray("pk", ids)))
    covered = handoffs_covered(deals)
    due = covered | set(
        Handoff.objects.filter(InArray("opportunity_id", ids)).order_by().values_list("opportunity_id", flat=True)
    )
    cause = f"sync batch #{batch.pk}"
    if len(due) > inline_max():
        handoffs_evaluate_later(opportunity_ids=sorted(due), actor=actor, cause=cause, batch=batch)
    elif due:
        handoffs_evaluate(
            opportunity_ids=sorted(due),
            actor=actor,
            cause=cause,
            refresh=True,
            deals=[deal for deal in deals if deal.pk in due],
        )
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
