"""What routing adds to a lead's Why page: its latest routing decision, and its running SLA clock."""

from __future__ import annotations

from .admin.helpers import lead_routing_panel
from .models import SlaClock


def why_decision_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """For a lead: its latest routing decision explained (outcome, rule, owner, match, candidates, SLA)."""
    if object_type != "lead":
        return None
    return lead_routing_panel(object_id)


def why_sla_panel(object_type: str, object_id: int, *, request=None) -> dict | None:
    """For a lead with a running response SLA clock: the clock, its owner and due time."""
    if object_type != "lead":
        return None
    clock = SlaClock.objects.filter(lead_id=object_id, status=SlaClock.Status.RUNNING).select_related("owner").first()
    return {"clock": clock} if clock is not None else None
