"""Reads over routing decisions: the API/why-view shape of a decision, reassignment rates per rule."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q
from django.utils import timezone

from .models import RoutingDecision, SlaClock


def decision_dict(decision: RoutingDecision) -> dict:
    """A decision as the API shows it: who, why (rule, match, candidates), mode, latency, SLA."""
    explanation = decision.explanation or {}
    clock = decision.clocks.order_by("-pk").first() if decision.pk else None
    return {
        "id": decision.pk,
        "decided_at": decision.decided_at,
        "mode": decision.mode,
        "outcome": decision.outcome,
        "rule": decision.rule_name or None,
        "target_type": decision.target_type or None,
        "owner": getattr(decision.owner, "external_id", None),
        "previous_owner": getattr(decision.previous_owner, "external_id", None),
        "pool": getattr(decision.pool, "name", None),
        "match": explanation.get("match"),
        "candidates": explanation.get("candidates") or [],
        "rules_evaluated": explanation.get("rules") or [],
        "fallback_reason": explanation.get("fallback_reason"),
        "shadow": explanation.get("shadow"),
        "notes": explanation.get("notes") or [],
        "summary": decision.summary,
        "latency_ms": decision.latency_ms,
        "sla": _clock_dict(clock) if clock is not None else explanation.get("sla"),
        "reassigned_at": decision.reassigned_at,
        "reassigned_to": getattr(decision.reassigned_to, "external_id", None),
    }


def _clock_dict(clock: SlaClock) -> dict:
    return {
        "policy": clock.policy,
        "target_minutes": clock.target_minutes,
        "business_hours": clock.business_hours,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "status": clock.status,
        "first_touch_at": clock.first_touch_at,
        "breached_at": clock.breached_at,
    }


def lead_decisions(lead_id: int):
    return RoutingDecision.objects.filter(lead_id=lead_id).select_related(
        "owner", "previous_owner", "pool", "reassigned_to", "rule"
    )


def lead_latest_decision(lead_id: int) -> RoutingDecision | None:
    """The lead's latest decision, live preferred over shadow."""
    decisions = lead_decisions(lead_id).order_by("-decided_at", "-pk")
    return decisions.filter(mode="live").first() or decisions.first()


def reassignment_rates(*, since: dt.datetime | None = None, rule_ids=None) -> dict[int | None, dict]:
    """Per rule: live assignments, manual reassignments and their rate, since ``since`` (default 30 days)."""
    since = since or timezone.now() - dt.timedelta(days=30)
    qs = RoutingDecision.objects.filter(mode="live", outcome__in=("assigned", "fallback"), decided_at__gte=since)
    if rule_ids is not None:
        qs = qs.filter(rule_id__in=list(rule_ids))
    rows = qs.values("rule_id", "rule_name").annotate(
        assigned=Count("pk"), reassigned=Count("pk", filter=Q(reassigned_at__isnull=False))
    )
    out = {}
    for row in rows:
        entry = out.setdefault(
            row["rule_id"], {"rule": row["rule_name"] or "(fallback)", "assigned": 0, "reassigned": 0}
        )
        entry["assigned"] += row["assigned"]
        entry["reassigned"] += row["reassigned"]
    for entry in out.values():
        entry["rate"] = round(entry["reassigned"] / entry["assigned"], 4) if entry["assigned"] else None
    return out
