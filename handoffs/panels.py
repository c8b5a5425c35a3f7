"""The Why page of a deal (or an account, for renewals): its handoffs, what each still needs, from
whom and by when, in plain language."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.services import OPEN as OPEN_ITEM

from .selectors import visible_handoffs
from .services import REJECTION_REASONS


def _needs(handoff) -> list[str]:
    subject = handoff.subject
    owner = subject.owner.name if subject.owner_id else f"the {'deal' if handoff.opportunity_id else 'account'} owner"
    fields = [m["label"] for m in handoff.missing if m.get("kind") == "field"]
    ticks = [m for m in handoff.missing if m.get("kind") == "attestation"]
    needs = []
    if fields and handoff.status == handoff.Status.WAITING:
        needs.append(f"{owner} to get {', '.join(fields)} filled in the CRM")
    if handoff.status in (handoff.Status.WAITING, handoff.Status.REJECTED):
        needs += [f"{t.get('role') or 'someone'} to confirm “{t['label']}”" for t in ticks]
    if handoff.status == handoff.Status.WAITING:
        needs += [f"RevOps or the CRM to provide {m['label']}" for m in handoff.missing if m.get("kind") == "receiver"]
    if handoff.status == handoff.Status.SENT:
        needs.append(f"{handoff.receiver.name if handoff.receiver_id else 'the receiving team'} to accept it")
    if handoff.status == handoff.Status.REJECTED:
        needs.append(f"{owner} to fix what was named and send it again")
    return needs


def _by_when(handoff, due: dict):
    """When the next step is due: the waiting or sent-back item's due time, or the acceptance SLA."""
    if handoff.status == handoff.Status.SENT and handoff.sent_at:
        return handoff.sent_at + dt.timedelta(hours=handoff.checklist.accept_within_hours)
    key = {"waiting": f"handoff:{handoff.pk}", "rejected": f"handoff-returned:{handoff.pk}"}.get(handoff.status)
    return due.get(key)


def why_handoffs_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    if object_type not in ("opportunity", "account"):
        return None
    handoffs = visible_handoffs(user=getattr(request, "user", None)) if request is not None else None
    if handoffs is None:
        from .models import Handoff

        handoffs = Handoff.objects.select_related("checklist", "receiver", "opportunity__owner", "account__owner")
    if object_type == "opportunity":
        handoffs = handoffs.filter(opportunity_id=object_id)
    else:
        handoffs = handoffs.filter(opportunity__isnull=True, account_id=object_id)
    handoffs = list(handoffs.order_by("checklist__name", "-created_at"))
    if not handoffs:
        return None
    keys = [f"{prefix}:{h.pk}" for h in handoffs for prefix in ("handoff", "handoff-returned")]
    due = dict(
        ExceptionItem.objects.filter(dedupe_key__in=keys, status__in=OPEN_ITEM).values_list("dedupe_key", "due_at")
    )
    now, rows = timezone.now(), []
    for handoff in handoffs:
        sent_back = REJECTION_REASONS.get(handoff.rejection_code, "")
        if handoff.rejection_note:
            sent_back = f"{sent_back} — “{handoff.rejection_note}”" if sent_back else handoff.rejection_note
        by = _by_when(handoff, due)
        overdue = by is not None and by < now
        rows.append(
            {"handoff": handoff, "needs": _needs(handoff), "by": by, "overdue": overdue, "sent_back": sent_back}
        )
    return {"rows": rows}
