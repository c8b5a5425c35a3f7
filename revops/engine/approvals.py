"""The engine's side of approvals: what the queue calls back when a person decides on a prepared action.

Registered for ``approval_required`` items in ``revops.engine.setup``. Approving applies the action
through the executor (``revops.engine.actions.approval_execute``); rejecting marks the prepared
``AppliedAction`` skipped with who said no and why; overriding lets a person change the one thing
the action's parameters say can change — the owner of an assignment (``owner_id``) or the value of
a field update (``value``) — and nothing else, so an override cannot retarget another record.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from exceptions.registry import OverrideField
from revops.models import AppliedAction, Rep

from .actions import approval_execute, approval_settle_joined
from .registry import ActionError


def approval_apply(item, actor) -> str:
    """Apply an approved proposal through the engine; the status of the applied action."""
    try:
        applied = approval_execute(item=item, actor=actor)
    except ActionError as exc:
        raise ValidationError(f"The prepared action cannot be applied: {exc}") from exc
    return getattr(applied, "status", "applied")


@transaction.atomic
def approval_reject(item, actor, reason: str) -> None:
    """The prepared action will not happen: its ``AppliedAction`` becomes skipped, with who and why."""
    proposal = item.proposal or {}
    who = actor.get_username() if actor is not None else "someone"
    approval_settle_joined(item=item, note=f"rejected with approval #{item.pk} by {who}: {reason}")
    applied = (
        AppliedAction.objects.select_for_update()
        .filter(run_id=proposal.get("run"), index=proposal.get("index"), status=AppliedAction.Status.APPROVAL)
        .first()
    )
    if applied is None:
        return
    applied.status = AppliedAction.Status.SKIPPED
    applied.after = {**(applied.after or {}), "note": f"rejected by {who}: {reason}"}
    applied.save(update_fields=["status", "after"])


def approval_override_field(proposal: dict) -> OverrideField | None:
    """What a person may change: a different owner for an assignment, a different value for a field update."""
    params = proposal.get("params") or {}
    if "owner_id" in params:
        reps = Rep.objects.filter(is_active=True).order_by("name").values_list("external_id", "name")
        return OverrideField(
            "owner",
            "Different owner",
            "Apply the prepared assignment with this owner instead of the proposed one.",
            tuple((ext, f"{name} ({ext})") for ext, name in reps),
        )
    if "value" in params:
        proposed = params.get("value")
        help_text = "Apply the prepared field update with this value instead."
        return OverrideField(
            "value", "Different value", help_text + (f" Proposed: {proposed}." if proposed is not None else "")
        )
    return None


def approval_override_params(proposal: dict, params: dict) -> dict:
    """The proposal's parameters with the one allowed change; ``owner`` (a rep's external id) becomes ``owner_id``."""
    field = approval_override_field(proposal)
    allowed = {field.name} if field is not None else set()
    unknown = sorted(set(params) - allowed)
    if unknown or not params:
        what = f"only {field.name!r} can be changed" if field is not None else "nothing can be changed"
        raise ValidationError({"params": f"In this prepared action {what} (got {', '.join(unknown) or 'nothing'})."})
    merged = dict(proposal.get("params") or {})
    if "owner" in params:
        ext = params["owner"]
        rep = Rep.objects.filter(external_id=str(ext)).only("pk").first()
        if rep is None:
            raise ValidationError({"owner": f"No rep with external id {ext!r}."})
        merged["owner_id"] = rep.pk
    else:
        merged["value"] = params["value"]
    return merged
