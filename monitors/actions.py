"""The monitors' one action: propose a deal's forecast category — never applied without a manager's approval.

Changing a forecast category is the manager's decision (DESIGN §1 principle 3). So:

- ``propose_forecast_category`` is registered ``always_approved``: whatever the automation's risk, a live
  run only prepares it, as an ``approval_required`` item for the manager of the deal owner's team (in
  that team's queue, the nearest up the tree); approving applies it, rejecting applies nothing;
- it is compare-and-swap: the proposal carries the category the deal had (``expected``); if the deal
  moved since, approving changes nothing (skipped, saying what it holds now); it can be reverted;
- the forecast category is a *guarded field* (``register_field_guard``): a plain field update of it by
  any automation (e.g. a ``field_update`` automation at low risk) also waits for that manager's approval.

Both share the approval topic ``field:forecast_category``, so one deal has at most one open approval
about its category, whichever automations propose it. Importing this module registers them.
"""

from __future__ import annotations

from revops.engine.registry import (
    ActionError,
    Result,
    RevertContext,
    Undo,
    UndoOutcome,
    register_action,
    register_field_guard,
)
from revops.models import ChangeEntry, Opportunity

FIELD = "forecast_category"
WHY = "changing a forecast category is the manager's decision"
CATEGORIES = dict(Opportunity.ForecastCategory.choices)

register_field_guard("opportunity", FIELD, reason=WHY, approver="owner_manager")


def _save(deal: Opportunity, value: str) -> None:
    deal.forecast_category = value
    deal.save(update_fields=[FIELD, "updated_at"])


def _revert(ctx: RevertContext, applied, deal) -> Undo:
    """Put the category back unless the deal holds another one since."""
    current, previous = deal.forecast_category, (applied.before or {}).get("value")
    now = CATEGORIES.get(current, current)
    if current == previous:
        return Undo(UndoOutcome.NOTHING, note=f"The deal is back in {now} already.", current=now)
    if current != (applied.after or {}).get("value") and not ctx.force:
        return Undo(UndoOutcome.CONFLICT, note=f"The forecast category changed since: it is {now} now.", current=now)
    undo = Undo(UndoOutcome.REVERT, note=f"Goes back to {CATEGORIES.get(previous, previous)}.", current=now)
    if ctx.live:
        _save(deal, previous)
        undo.feed.append(
            {
                "kind": ChangeEntry.Kind.FIELD_UPDATED,
                "object_type": "opportunity",
                "external_id": deal.external_id,
                "payload": {"field": FIELD, "value": previous, "previous": current, "reverted": True},
            }
        )
    return undo


@register_action(
    "propose_forecast_category",
    label="Change forecast category",
    revert=_revert,
    always_approved=True,
    approval_reason=WHY,
    topic=lambda params: f"field:{FIELD}",
    approver="owner_manager",
)
def propose_forecast_category(ex, params: dict, *, live: bool) -> Result:
    """Params: ``value`` (the proposed category) and ``expected`` (the category when proposed; None: any)."""
    object_type, deal = ex.target(params, live=live)
    if object_type != "opportunity":
        raise ActionError("only a deal (opportunity) has a forecast category")
    value = params.get("value")
    if value not in CATEGORIES:
        raise ActionError(f"{value!r} is not a forecast category ({', '.join(CATEGORIES)})")
    current = deal.forecast_category
    result = Result(
        status="applied",
        before={"key": FIELD, "value": current},
        after={"key": FIELD, "value": value},
        target=(object_type, deal.pk),
    )
    if not live:
        return result
    expected = params.get("expected")
    if expected is not None and current != expected:
        result.status = "skipped"
        result.note = (
            f"the forecast category changed since it was proposed: it was {CATEGORIES.get(expected, expected)}, "
            f"it is now {CATEGORIES.get(current, current)}"
        )
        return result
    if current == value:
        result.status, result.note = "skipped", "already has this value"
        return result
    _save(deal, value)
    ex.note_record_touched(object_type, deal)
    result.feed.append(
        {
            "kind": ChangeEntry.Kind.FIELD_UPDATED,
            "object_type": object_type,
            "external_id": deal.external_id,
            "payload": {"field": FIELD, "value": value, "previous": current},
        }
    )
    return result
