"""Approvals: a person approves, rejects or overrides an action automation prepared — or sends it
back for review (``exception_approval_send_back``) when they need someone else's answer first.

The queue stores the request (an item whose kind has an approval handler, with the prepared
``proposal``); approving or overriding calls the handler the producing layer registered
(``exceptions.registry.register_approval_handler`` — the engine's applies the action through its
executor), then closes the item with the decision. ``automation_override_rate`` counts how often
people changed what an automation prepared.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from .errors import ItemStateError
from .models import ExceptionItem
from .registry import approval_handler, approval_kinds
from .services import (
    Status,
    item_close,
    item_locked,
    item_require_open,
    item_save,
    item_synced,
    person_name,
    text_required,
)


def _locked_approval(item: ExceptionItem, action: str) -> ExceptionItem:
    locked = item_locked(item)
    if approval_handler(locked.kind) is None or not locked.proposal:
        raise ItemStateError(f"Item #{locked.pk} is not an approval request.")
    if locked.decision:
        raise ItemStateError(f"Item #{locked.pk} was already {locked.get_decision_display().lower()}.")
    item_require_open(locked, action)
    return locked


def _decide(locked: ExceptionItem, *, decision: str, note: str, actor, reason: str) -> None:
    locked.decision = decision
    status = Status.RESOLVED if decision != ExceptionItem.Decision.REJECTED else Status.DISMISSED
    item_close(
        locked, status=status, code=decision, note=note, actor=actor, reason=reason, also=("decision", "proposal")
    )


def _execute(locked: ExceptionItem, actor) -> str:
    """Apply the proposal through the handler registered for the item's kind; the status word it returns."""
    return approval_handler(locked.kind).apply(locked, actor)


@transaction.atomic
def exception_approval_approve(*, item: ExceptionItem, actor, note: str = "") -> ExceptionItem:
    """Approve a prepared action: the engine's executor applies it (history names ``actor``), then the
    item is resolved with decision ``approved``. Approving twice is refused."""
    locked = _locked_approval(item, "approve")
    status = _execute(locked, actor)
    _decide(
        locked,
        decision=ExceptionItem.Decision.APPROVED,
        note=(note or "").strip() or f"Approved; the action was {status}.",
        actor=actor,
        reason=f"approved: {locked.proposal.get('action', 'action')}",
    )
    return item_synced(item, locked)


@transaction.atomic
def exception_approval_reject(*, item: ExceptionItem, reason: str, actor) -> ExceptionItem:
    """Reject a prepared action (``reason`` required): nothing is applied; the item is closed as rejected."""
    reason = text_required(reason, "reason", "Say why the prepared action is rejected.")
    locked = _locked_approval(item, "reject")
    handler = approval_handler(locked.kind)
    if handler.reject is not None:
        handler.reject(locked, actor, reason)
    _decide(locked, decision=ExceptionItem.Decision.REJECTED, note=reason, actor=actor, reason=f"rejected: {reason}")
    return item_synced(item, locked)


def send_back_default(item: ExceptionItem):
    """Who a send-back goes to when nobody is named: the person who last sent it back to the approver
    (the answer goes back to whoever asked), else the rule owner of the automation that prepared it."""
    reviews = (item.proposal or {}).get("reviews") or []
    if reviews:
        asked_by = get_user_model().objects.filter(pk=reviews[-1].get("by_id"), is_active=True).first()
        if asked_by is not None:
            return asked_by
    automation = item.automation
    return automation.rule_owner if automation is not None and automation.rule_owner_id else None


