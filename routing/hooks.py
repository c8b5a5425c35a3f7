"""Routing's event hooks (``revops.engine.hooks``), called with every batch of CRM changes before the
automations run: a later sync reporting another owner counts a manual reassignment against the rule
that assigned the lead (and the SLA clock follows the new owner); the first activity logged on a
lead stops its SLA clock. Both are idempotent: a re-delivered job changes nothing.
"""

from __future__ import annotations

from django.utils import timezone

from revops.models import Rep

from .models import RoutingDecision
from .sla_services import sla_clocks_follow_owner, sla_clocks_touch


def decisions_note_reassignments(events, *, now=None) -> int:
    """Count a manual reassignment when a CRM update gives a routed lead another owner than the decision's.

    Only the latest live decision of the lead counts, once (``reassigned_at`` is set with a
    conditional update, so a re-delivered event changes nothing). The running SLA clock follows the
    new owner.
    """
    owners: dict[int, str | None] = {}
    for event in events:
        if event.object_type != "lead" or event.kind != "updated":
            continue
        pair = (event.changes or {}).get("owner")
        if pair and len(pair) == 2 and pair[0] != pair[1]:
            owners[event.object_id] = pair[1]
    if not owners:
        return 0
    reps = dict(Rep.objects.filter(external_id__in=[v for v in owners.values() if v]).values_list("external_id", "pk"))
    counted = 0
    latest = {}
    for decision in RoutingDecision.objects.filter(
        lead_id__in=list(owners), mode="live", outcome__in=("assigned", "fallback")
    ).order_by("lead_id", "-decided_at", "-pk"):
        latest.setdefault(decision.lead_id, decision)
    when = now or timezone.now()
    for lead_id, decision in latest.items():
        new_owner = reps.get(owners[lead_id]) if owners[lead_id] else None
        if new_owner == decision.owner_id:
            continue
        counted += RoutingDecision.objects.filter(pk=decision.pk, reassigned_at__isnull=True).update(
            reassigned_at=when, reassigned_to_id=new_owner
        )
        if new_owner is not None:
            sla_clocks_follow_owner(lead_id=lead_id, owner_id=new_owner)
    return counted


def sla_note_touches(events, *, now=None) -> int:
    """Stop SLA clocks on the first activity logged on a lead (created activity events)."""
    ids = [e.object_id for e in events if e.object_type == "activity" and e.kind == "created"]
    if not ids:
        return 0
    return sla_clocks_touch(activity_ids=ids)
