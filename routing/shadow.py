"""Shadow report: what a shadow rule would have done next to what routing did, per lead. Reads only.

A shadow rule whose conditions hold is recorded in the decision's ``explanation["shadow"]`` (the first
matching shadow rule per decision): its target and the owner it would have chosen. The report compares that
with the decision itself:

- owner targets (account owner, opportunity owner, named rep, pool): they agree when the rep it would have
  chosen is the decision's owner (assigned or by the fallback); when neither has an owner they agree too;
- queue targets agree when the lead went to the same review queue; approval targets when it went to approval.

Decisions recorded before the shadow record named its owner cannot be compared; they are counted apart.

``shadow_replay`` answers the same question at once for a rule just put in shadow (or still a draft): it
evaluates the rule alone, as a shadow rule, against the leads of the last days' live decisions — with the
leads, accounts and pools as they are now, nothing locked, counted or stored — and compares in the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from .models import RoutingDecision, RoutingRule

OWNER_TARGETS = ("account_owner", "opportunity_owner", "rep", "pool")
DIFFERENCES_SHOWN = 100


@dataclass
class ShadowReport:
    """Would vs did for one rule over a window; ``differences`` lists at most ``DIFFERENCES_SHOWN`` leads."""

    rule: RoutingRule
    days: int
    since: dt.datetime
    matched: int = 0
    comparable: int = 0
    agreed: int = 0
    differences: list[dict] = field(default_factory=list)
    different: int = 0
    would_owners: list[dict] = field(default_factory=list)
    replayed: int = 0  # leads replayed (``shadow_replay``); 0 for a report of recorded decisions

    @property
    def agreement_rate(self) -> float | None:
        return self.agreed / self.comparable if self.comparable else None

    @property
    def not_comparable(self) -> int:
        return self.matched - self.comparable


def shadow_decisions(rule: RoutingRule):
    """The decisions where ``rule`` was the shadow rule recorded (by id; by name for records without an id)."""
    return RoutingDecision.objects.filter(
        Q(explanation__shadow__rule_id=rule.pk)
        | Q(explanation__shadow__rule=rule.name, explanation__shadow__rule_id__isnull=True)
    )


ROW_FIELDS = (
    "pk",
    "lead_id",
    "lead__external_id",
    "lead__first_name",
    "lead__last_name",
    "lead__company",
    "lead__email",
    "outcome",
    "owner__name",
    "owner_id",
    "rule_name",
    "mode",
    "decided_at",
    "explanation__queue",
)


def shadow_report(rule: RoutingRule, *, days: int = 30, now: dt.datetime | None = None) -> ShadowReport:
    """Compare what ``rule`` would have done with what routing did, for decisions of the last ``days`` days."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    report = ShadowReport(rule=rule, days=days, since=since)
    rows = (
        shadow_decisions(rule)
        .filter(decided_at__gte=since, decided_at__lt=now)
        .order_by("-decided_at", "-pk")
        .values(*ROW_FIELDS, "explanation__shadow")
    )
    _compare(report, ({**row, "shadow": row["explanation__shadow"] or {}} for row in rows))
    return report


REPLAY_LIMIT = 1000


def shadow_replay(
    rule: RoutingRule, *, days: int = 30, now: dt.datetime | None = None, limit: int = REPLAY_LIMIT
) -> ShadowReport:
    """What ``rule`` would do now for the leads of the latest ``limit`` live decisions of the last ``days`` days.

    Each lead's latest live decision in the window is the "did"; the rule alone, evaluated as a shadow rule
    at the decision's time with today's data, is the "would". As in live routing, the rule is only reached by
    leads that no rule before it (in priority order) took. Writes nothing (pools are read, not counted).
    """
    import copy

    from django.db import transaction

    from revops.models import Lead

    from .engine import DbLookups, Router, RoutingConfig, compile_rules
    from .matching import account_index
    from .services import routing_automation

    now = now or timezone.now()
    since = now - dt.timedelta(days=days)
    report = ShadowReport(rule=rule, days=days, since=since)
    rows, seen = [], set()
    qs = (
        RoutingDecision.objects.filter(mode="live", decided_at__gte=since, decided_at__lt=now)
        .order_by("-decided_at", "-pk")
        .values(*ROW_FIELDS, "rule_id", "rule__priority")
    )
    for row in qs.iterator():
        if row["lead_id"] not in seen:
            seen.add(row["lead_id"])
            if _reached(rule, row):
                rows.append(row)
            if len(seen) >= limit:
                break
    report.replayed = len(seen)
    if not rows:
        return report
    automation = routing_automation(modes=("live", "shadow", "draft"))
    config = RoutingConfig.from_config(automation.config if automation is not None else {})
    as_shadow = copy.copy(rule)
    as_shadow.status = RoutingRule.Status.SHADOW
    router = Router(
        rules=compile_rules([as_shadow]),
        config=config,
        lookups=DbLookups(lock=False),
        index=account_index(),
        explain=False,
    )
    leads = Lead.objects.in_bulk([row["lead_id"] for row in rows])
    replayed = []
    with transaction.atomic():
        for row in rows:
            lead = leads.get(row["lead_id"])
            if lead is None:
                continue
            plan = router.decide(lead, now=row["decided_at"])
            if plan.shadow is not None:
                replayed.append({**row, "shadow": plan.shadow})
        transaction.set_rollback(True)  # a replay never writes
    _compare(report, replayed)
    return report


