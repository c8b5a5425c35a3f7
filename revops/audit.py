"""One way to say who changed what and why, for admin edits, services and jobs alike.

Inside ``with audited(actor=user, reason="…"):`` every history row django-simple-history writes
gets that user and change reason, unless the instance already set its own. Outside a request
(jobs, management commands, automations) this is the only way history learns the actor.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from simple_history.signals import pre_create_historical_record


@dataclass(frozen=True)
class AuditContext:
    actor: object | None
    reason: str
    # The versions (``revops.versions``) recorded in the outermost block, by object: every save of an
    # object inside one block — a pool and its members, one configuration apply — makes one version.
    versions: dict = field(default_factory=dict, compare=False, repr=False)


_current: ContextVar[AuditContext | None] = ContextVar("revops_audit", default=None)


@contextmanager
def audited(*, actor, reason: str):
    """Attribute every history row written inside the block to ``actor`` with ``reason``."""
    outer = _current.get()
    versions = outer.versions if outer is not None else {}
    token = _current.set(AuditContext(actor=actor, reason=reason[:100], versions=versions))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> AuditContext | None:
    return _current.get()


# System logins by username, remembered once a transaction that found or created one has committed (so a
# rolled-back creation is never remembered); a deleted login is forgotten. Hot paths (a lead's score, its
# routing) then pay no query for their actor.
_SYSTEM_USERS: dict = {}


def system_user(username: str, *, first_name: str = ""):
    """The login that stands for an integration or an automation in history; it cannot sign in."""
    user = _SYSTEM_USERS.get(username)
    if user is not None:
        return user
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"first_name": first_name or username, "is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    transaction.on_commit(partial(remember_system_user, username, user))
    return user


def remember_system_user(username: str, user) -> None:
    """Keep ``user`` for later ``system_user(username)`` calls (after the transaction that read it committed)."""
    _SYSTEM_USERS[username] = user


def system_users_forget(**kwargs) -> None:
    """Forget the remembered system logins (a login was deleted, or a test starts)."""
    _SYSTEM_USERS.clear()


post_delete.connect(system_users_forget, sender=settings.AUTH_USER_MODEL, dispatch_uid="revops-system-users-forget")


@receiver(pre_create_historical_record)
def _apply_audit_context(sender, instance, history_instance, **kwargs):
    ctx = _current.get()
    if ctx is None:
        return
    if ctx.actor is not None and getattr(history_instance, "history_user_id", None) is None:
        history_instance.history_user = ctx.actor
    if not history_instance.history_change_reason:
        history_instance.history_change_reason = ctx.reason
