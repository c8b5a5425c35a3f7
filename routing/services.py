"""Routing writes: rules (validated, ordered), re-routing, preview, and the event hooks.

- ``routing_rule_save`` / ``routing_rules_reorder``: the admin and config-as-code go through these;
  conditions are validated against the data dictionary and ``fields_used`` derived.
- ``lead_reroute``: route a lead again through the routing automation (SLA breach, admin action).
- ``routing_preview``: "who would get this lead?" — decides for an unsaved lead and writes nothing.

The event hooks (manual reassignments, first touches) are in ``routing.hooks``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revops import conditions
from revops.audit import audited
from revops.models import Automation, Lead

from .models import RoutingDecision, RoutingRule

ROUTING_KIND = "lead_routing"


class RoutingUnavailable(Exception):
    """No live or shadow routing automation exists."""


def routing_automation(*, modes=(Automation.Mode.LIVE, Automation.Mode.SHADOW)) -> Automation | None:
    """The routing automation (live preferred over shadow)."""
    qs = Automation.objects.filter(kind=ROUTING_KIND, object_type="lead", mode__in=list(modes))
    return qs.order_by("-mode", "pk").first()  # "shadow" < "live" alphabetically → live first when descending


# --- rules ---------------------------------------------------------------------------------


def routing_rule_clean(rule: RoutingRule) -> None:
    """Validate ``rule`` in place (canonical conditions, derived fields, a coherent target); raise ``ValidationError``."""
    errors = {}
    try:
        rule.conditions = conditions.clean_condition(rule.conditions or {"all": []}, object_type="lead")
        rule.fields_used = sorted(conditions.fields_used(rule.conditions))
    except ValidationError as exc:
        errors["conditions"] = exc.messages
    target = rule.target_type
    needs = {
        RoutingRule.Target.REP: ("target_rep", "a rep"),
        RoutingRule.Target.POOL: ("target_pool", "a pool"),
        RoutingRule.Target.QUEUE: ("target_queue", "a queue name"),
    }
    if target not in RoutingRule.Target.values:
        errors["target_type"] = [f"unknown target {target!r}"]
    elif target in needs:
        name, what = needs[target]
        if not getattr(rule, f"{name}_id" if name != "target_queue" else name):
            errors[name] = [f"the target “{rule.get_target_type_display()}” needs {what}"]
    if target == RoutingRule.Target.QUEUE and rule.target_queue:
        from exceptions.models import Queue

        if not Queue.objects.filter(name=rule.target_queue).exists():
            errors["target_queue"] = [f"there is no exception queue named {rule.target_queue!r}"]
    if target == RoutingRule.Target.APPROVAL:
        if not rule.approval_owner:
            rule.approval_owner = RoutingRule.ApprovalOwner.ACCOUNT_OWNER
        if rule.approval_owner == RoutingRule.ApprovalOwner.REP and not rule.target_rep_id:
            errors["target_rep"] = ["an approval of a named rep needs the rep"]
    if errors:
        raise ValidationError(errors)


def routing_rule_save(*, rule: RoutingRule, actor, reason: str = "") -> RoutingRule:
    """Validate a rule completely (the model's checks — choices, unique name — and ``routing_rule_clean``'s,
    all reported at once), then save it; history names ``actor``."""
    errors: dict[str, list[str]] = {}
    try:
        rule.full_clean(exclude=["conditions", "fields_used"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        routing_rule_clean(rule)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, messages)  # e.g. an unknown target_type is already reported by the model
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), audited(actor=actor, reason=reason or f"routing rule {rule.name} saved"):
        rule.save()
    return rule


def routing_rules_reorder(*, rule_ids: list[int], actor, step: int = 10) -> list[RoutingRule]:
    """Give the rules the priorities 10, 20, 30… in the order of ``rule_ids``; others keep theirs after them."""
    rules = {r.pk: r for r in RoutingRule.objects.select_for_update().filter(pk__in=rule_ids)}
    missing = [pk for pk in rule_ids if pk not in rules]
    if missing:
        raise ValidationError({"rules": f"unknown routing rule id(s): {missing}"})
    with transaction.atomic(), audited(actor=actor, reason="routing rules reordered"):
        for position, pk in enumerate(rule_ids, start=1):
            rule = rules[pk]
            if rule.priority != position * step:
                rule.priority = position * step
                rule.save(update_fields=["priority", "updated_at"])
    return [rules[pk] for pk in rule_ids]


def _order(priorities: dict[int, int]) -> list[int]:
    return sorted(priorities, key=lambda pk: (priorities[pk], pk))


def _move_plan(priorities: dict[int, int], moved: int, neighbour: int) -> dict[int, int] | None:
    """The fewest priority changes that swap ``moved`` with its ``neighbour`` in the order, others untouched.

    Tried in turn: exchanging the two priorities (the usual case), then a new priority for the moved
    rule alone (equal priorities: e.g. 75 between 50 and 100). None when only renumbering would do.
    """
    wanted = _order(priorities)
    i, j = wanted.index(moved), wanted.index(neighbour)
    wanted[i], wanted[j] = wanted[j], wanted[i]
    candidates = [{moved: priorities[neighbour], neighbour: priorities[moved]}]
    before = wanted[wanted.index(moved) - 1] if wanted.index(moved) > 0 else None
    after = wanted[wanted.index(moved) + 1] if wanted.index(moved) + 1 < len(wanted) else None
    low = priorities[before] if before is not None else priorities[neighbour] - 10
    high = priorities[after] if after is not None else priorities[neighbour] + 10
    for value in dict.fromkeys(((low + high) // 2, low, high, low + 1, high - 1)):
        if value >= 0:
            candidates.append({moved: value})
    for change in candidates:
        if change.get(moved) == priorities[moved] and len(change) == 1:
            continue
        if _order({**priorities, **change}) == wanted:
            return {pk: value for pk, value in change.items() if priorities[pk] != value}
    return None


def routing_rule_move(*, rule: RoutingRule, direction: str, actor) -> list[RoutingRule]:
    """Move ``rule`` one place up or down in the order; return the rules whose priority changed.

    Only the rule and the one it passes change (their priorities are exchanged; with equal
    priorities the moved rule alone gets one between its new neighbours); every other rule keeps its
    number. Only when no such number exists (e.g. 0, 1 and 2 in a row) are all rules renumbered
    10, 20, 30….
    """
    with transaction.atomic():
        rows = RoutingRule.objects.select_for_update().order_by("priority", "pk")
        priorities = dict(rows.values_list("pk", "priority"))
        ordered = _order(priorities)
        index = ordered.index(rule.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(ordered):
            return []
        plan = _move_plan(priorities, rule.pk, ordered[other])
        if plan is None:
            ordered[index], ordered[other] = ordered[other], ordered[index]
            before = dict(priorities)
            rules = routing_rules_reorder(rule_ids=ordered, actor=actor)
            return [r for r in rules if r.priority != before[r.pk]]
        changed = {r.pk: r for r in RoutingRule.objects.filter(pk__in=plan)}
        with audited(actor=actor, reason=f"routing rule {rule.name} moved {direction}"):
            for pk, value in plan.items():
                changed[pk].priority = value
                changed[pk].save(update_fields=["priority", "updated_at"])
        return list(changed.values())


# --- re-routing and preview --------------------------------------------------------------------


def lead_reroute(*, lead_id: int, exclude_rep_ids=(), reason: str = "", now=None, trigger_key: str = ""):
    """Route lead ``lead_id`` again through the routing automation; returns its ``RoutingDecision`` or None.

    ``exclude_rep_ids`` (e.g. the owner who missed the SLA) cannot be chosen. ``trigger_key`` makes
    the call idempotent (the engine runs a version once per key); by default every call is new.
    """
    from revops.engine.pause import automation_pause_state, pause_all_state
    from revops.engine.pipeline import active_rules, load_records, run_rule

    automation = routing_automation()
    if automation is None:
        raise RoutingUnavailable("no live or shadow lead routing automation")
    rules = active_rules(["lead"], automation_ids=[automation.pk]).get("lead") or []
    if not rules:
        raise RoutingUnavailable(f"the routing automation {automation.name} has no current version")
    lead = load_records("lead", [lead_id]).get(lead_id)
    if lead is None:
        return None
    options = {"force": True, "exclude": list(exclude_rep_ids), "reason": reason}
    pause = automation_pause_state(rules[0].automation, pause_all_state())
    if pause is not None:
        options["paused"] = pause  # a paused router re-routes to its fallback, with a "Routing paused" item
    _status, run = run_rule(
        rules[0],
        lead,
        trigger_key=trigger_key or f"reroute:{uuid.uuid4().hex}",
        now=now or timezone.now(),
        options=options,
    )
    return RoutingDecision.objects.filter(run=run).order_by("-pk").first()


PREVIEW_FIELDS = ("email", "first_name", "last_name", "company", "domain", "title", "country", "state", "source")


def routing_preview(*, values: dict, include_drafts: bool = False, now: dt.datetime | None = None):
    """Decide for a lead that is typed in, not stored; returns the ``Plan``. Writes nothing.

    Uses the routing automation's config (live, else shadow, else draft) and the live and shadow
    rules, plus draft rules when ``include_drafts``. Pools are read without locks or counting.
    """
    from .engine import RoutingConfig
    from .kind import build_router

    automation = routing_automation(modes=(Automation.Mode.LIVE, Automation.Mode.SHADOW, Automation.Mode.DRAFT))
    config = RoutingConfig.from_config(automation.config if automation is not None else {})
    lead = Lead(external_id=str(values.get("external_id") or "preview"), status=values.get("status") or "new")
    for key in PREVIEW_FIELDS:
        setattr(lead, key, str(values.get(key) or ""))
    score = values.get("score")
    lead.score = int(score) if score not in (None, "") else None
    lead.attributes = dict(values.get("attributes") or {})
    statuses = [RoutingRule.Status.LIVE, RoutingRule.Status.SHADOW]
    if include_drafts:
        statuses.append(RoutingRule.Status.DRAFT)
    router = build_router(config=config, lock=False, statuses=statuses)
    with transaction.atomic():
        plan = router.decide(lead, now=now or timezone.now())
        transaction.set_rollback(True)  # belt and braces: a preview never writes
    return plan
