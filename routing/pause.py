"""The kill switch of one routing rule: pause it (reason required), resume it; both audited in the rule's history.

While a live rule is paused, the leads it matches go to the routing automation's fallback with a
"Routing paused" item that names the rule, who paused it and why (``routing.engine``). They are
not tried against the next rules: a lead meant for a paused rule could match a later, broader
rule that was never meant for it, and the fallback plus an item is the safer, visible place.
Pausing the whole router is the engine's generic automation pause (``revops.engine.pause``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revops.engine.pause import pause_set

from .models import RoutingRule


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": f"Say why you {what} this rule: a reason is required and kept in its history."}
        )
    return reason


@transaction.atomic
def routing_rule_pause(*, rule: RoutingRule, actor, reason: str) -> bool:
    """Pause ``rule`` for the next lead; False when it was already paused (nothing changes)."""
    reason = _reason(reason, "pause")
    return pause_set(rule, paused=True, actor=actor, reason=reason, history=f"paused: {reason}")


@transaction.atomic
def routing_rule_resume(*, rule: RoutingRule, actor, reason: str) -> bool:
    """Resume ``rule``: the next matching lead is routed by it again. False when it was not paused."""
    reason = _reason(reason, "resume")
    return pause_set(rule, paused=False, actor=actor, reason=reason, history=f"resumed: {reason}")


# --- what the router says about a pause (routing.engine) ------------------------------------------------


def rule_pause_sentence(rule: RoutingRule) -> str:
    """ "routing rule 'EMEA enterprise' is paused by Ana since 2026-12-06 10:02 (reason: …)"."""
    by = (rule.paused_by.get_full_name() or rule.paused_by.get_username()) if rule.paused_by else "someone"
    since = f" since {timezone.localtime(rule.paused_at):%Y-%m-%d %H:%M}" if rule.paused_at else ""
    return f"routing rule {rule.name!r} is paused by {by}{since} (reason: {rule.pause_reason or 'none given'})"


def paused_item(lead, plan, *, how: str) -> dict:
    """The "Routing paused" item of a lead that went to the fallback because the router or its rule is paused."""
    where = f"this lead went to {plan.owner.name} through the fallback" if plan.owner else "this lead has NO owner"
    return {
        "kind": "routing_paused",
        "title": f"Routing paused: {lead} {'went to the fallback' if plan.owner else 'has no owner'}"[:200],
        "reason": f"{plan.fallback_reason[0].upper()}{plan.fallback_reason[1:]}; {where} ({how}).",
        "expected_action": "Check the owner is right (reassign in the CRM if not); the lead is routed by "
        "the rules again only if someone re-routes it once routing is resumed.",
        "severity": "medium" if plan.owner else "high",
        "dedupe_key": f"routing:paused:lead:{lead.pk}",
        "owner": "rule_owner",
    }
