"""Roll the whole configuration back to an earlier release: apply that release's document again.

The document is applied with ``prune: true`` (what was added since is removed or retired, as each
section prunes), through the same plan and services as any apply, so a rollback that is no longer
valid — a rule naming a rep who has left, a queue now in use — is refused with the located errors
and changes nothing. A rollback that applies is itself a new release (``rolled_back_to`` names the
release it went back to), so a rollback can be rolled back too.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from revops.models import ConfigRelease

from .base import Plan
from .services import config_apply, config_plan


def can_roll_back(user) -> bool:
    """Rolling back changes every rule: only users who may change automations (RevOps admins)."""
    return bool(user and user.is_active and user.has_perm("revops.change_automation"))


def release_get(number: int) -> ConfigRelease:
    release = ConfigRelease.objects.filter(number=number).first()
    if release is None:
        raise ValidationError({"release": f"There is no release {number}."})
    return release


def release_rollback(*, number: int, actor, reason: str, dry_run: bool = False, by_scope: bool = False) -> Plan:
    """Plan (``dry_run``) or apply the configuration of release ``number``; return the plan.

    ``reason`` is required for an apply. The plan's ``release`` is the new release's number when
    something changed; a plan with ``problems`` applied nothing. ``by_scope``: an API token whose
    ``config:write`` scope was checked (as for an apply); people need ``can_roll_back``.
    """
    if actor is not None and not by_scope and not can_roll_back(actor):
        raise PermissionDenied("Rolling back the configuration needs permission to change automations.")
    release = release_get(number)
    reason = (reason or "").strip()
    if not dry_run and not reason:
        raise ValidationError({"reason": "Say why you roll back (the reason is kept with the new release)."})
    document = {**release.document, "prune": True}
    source = f"rollback to release {number}"
    if dry_run:
        return config_plan(document=document, source=source, actor=actor)
    return config_apply(document=document, source=source, actor=actor, reason=reason, rolled_back_to=number)
