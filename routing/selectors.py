"""Reads of the routing app.

Decisions: ``decision_dict`` (a decision as the API and the Why? view show it),
``lead_latest_decision`` and ``reassignment_rates`` (manual reassignments per rule).

SLA: ``touch_minutes`` (a clock's time to first touch), ``sla_metrics`` (met rate and time to first touch per team, routing rule or rep) and
``sla_clock_for_lead`` (the clock a lead page shows).
"""

from __future__ import annotations

import datetime as dt
import statistics

from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from revops.engine.registry import Deadline

from .engine import explanation_candidates
from .models import RoutingDecision, RoutingRule, SlaClock
from .sla import business_minutes_between, calendar_for_team, load_calendars

Status = SlaClock.Status

# group_by → (the grouping expression, its label column or None, the label when it is empty)
SLA_GROUPS = {
    "team": (F("owner__team_id"), "owner__team__name", "(no team)"),
    "rule": (Coalesce(F("decision__rule_name"), Value("")), None, "(no routing rule)"),
    "rep": (F("owner_id"), "owner__name", "(no owner)"),
}


def touch_minutes(started, touched_at, *, business: bool, team_id: int | None, calendars: list) -> float:
    """Minutes from a clock's start to its first touch: business minutes of the owner's team's
    calendar (as it is now) for a business-hours clock, wall minutes otherwise; never negative.
    ``calendars`` is a list the caller keeps: empty, it is filled on the first business clock."""
    calendar = None
    if business:
        if not calendars:
            calendars.extend(load_calendars() or [None])
        calendar = calendar_for_team(team_id, [c for c in calendars if c is not None])
    try:
        minutes = business_minutes_between(started, touched_at, calendar)
    except ValueError:  # the calendar lost its working time since: count wall time
        minutes = business_minutes_between(started, touched_at, None)
    return max(minutes, 0.0)


def sla_metrics(
    *, group_by: str, since: dt.datetime, until: dt.datetime | None = None, scope: Q | None = None
) -> list[dict]:
    """SLA outcomes of the clocks started in ``[since, until)``, one row per team, rule or rep.

    Rows: ``{key, label, clocks, met, breached, running, cancelled, met_rate, median_first_touch_minutes,
    avg_first_touch_minutes}``, most clocks first. ``met_rate`` is met / (met + breached), None when
    no clock has finished either way. Time to first touch covers every touched clock (met, or
    breached and touched later), from the clock's start, in business minutes for business-hours
    clocks (the owner's team's calendar as it is now) and wall minutes otherwise. Counts are
    aggregated in SQL (one query); the durations are one more query, plus the calendars if needed.
    """
    if group_by not in SLA_GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(SLA_GROUPS)}, not {group_by!r}")
    expression, label_field, empty_label = SLA_GROUPS[group_by]
    clocks = SlaClock.objects.filter(started_at__gte=since)
    if scope is not None:  # a manager's report: their teams' clocks only (``routing.delegation.clocks_visible_q``)
        clocks = clocks.filter(scope)
    if until is not None:
        clocks = clocks.filter(started_at__lt=until)
    clocks = clocks.annotate(group_key=expression)
    columns = ["group_key", *([label_field] if label_field else [])]
    counts = (
        clocks.values(*columns)
        .annotate(
            clocks=Count("id"),
            met=Count("id", filter=Q(status=Status.MET)),
            breached=Count("id", filter=Q(status=Status.BREACHED)),
            running=Count("id", filter=Q(status=Status.RUNNING)),
            cancelled=Count("id", filter=Q(status=Status.CANCELLED)),
        )
        .order_by()
    )
    durations: dict = {}
    touched = clocks.filter(first_touch_at__isnull=False).values_list(
        "group_key", "started_at", "first_touch_at", "business_hours", "owner__team_id"
    )
    calendars: list = []
    for key, started, touched_at, business, team_id in touched:
        minutes = touch_minutes(started, touched_at, business=business, team_id=team_id, calendars=calendars)
        durations.setdefault(key, []).append(minutes)
    rows = []
    for row in counts:
        key = row["group_key"]
        label = row[label_field] if label_field else key
        values = durations.get(key, [])
        finished = row["met"] + row["breached"]
        rows.append(
            {
                "key": key if key != "" else None,
                "label": label or empty_label,
                "clocks": row["clocks"],
                "met": row["met"],
                "breached": row["breached"],
                "running": row["running"],
                "cancelled": row["cancelled"],
                "met_rate": round(row["met"] / finished, 4) if finished else None,
                "median_first_touch_minutes": round(statistics.median(values), 1) if values else None,
                "avg_first_touch_minutes": round(statistics.fmean(values), 1) if values else None,
            }
        )
    rows.sort(key=lambda r: (-r["clocks"], str(r["label"])))
    return rows


