"""The deal's Why page: its handoffs, what each still needs and from whom, in plain language."""

from __future__ import annotations

from .selectors import visible_handoffs


def why_handoffs_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    if object_type != "opportunity":
        return None
    handoffs = visible_handoffs(user=getattr(request, "user", None)) if request is not None else None
    if handoffs is None:
        from .models import Handoff

        handoffs = Handoff.objects.select_related("checklist", "receiver", "opportunity__owner")
    rows = []
    for handoff in handoffs.filter(opportunity_id=object_id).order_by("checklist__name"):
        owner = handoff.opportunity.owner.name if handoff.opportunity.owner_id else "the deal owner"
        fields = [m["label"] for m in handoff.missing if m.get("kind") == "field"]
        ticks = [m for m in handoff.missing if m.get("kind") == "attestation"]
        needs = []
        if fields and handoff.status == handoff.Status.WAITING:
            needs.append(f"{owner} to get {', '.join(fields)} filled in the CRM")
        needs += [f"{t.get('role') or 'someone'} to confirm “{t['label']}”" for t in ticks]
        if handoff.status == handoff.Status.SENT:
            needs.append(f"{handoff.receiver.name if handoff.receiver_id else 'the receiving team'} to accept it")
        if handoff.status == handoff.Status.REJECTED:
            needs.append(f"{owner} to fix what was named and send it again")
        rows.append({"handoff": handoff, "needs": needs})
    return {"rows": rows} if rows else None