@transaction.atomic
def exception_approval_send_back(*, item: ExceptionItem, actor, note: str, to=None) -> ExceptionItem:
    """Neither approve nor reject yet: hand the request to ``to`` (default ``send_back_default``) with a
    question or a request to check something (``note`` required). The item stays open and undecided,
    owned by ``to``; every send-back is kept on the request (``proposal["reviews"]``) and in the
    history, so the approver who answers next sees the whole exchange."""
    note = text_required(note, "note", "Say what should be checked or answered before a decision.")
    locked = _locked_approval(item, "send back")
    to = to or send_back_default(locked)
    if to is None:
        raise ValidationError(
            {"to": "Choose who should review it: the automation that prepared it names no rule owner."}
        )
    if to.pk == getattr(actor, "pk", None):
        raise ValidationError({"to": "Send it to someone else: you are the one deciding now."})
    proposal = dict(locked.proposal)
    proposal["reviews"] = [
        *(proposal.get("reviews") or []),
        {
            "by_id": getattr(actor, "pk", None),
            "by": person_name(actor),
            "to_id": to.pk,
            "to": person_name(to),
            "note": note,
            "at": timezone.now().isoformat(),
        },
    ]
    locked.proposal = proposal
    locked.owner = to
    locked.claimed_at = timezone.now()
    locked.status = Status.IN_PROGRESS
    item_save(
        locked,
        ["proposal", "owner", "claimed_at", "status"],
        actor=actor,
        reason=f"sent back to {to.get_username()} for review: {note}"[:100],
    )
    return item_synced(item, locked)


def _override_params(kind: str, proposal: dict, params: dict) -> dict:
    """The action's parameters with a person's change, as the approval handler allows and maps it."""
    handler = approval_handler(kind)
    if handler is None or handler.override_params is None:
        raise ValidationError({"params": "This prepared action cannot be changed; approve or reject it."})
    return handler.override_params(proposal, params)


@transaction.atomic
def exception_approval_override(*, item: ExceptionItem, actor, params: dict, note: str = "") -> ExceptionItem:
    """Apply the prepared action with a human's changes, e.g. ``{"owner": "R-17"}`` for a different owner.

    ``params`` replace the proposal's parameters (the original ones are kept in the proposal as
    ``original_params``); the engine applies the result and the item is resolved with decision
    ``overridden``, which ``automation_override_rate`` counts.
    """
    if not params:
        raise ValidationError({"params": "Say what to change in the prepared action."})
    locked = _locked_approval(item, "override")
    proposal = dict(locked.proposal)
    proposal.setdefault("original_params", proposal.get("params") or {})
    proposal["params"] = _override_params(locked.kind, proposal, params)
    proposal["overridden_with"] = dict(params)
    locked.proposal = proposal
    locked.save(update_fields=["proposal"])  # approval_execute reads it from the row
    status = _execute(locked, actor)
    changes = ", ".join(f"{k}={v}" for k, v in params.items())
    _decide(
        locked,
        decision=ExceptionItem.Decision.OVERRIDDEN,
        note=(note or "").strip() or f"Overridden ({changes}); the action was {status}.",
        actor=actor,
        reason=f"overridden: {changes}",
    )
    return item_synced(item, locked)


def approval_decision_counts(items) -> dict[str, Any]:
    """Counts of the approval items among ``items`` by decision, and ``override_rate`` =
    overridden / decided (None when nothing was decided yet)."""
    rows = dict(items.filter(kind__in=approval_kinds()).values_list("decision").annotate(n=Count("id")).order_by())
    approved = rows.get(ExceptionItem.Decision.APPROVED, 0)
    rejected = rows.get(ExceptionItem.Decision.REJECTED, 0)
    overridden = rows.get(ExceptionItem.Decision.OVERRIDDEN, 0)
    decided = approved + rejected + overridden
    return {
        "approvals": sum(rows.values()),
        "pending": rows.get("", 0),
        "approved": approved,
        "rejected": rejected,
        "overridden": overridden,
        "override_rate": round(overridden / decided, 4) if decided else None,
    }


def automation_override_rate(*, automation) -> dict[str, Any]:
    """How often humans changed what an automation prepared: counts of its decided approvals and
    ``override_rate`` = overridden / decided (None when nothing was decided yet). The dashboard's
    "Override rate" (``exceptions.metrics``) counts the same way, per day and team."""
    return approval_decision_counts(ExceptionItem.objects.filter(automation=automation))
