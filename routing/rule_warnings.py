"""What is risky about the routing rules as a set, in plain language: read-only checks for the rules admin.

- **Same priority**: two rules (not disabled) share a priority, so their order rests on which was
  created first — nobody chose it.
- **Never reached**: an earlier live rule holds for every lead the rule could see (no conditions,
  or exactly the same conditions) and always takes the lead (a queue, or an active pool: a capped
  pool goes to the fallback, never to the next rule), so the rule is never evaluated.
- **No fallback**: live rules exist, no live rule catches every lead and the routing automation
  has no fallback, so a lead no rule takes gets no owner (an exception item says so, later).
- **No router**: no live or shadow *Lead routing* automation, so the rules route nothing.

``evaluation_order_text`` and ``fallback_text`` are the rules list's statement of how rules are
evaluated and where the rest goes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from revops.models import Automation

from .models import RoutingRule
from .services import routing_automation

Status = RoutingRule.Status
Target = RoutingRule.Target
EVERY_LEAD = {"all": []}


@dataclass(frozen=True)
class RuleWarning:
    """One warning; ``rule_id`` is None for a warning about the set (no fallback, no router)."""

    kind: str  # "same_priority", "unreachable", "no_fallback", "no_router"
    message: str
    rule_id: int | None = None
    rule_name: str = ""


def _conditions_key(rule: RoutingRule) -> str:
    return json.dumps(rule.conditions or EVERY_LEAD, sort_keys=True)


def catches_every_lead(rule: RoutingRule) -> bool:
    """A rule without conditions: it holds for every lead."""
    return (rule.conditions or EVERY_LEAD) == EVERY_LEAD


def always_takes(rule: RoutingRule) -> bool:
    """A live rule that ends the evaluation whenever its conditions hold (a queue, or an active pool)."""
    if rule.status != Status.LIVE:
        return False
    if rule.target_type == Target.QUEUE:
        return bool(rule.target_queue)
    if rule.target_type == Target.POOL:
        return rule.target_pool is not None and rule.target_pool.is_active
    return False


def ordered_rules() -> list[RoutingRule]:
    """Every rule but the disabled ones, in evaluation order (priority, then the older rule first)."""
    return list(
        RoutingRule.objects.exclude(status=Status.DISABLED).select_related("target_pool").order_by("priority", "pk")
    )


def fallback_text(automation: Automation | None) -> str:
    """Where leads no rule takes go, as people read it."""
    if automation is None:
        return "nowhere: there is no live or shadow Lead routing automation"
    spec = (automation.config or {}).get("fallback") or {"type": "none"}
    kind = spec.get("type", "none")
    if kind == "pool":
        return f"the pool {spec.get('pool')}"
    if kind == "rep":
        return f"the rep {spec.get('rep')}"
    if kind == "queue":
        return f"manual review in the {spec.get('queue')} queue"
    return "nobody: the routing automation has no fallback, so such a lead gets no owner and an exception item"


def catch_all_rule(rules: list[RoutingRule]) -> RoutingRule | None:
    """The first live rule without conditions that always takes the lead: no lead goes past it."""
    return next((r for r in rules if catches_every_lead(r) and always_takes(r)), None)


def has_fallback(automation: Automation | None) -> bool:
    spec = ((automation.config or {}).get("fallback") if automation else None) or {"type": "none"}
    return spec.get("type", "none") != "none"


EVALUATION_ORDER = (
    "Rules are tried in priority order, lowest first (on equal priorities, the older rule first). The first live "
    "rule whose conditions hold and whose target can take the lead wins; shadow rules only record what they would "
    "have done; drafts take part only in previews and backtests; disabled rules are skipped."
)


def rule_warnings(rules: list[RoutingRule] | None = None, *, automation=None, check_router=True) -> list[RuleWarning]:
    """The warnings for ``rules`` (default: every rule but the disabled ones), in evaluation order."""
    rules = ordered_rules() if rules is None else sorted(rules, key=lambda r: (r.priority, r.pk is None, r.pk or 0))
    warnings: list[RuleWarning] = []

    same: dict[int, list[RoutingRule]] = defaultdict(list)
    for rule in rules:
        same[rule.priority].append(rule)
    for priority, group in same.items():
        if len(group) < 2:
            continue
        for rule in group:
            others = ", ".join(f"“{other.name}”" for other in group if other is not rule)
            warnings.append(
                RuleWarning(
                    "same_priority",
                    f"“{rule.name}” has the same priority ({priority}) as {others}: their order rests on which "
                    "was created first. Give each rule its own priority (or use ▲/▼).",
                    rule.pk,
                    rule.name,
                )
            )

    stoppers: list[RoutingRule] = []
    for rule in rules:
        for earlier in stoppers:
            if catches_every_lead(earlier) or _conditions_key(earlier) == _conditions_key(rule):
                which = "every lead" if catches_every_lead(earlier) else "the same leads"
                warnings.append(
                    RuleWarning(
                        "unreachable",
                        f"“{rule.name}” is never reached: “{earlier.name}” (priority {earlier.priority}) comes "
                        f"first, holds for {which} and always takes the lead. Move “{rule.name}” above it, or "
                        f"narrow “{earlier.name}”.",
                        rule.pk,
                        rule.name,
                    )
                )
                break
        if always_takes(rule):
            stoppers.append(rule)

    live = [rule for rule in rules if rule.status == Status.LIVE]
    if check_router:
        automation = routing_automation() if automation is None else automation
        if automation is None:
            warnings.append(
                RuleWarning(
                    "no_router",
                    "No live or shadow Lead routing automation: the rules route nothing "
                    "(Revops core → Automations, kind Lead routing).",
                )
            )
        elif live and not any(catches_every_lead(r) and always_takes(r) for r in live) and not has_fallback(automation):
            warnings.append(
                RuleWarning(
                    "no_fallback",
                    f"Live rules without a fallback: a lead no live rule takes gets no owner. Set a fallback in "
                    f"the config of “{automation.name}”, or end the list with a live rule without conditions "
                    "that routes to a pool or a queue.",
                )
            )
    return warnings


def warnings_for(rule: RoutingRule, warnings: list[RuleWarning]) -> list[RuleWarning]:
    """The warnings about ``rule`` and about the set (no fallback, no router)."""
    return [w for w in warnings if w.rule_id in (None, rule.pk)]
