"""Routing's computed lead field: the rule of a lead's latest live routing decision, for every automation's
conditions ("lead.routing_rule is EMEA SMB inbound") and for reports that group leads by rule (the
lifecycle app's closed loop reads it through the core's computed-field registry)."""

from __future__ import annotations

from .models import RoutingDecision


def routing_rule_compute(records, now) -> dict:
    """``{lead pk: rule name}`` of each lead's latest live decision that named a rule."""
    ids = [lead.pk for lead in records]
    rows = (
        RoutingDecision.objects.filter(lead_id__in=ids, mode="live")
        .exclude(rule_name="")
        .order_by("lead_id", "-decided_at", "-pk")
        .values_list("lead_id", "rule_name")
    )
    names: dict = {}
    for lead_id, rule_name in rows:
        names.setdefault(lead_id, rule_name)
    return names


def routing_register_lead_fields() -> None:
    from revops.plugins import register_computed_field

    register_computed_field(
        "lead",
        "routing_rule",
        label="Routing rule",
        field_type="text",
        compute=routing_rule_compute,
        description="The routing rule of the lead's latest live routing decision.",
    )
