"""Plain-language helpers of the routing admin, and the decision panels (also the why view's)."""

from __future__ import annotations

import datetime as dt

from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from revops.engine.admin.helpers import tree_text

from ..engine import explanation_candidates
from ..models import Pool, RoutingDecision, RoutingRule

RULE_STATUS_TONES = {"live": "ok", "shadow": "info", "draft": "neutral", "disabled": "warn"}
OUTCOME_TONES = {
    "assigned": "ok",
    "fallback": "warn",
    "queued": "info",
    "approval": "info",
    "unassigned": "danger",
    "not_routed": "neutral",
}
MATCH_TONES = {"matched": "ok", "ambiguous": "warn", "none": "neutral"}
CANDIDATE_TONES = {"chosen": "ok", "eligible": "neutral", "skipped": "warn"}
CLOCK_TONES = {"running": "info", "met": "ok", "breached": "danger", "cancelled": "neutral"}
TARGET_SHORT = {
    "account_owner": "Account owner",
    "opportunity_owner": "Opportunity owner",
    "rep": "Named rep",
    "pool": "Pool",
    "queue": "Queue",
    "approval": "Approval",
}
MATCH_METHODS = {
    "email_domain": "by the email's domain",
    "lead_domain": "by the lead's domain",
    "website_domain": "by the account's website",
    "company_name": "by the company name",
    "fuzzy_name": "by a similar company name",
}
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# --- Plain-language helpers ------------------------------------------------------------------


def rep_text(rep) -> str:
    return f"{rep.name} ({rep.external_id})" if rep is not None else "—"


def minutes_text(minutes) -> str:
    """``5 min``, ``2 h``, ``1 h 30 min``, ``2 d``."""
    if minutes is None:
        return "—"
    minutes = int(minutes)
    if minutes < 60:
        return f"{minutes} min"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else []) + ([f"{mins} min"] if mins else [])
    return " ".join(parts)


