"""The "callback request" automation kind and its own action, ``stamp_callback``.

When a lead asks for a callback (custom attribute ``callback_requested`` true), the kind stamps the
lead (its own action: ``attributes["callback_stamp"]``, revertible) and opens an item of its own kind.
"""

from __future__ import annotations

from revops.engine.kinds import AutomationKind, register
from revops.engine.registry import Result, RevertContext, Undo, UndoOutcome, register_action
from revops.engine.types import Action, Outcome
from revops.models import ChangeEntry

ITEM_KIND = "callback_requested"
STAMP = "callback requested"


def _unstamp(ctx: RevertContext, applied, lead) -> Undo:
    """Remove the stamp again, unless the lead holds another since (checks only when ``ctx.live`` is False)."""
    current = (lead.attributes or {}).get("callback_stamp")
    if current is None:
        return Undo(UndoOutcome.NOTHING, note="The lead is not stamped any more.")
    if current != STAMP and not ctx.force:
        return Undo(UndoOutcome.CONFLICT, note=f"The stamp now reads {current!r}.", current=current)
    undo = Undo(
        UndoOutcome.REVERT,
        note="The stamp is removed.",
        current=current,
        feed=[
            {
                "kind": ChangeEntry.Kind.FIELD_UPDATED,
                "object_type": "lead",
                "external_id": lead.external_id,
                "payload": {"field": "callback_stamp", "value": None, "reverted": True},
            }
        ],
    )
    if ctx.live:
        lead.attributes = {k: v for k, v in lead.attributes.items() if k != "callback_stamp"}
        lead.save(update_fields=["attributes", "updated_at"])
    return undo


@register_action("stamp_callback", label="Stamp the callback request", revert=_unstamp)
def stamp_callback(ex, params: dict, *, live: bool) -> Result:
    object_type, lead = ex.target(params, live=live)
    before = (lead.attributes or {}).get("callback_stamp")
    result = Result(status="applied", before={"stamp": before}, after={"stamp": STAMP}, target=(object_type, lead.pk))
    if not live:
        return result
    if before == STAMP:
        result.status, result.note = "skipped", "already stamped"
        return result
    lead.attributes = {**(lead.attributes or {}), "callback_stamp": STAMP}
    lead.save(update_fields=["attributes", "updated_at"])
    return result


@register
class CallbackRequest(AutomationKind):
    key = "callback_request"
    label = "Callback request"
    object_types = ("lead",)

    def evaluate(self, record, *, version, predicate, context) -> Outcome:
        wanted = bool((record.attributes or {}).get("callback_requested"))
        if not wanted:
            return Outcome(fired=False, summary="No callback was requested.", explanation={"callback_requested": False})
        return Outcome(
            fired=True,
            summary=f"{record} asked for a callback.",
            expected_next="The owner calls the lead back today.",
            explanation={"callback_requested": True},
            actions=[
                Action("stamp_callback", {}),
                Action(
                    "open_exception",
                    {"kind": ITEM_KIND, "title": f"Call back {record}", "reason": "The lead asked for a callback."},
                ),
            ],
        )