def sla_clock_for_lead(lead) -> SlaClock | None:
    """The lead's running clock, else its latest one, else None (one query)."""
    return (
        SlaClock.objects.filter(lead_id=lead.pk)
        .select_related("owner", "policy_ref", "decision")
        .order_by(
            Case(When(status=Status.RUNNING, then=Value(0)), default=Value(1), output_field=IntegerField()),
            "-started_at",
            "-pk",
        )
        .first()
    )


# --- decisions ----------------------------------------------------------------------------------


def sla_deadline(record, rep) -> Deadline | None:
    """The first touch ``rep`` owes on lead ``record`` under its running response SLA (a deadline source:
    a task the engine creates for the same rep on the lead is due then, so the lead has one deadline)."""
    if getattr(record, "_meta", None) is None or record._meta.model_name != "lead" or rep is None:
        return None
    clock = (
        SlaClock.objects.filter(lead_id=record.pk, owner_id=rep.pk, status=SlaClock.Status.RUNNING)
        .exclude(due_at=None)
        .order_by("due_at")
        .only("due_at", "policy")
        .first()
    )
    if clock is None:
        return None
    return Deadline(due_at=clock.due_at, text=f"the first touch under the response SLA '{clock.policy}'")


def sla_policy_choices() -> list[tuple[str, str]]:
    """The SLA policies another app may time a commitment with (an SLA timer's choices): ``(name, label)``.
    Named, not numbered, so a configuration file re-creating the policies keeps the reference."""
    from .models import SlaPolicy

    return [
        (name, f"{name}{'' if active else ' (inactive: not chosen for first touches)'}")
        for name, active in SlaPolicy.objects.order_by("name").values_list("name", "is_active")
    ]


def sla_policy_deadline(ref, *, start: dt.datetime, owner=None) -> Deadline | None:
    """When ``owner`` must be done if they start at ``start`` under the SLA policy named ``ref`` (an SLA timer):
    the policy's target, in the business hours of the owner's team's calendar (else the default one)
    when the policy counts business hours, 24/7 otherwise; None when the policy no longer exists."""
    from exceptions.timing import human_duration

    from .models import SlaPolicy
    from .sla import business_deadline, calendar_for

    policy = SlaPolicy.objects.filter(name=str(ref)).first() if ref else None
    if policy is None:
        return None
    calendar = calendar_for(owner, load_calendars()) if policy.use_business_hours else None
    try:
        due = business_deadline(start, policy.target_minutes, calendar)
    except ValueError:
        calendar = None
        due = business_deadline(start, policy.target_minutes, None)
    how = f"business hours of {calendar.name}" if calendar is not None else "24/7"
    return Deadline(
        due_at=due, text=f"{policy.name}: {human_duration(dt.timedelta(minutes=policy.target_minutes))}, {how}"
    )


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
        "candidates": explanation_candidates(explanation),
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


def lead_latest_decision_dict(lead) -> dict | None:
    """The lead's latest routing decision as the read API shows it (``decision_dict``), or None."""
    decision = lead_latest_decision(lead.pk)
    return decision_dict(decision) if decision is not None else None


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


def rule_choices() -> list[tuple[str, str]]:
    """Every routing rule as ``(id, "name (status)")``, in priority order, for a run filter."""
    return [
        (str(pk), f"{name} ({dict(RoutingRule.Status.choices).get(status, status).split(' (')[0].lower()})")
        for pk, name, status in RoutingRule.objects.order_by("priority", "pk").values_list("pk", "name", "status")
    ]


def runs_of_rule(runs, value: str):
    """The routing runs whose decision was made by the rule with id ``value`` (none for a bad value)."""
    if not str(value).isdigit():
        return runs.none()
    return runs.filter(routing_decisions__rule_id=int(value)).distinct()


def rule_name(value: str) -> str:
    name = (
        RoutingRule.objects.filter(pk=int(value)).values_list("name", flat=True).first()
        if str(value).isdigit()
        else None
    )
    return f"rule “{name}”" if name else f"a deleted rule (#{value})"
