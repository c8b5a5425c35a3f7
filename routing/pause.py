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

from revops.audit import audited

from .models import RoutingRule

FIELDS = ["paused_at", "paused_by", "pause_reason", "updated_at"]


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
    locked = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    if locked.paused_at is not None:
        return False
    locked.paused_at, locked.paused_by, locked.pause_reason = timezone.now(), actor, reason
    with audited(actor=actor, reason=f"paused: {reason}"):
        locked.save(update_fields=FIELDS)  # updated_at moves, so every worker's cached rule set reloads
    rule.paused_at, rule.paused_by, rule.pause_reason = locked.paused_at, actor, reason
    return True


@transaction.atomic
def routing_rule_resume(*, rule: RoutingRule, actor, reason: str) -> bool:
    """Resume ``rule``: the next matching lead is routed by it again. False when it was not paused."""
    reason = _reason(reason, "resume")
    locked = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    if locked.paused_at is None:
        return False
    locked.paused_at, locked.paused_by, locked.pause_reason = None, None, ""
    with audited(actor=actor, reason=f"resumed: {reason}"):
        locked.save(update_fields=FIELDS)
    rule.paused_at, rule.paused_by, rule.pause_reason = None, None, ""
    return True
