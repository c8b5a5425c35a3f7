"""Logins for the CRM's people: invitations from Rep records with a one-time link, logins that follow
the rep out of the CRM, and which users are system identities rather than people.

A RevOps admin invites reps and managers from the Rep list (one or many at once). Each invited rep
gets a login named by their e-mail (linked as ``Rep.user``), the Manager role if they manage a team
and the Rep role otherwise, and an e-mail with a link to set a password. The link is a one-time token
(``InvitationTokens``): it stops working once a password is set, and after ``INVITE_LINK_HOURS``.
A rep the CRM marks inactive cannot sign in any more (``RepAwareBackend``), and the minute sweep
(``logins_follow_reps``) turns such logins off so their open sessions end too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from revops.access import ADMIN, INTEGRATION, INTEGRATION_USER_PREFIX, MANAGER, REP, ROLE_NAMES, user_role
from revops.audit import audited
from revops.models import Rep, Team

logger = logging.getLogger(__name__)


class InvitationTokens(PasswordResetTokenGenerator):
    """One-time links to set a first password: void once a password is set or after the timeout
    (``PASSWORD_RESET_TIMEOUT``, set from ``INVITE_LINK_HOURS``)."""

    key_salt = "revops.people.InvitationTokens"


INVITE_TOKENS = InvitationTokens()


@dataclass
class Invitation:
    rep: Rep
    user: object
    link: str
    role: str


def role_for_rep(rep: Rep) -> str:
    """Manager for a rep who manages a team, Rep otherwise."""
    return MANAGER if Team.objects.filter(manager=rep).exists() else REP


def set_role(user, role: str) -> None:
    """Put ``user`` in exactly one role group (staff for every role but Integration). The groups and
    their permissions are made after ``migrate`` (``exceptions.roles.ensure_roles``)."""
    if role not in ROLE_NAMES:
        raise ValueError(f"Unknown role {role!r}; one of {', '.join(ROLE_NAMES)}.")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.remove(*Group.objects.filter(name__in=ROLE_NAMES).exclude(pk=group.pk))
    user.groups.add(group)
    user.__dict__.pop("_exception_role_groups", None)  # revops.access caches a user's role groups
    user.is_staff = role != INTEGRATION
    user.save(update_fields=["is_staff"])


def invite_link(user, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return base_url.rstrip("/") + reverse("invite-accept", args=[uid, INVITE_TOKENS.make_token(user)])


def _names(rep: Rep) -> tuple[str, str]:
    first, _, last = rep.name.strip().partition(" ")
    return first[:150], last[:150]


@transaction.atomic
def rep_invite(*, rep: Rep, actor, base_url: str | None = None) -> Invitation:
    """Give ``rep`` a login (or find theirs) and e-mail them a one-time link to set a password.

    ``ValidationError`` with a sentence when the rep cannot be invited: inactive in the CRM, no e-mail,
    an e-mail another person's login already uses, or a login with a password already (they sign in;
    a forgotten password is reset by RevOps). The e-mail goes out after commit."""
    User = get_user_model()
    if not rep.is_active:
        raise ValidationError(f"{rep.name} is inactive in the CRM; only active reps get a login.")
    email = (rep.email or "").strip().lower()
    if not email:
        raise ValidationError(f"{rep.name} has no e-mail address in the CRM; the invitation needs one.")
    user = User.objects.filter(pk=rep.user_id).first() if rep.user_id else None  # fresh: not a cached one
    if user is None:
        user = User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).first()
        if user is not None and Rep.objects.filter(user=user).exclude(pk=rep.pk).exists():
            raise ValidationError(
                f"The login {user.username} already belongs to another rep; check {rep.name}'s e-mail."
            )
    if user is not None and user.has_usable_password() and user.is_active:
        raise ValidationError(f"{rep.name} already has a login ({user.username}) and can sign in.")
    first, last = _names(rep)
    with audited(actor=actor, reason=f"invited {rep.name} to the portal"):
        if user is None:
            user = User(username=email, email=email, first_name=first, last_name=last)
            user.set_unusable_password()
        user.is_active = True
        user.email = user.email or email
        user.save()
        if rep.user_id != user.pk:
            rep.user = user
            rep.save(update_fields=["user"])
    role = user_role(user)
    if role != ADMIN:  # a RevOps admin who is also a rep keeps their role
        role = role_for_rep(rep)
        set_role(user, role)
    link = invite_link(user, base_url or settings.PORTAL_BASE_URL)
    transaction.on_commit(lambda: _send_invitation(user, rep, link))
    return Invitation(rep=rep, user=user, link=link, role=role)


def _send_invitation(user, rep: Rep, link: str) -> None:
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    try:
        send_mail(
            "Your login to the RevOps portal",
            f"Hello {rep.name},\n\n"
            f"You have a login to the RevOps portal: {user.username}.\n"
            f"Set your password here (the link works once, for {hours} hours):\n\n{link}\n\n"
            "In the portal you see the records, items and handoffs that are yours to work.\n",
            None,
            [user.email],
        )
    except Exception:
        logger.exception("could not send the invitation to %s", user.email)


@transaction.atomic
def logins_follow_reps(*, actor=None) -> int:
    """Turn off the logins of reps the CRM marks inactive (their sessions end); returns how many."""
    User = get_user_model()
    users = list(User.objects.filter(is_active=True, rep__is_active=False).select_for_update())
    with audited(actor=actor, reason="the rep is inactive in the CRM"):
        for user in users:
            user.is_active = False
            user.save(update_fields=["is_active"])
    return len(users)


def system_identity_q() -> Q:
    """Users that stand for an integration or an automation, not a person: API tokens' service logins and
    the inactive, password-less logins ``revops.audit.system_user`` makes (linked to no rep)."""
    return Q(username__startswith=INTEGRATION_USER_PREFIX) | Q(
        is_active=False, password__startswith="!", rep__isnull=True, is_superuser=False
    )


class RepAwareBackend(ModelBackend):
    """Django's password sign-in, refused to a user whose rep is inactive in the CRM. Open sessions are
    not re-checked on every request (no extra query per page): the minute sweep turns the login off."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and Rep.objects.filter(user=user, is_active=False).exists():
            return None
        return user