def _reached(rule: RoutingRule, row: dict) -> bool:
    """Whether routing got as far as ``rule`` for this decision: no rule took the lead, or a later one did."""
    if row["rule_id"] is None or row["rule__priority"] is None:
        return True
    return (row["rule__priority"], row["rule_id"]) > (rule.priority, rule.pk)


def _compare(report: ShadowReport, rows) -> None:
    """Fill ``report`` from rows of decision values, each with the ``shadow`` entry of the rule."""
    would_owners: Counter = Counter()
    agreed_by_owner: Counter = Counter()
    outcomes = dict(RoutingDecision.Outcome.choices)
    for row in rows:
        shadow = row["shadow"]
        report.matched += 1
        verdict = _agrees(shadow, row)
        if verdict is None:
            continue
        report.comparable += 1
        would = _would_text(shadow)
        if shadow.get("target_type") in OWNER_TARGETS:
            would_owners[would] += 1
            agreed_by_owner[would] += int(verdict)
        if verdict:
            report.agreed += 1
            continue
        report.different += 1
        if len(report.differences) < DIFFERENCES_SHOWN:
            report.differences.append(
                {
                    "decision_id": row["pk"],
                    "lead_id": row["lead_id"],
                    "lead": _lead_label(row),
                    "decided_at": row["decided_at"],
                    "would": would,
                    "did": _did_text(row, outcomes),
                    "did_rule": row["rule_name"] or "the fallback",
                    "mode": row["mode"],
                }
            )
    report.would_owners = [
        {"owner": name, "leads": n, "agreed": agreed_by_owner[name]} for name, n in would_owners.most_common()
    ]


def _agrees(shadow: dict, row: dict) -> bool | None:
    """True/False, or None when the record is too old to say."""
    kind = shadow.get("target_type")
    if kind is None:
        return None
    if kind == "queue":
        return row["outcome"] == "queued" and row["explanation__queue"] == shadow.get("queue")
    if kind == "approval":
        return row["outcome"] == "approval"
    would = (shadow.get("owner") or {}).get("id")
    did = row["owner_id"] if row["outcome"] in ("assigned", "fallback") else None
    return would == did


def _would_text(shadow: dict) -> str:
    kind = shadow.get("target_type")
    if kind == "queue":
        return f"manual review in {shadow.get('queue') or '?'}"
    if kind == "approval":
        return "an approval"
    owner = shadow.get("owner") or {}
    return owner.get("name") or "nobody (no rep available)"


def _did_text(row: dict, outcomes: dict) -> str:
    if row["outcome"] in ("assigned", "fallback"):
        name = row["owner__name"] or "a rep no longer in the portal"
        return f"{name} (by the fallback)" if row["outcome"] == "fallback" else name
    if row["outcome"] == "queued":
        return f"manual review in {row['explanation__queue'] or '?'}"
    return outcomes.get(row["outcome"], row["outcome"])


def _lead_label(row: dict) -> str:
    name = f"{row['lead__first_name'] or ''} {row['lead__last_name'] or ''}".strip()
    company = row["lead__company"] or ""
    label = ", ".join(part for part in (name, company) if part) or row["lead__email"] or row["lead__external_id"]
    return label or f"lead {row['lead_id']}"