def percent(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def weekdays_text(days) -> str:
    days = sorted({int(d) for d in days or [] if str(d).isdigit() and 0 <= int(d) <= 6})
    if days == [0, 1, 2, 3, 4]:
        return "Mon–Fri"
    if days == list(range(7)):
        return "every day"
    return ", ".join(WEEKDAY_NAMES[d] for d in days) or "no days"


def rule_target_text(rule: RoutingRule) -> str:
    """The rule's target for people: "Pool: NA inbound", "Account owner (via parent)", "Queue: Strategic review"…"""
    kind = rule.target_type
    Target = RoutingRule.Target
    person = kind in (Target.ACCOUNT_OWNER, Target.OPPORTUNITY_OWNER, Target.REP, Target.APPROVAL)
    if kind == Target.ACCOUNT_OWNER:
        text = "Account owner (via parent)" if rule.use_parent_account else "Account owner"
    elif kind == Target.OPPORTUNITY_OWNER:
        text = "Open opportunity's owner"
    elif kind == Target.REP:
        text = f"Rep: {rep_text(rule.target_rep)}"
    elif kind == Target.POOL:
        text = f"Pool: {rule.target_pool.name if rule.target_pool_id else '—'}"
    elif kind == Target.QUEUE:
        text = f"Queue: {rule.target_queue or '—'}"
    elif kind == Target.APPROVAL:
        who = rule.approval_owner or RoutingRule.ApprovalOwner.ACCOUNT_OWNER
        if who == RoutingRule.ApprovalOwner.REP:
            proposed = rep_text(rule.target_rep)
        elif who == RoutingRule.ApprovalOwner.OPPORTUNITY_OWNER:
            proposed = "open opportunity's owner"
        else:
            proposed = "account owner" + (" (via parent)" if rule.use_parent_account else "")
        text = f"Approval: {proposed}"
    else:
        text = kind or "—"
    if person and rule.when_unavailable == RoutingRule.WhenUnavailable.ASSIGN_ANYWAY:
        text += " — even when unavailable"
    return text


def rule_conditions_text(rule) -> str:
    return tree_text(rule.conditions, "lead")


def rule_rows(lines) -> list[dict]:
    """``conditions_text`` lines ("  ✓ Country is DE (actual: DE)") as rows for the ✓/✗ list."""
    rows = []
    for line in lines or []:
        stripped = str(line).lstrip(" ")
        depth = (len(str(line)) - len(stripped)) // 2
        mark, _, text = stripped.partition(" ")
        ok = True if mark == "✓" else False if mark == "✗" else None
        rows.append({"depth": depth, "ok": ok, "text": text if ok is not None else stripped, "actual": None})
    for index, row in enumerate(rows):  # an empty group: say what it means
        if row["text"] in ("all of:", "any of:") and (
            index + 1 == len(rows) or rows[index + 1]["depth"] <= row["depth"]
        ):
            row["text"] = "no conditions (every lead)" if row["text"] == "all of:" else "no alternatives (never)"
    return rows


def _datetime(value):
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def _url(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def explanation_context(explanation: dict | None, *, sla: dict | None = None) -> dict:
    """A routing explanation (``RoutingDecision.explanation`` / ``Plan.explanation()``) for the template."""
    e = explanation if isinstance(explanation, dict) else {}
    match = e.get("match") or {}
    rules = []
    for entry in e.get("rules") or []:
        rules.append(
            {
                "rule": entry.get("rule"),
                "priority": entry.get("priority"),
                "status": entry.get("status"),
                "status_tone": RULE_STATUS_TONES.get(entry.get("status"), "neutral"),
                "matched": bool(entry.get("matched")),
                "note": entry.get("note") or "",
                "rows": rule_rows(entry.get("conditions_text")),
            }
        )
    candidates = [{**c, "tone": CANDIDATE_TONES.get(c.get("status"), "neutral")} for c in explanation_candidates(e)]
    pool = e.get("pool") or {}
    sla = dict(sla if sla is not None else (e.get("sla") or {}))
    for key in ("due_at", "started_at", "remind_at", "first_touch_at", "breached_at"):
        if key in sla:
            sla[key] = _datetime(sla[key])
    if sla.get("status"):
        sla["tone"] = CLOCK_TONES.get(sla["status"], "neutral")
    return {
        "match": {
            "status": match.get("status") or "none",
            "label": dict(RoutingDecision.MatchStatus.choices).get(match.get("status") or "none", match.get("status")),
            "tone": MATCH_TONES.get(match.get("status"), "neutral"),
            "method": MATCH_METHODS.get(match.get("method") or "", match.get("method") or ""),
            "score": match.get("score"),
            "evidence": [str(item) for item in match.get("evidence") or []],
            "candidates": match.get("candidates") or [],
        },
        "rules": rules,
        "winner": e.get("rule"),
        "candidates": candidates,
        "pool": {
            "name": pool.get("pool_name"),
            "strategy": dict(Pool.Strategy.choices)
            .get(pool.get("strategy"), pool.get("strategy") or "")
            .split(" (")[0],
            "reason": pool.get("reason"),
        }
        if pool
        else None,
        "sla": sla or None,
        "shadow": e.get("shadow") or None,
        "notes": [str(note) for note in e.get("notes") or []],
        "fallback_reason": e.get("fallback_reason") or "",
        "queue": e.get("queue") or "",
        "approval_owner": e.get("approval_owner") or None,
        "items": e.get("items") or [],
        "inputs": e.get("inputs") or {},
    }


def decision_head(decision: RoutingDecision) -> dict:
    """The decision's outcome line: outcome, owner, rule, mode, latency."""
    return {
        "outcome": decision.outcome,
        "outcome_label": decision.get_outcome_display(),
        "outcome_tone": OUTCOME_TONES.get(decision.outcome, "neutral"),
        "mode": decision.mode,
        "shadow": decision.mode == "shadow",
        "owner": rep_text(decision.owner) if decision.owner_id else None,
        "owner_url": _url("admin:revops_rep_change", decision.owner_id) if decision.owner_id else None,
        "previous_owner": rep_text(decision.previous_owner) if decision.previous_owner_id else None,
        "rule": decision.rule_name or None,
        "rule_url": _url("admin:routing_routingrule_change", decision.rule_id) if decision.rule_id else None,
        "target": TARGET_SHORT.get(decision.target_type, decision.target_type or ""),
        "pool": decision.pool.name if decision.pool_id else None,
        "latency_ms": decision.latency_ms,
        "decided_at": decision.decided_at,
        "summary": decision.summary,
        "reassigned_at": decision.reassigned_at,
        "reassigned_to": rep_text(decision.reassigned_to) if decision.reassigned_to_id else None,
        "url": _url("admin:routing_routingdecision_change", decision.pk),
    }


def decision_panel(decision: RoutingDecision, *, collapse_rules: bool = False) -> dict:
    """Everything ``decision_panel.html`` shows for a stored decision (one query: its SLA clock)."""
    from ..selectors import decision_dict

    return {
        "head": decision_head(decision),
        "x": explanation_context(decision.explanation, sla=decision_dict(decision)["sla"]),
        "collapse_rules": collapse_rules,
    }


def plan_panel(plan) -> dict:
    """Everything ``decision_panel.html`` shows for a preview's ``Plan`` (nothing stored)."""
    outcome = plan.outcome
    head = {
        "outcome": outcome,
        "outcome_label": dict(RoutingDecision.Outcome.choices).get(outcome, outcome),
        "outcome_tone": OUTCOME_TONES.get(outcome, "neutral"),
        "mode": "preview",
        "shadow": False,
        "owner": rep_text(plan.owner) if plan.owner is not None else None,
        "owner_url": _url("admin:revops_rep_change", plan.owner.pk) if plan.owner is not None else None,
        "rule": plan.rule.name if plan.rule is not None else None,
        "rule_url": _url("admin:routing_routingrule_change", plan.rule.pk) if plan.rule is not None else None,
        "target": TARGET_SHORT.get(plan.target_type, plan.target_type or ""),
        "pool": plan.pool.name if plan.pool is not None else None,
        "summary": plan.summary,
        "expected_next": plan.expected_next(),
    }
    return {"head": head, "x": explanation_context(plan.explanation()), "collapse_rules": False}


def lead_routing_panel(lead_id: int) -> dict | None:
    """The why view's "Routing decision" panel: the lead's latest decision (live preferred), or None.

    A constant number of queries: the decision (one or two) and its SLA clock (one).
    """
    from ..selectors import lead_latest_decision

    decision = lead_latest_decision(lead_id)
    if decision is None:
        return None
    return decision_panel(decision, collapse_rules=True)


def safe_next(request, fallback: str) -> str:
    """The POSTed ``next`` URL when it points back into this site, else ``fallback``."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return fallback


def page_context(model_admin, request, title: str) -> dict:
    """The admin's base context for an extra page of ``model_admin`` (preview, backtest, SLA report)."""
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": model_admin.model._meta,
        "has_view_permission": True,
    }
