"""Single sign-on through OpenID Connect (optional): people sign in with the company's identity
provider (Okta, Microsoft Entra ID, Google Workspace, Keycloak…) instead of a portal password.

Turned on by ``OIDC_RP_CLIENT_ID`` (see ``revops.settings`` and docs/deployment.md); the flow is
mozilla-django-oidc's. What the portal decides (``PortalOIDCBackend``):

- **Who may sign in**: someone whose verified e-mail is a login's e-mail, or an active Rep record's
  (their login is created then, named by the e-mail and linked to the rep, as an invitation does).
  Nobody else: an identity with no rep in the CRM is refused and the refusal logged. A rep the CRM
  marks inactive is refused too, and so are system identities (API tokens, automations).
- **Their role**: from the ``OIDC_ROLE_CLAIM`` claim when the provider sends it (a value mapped by
  ``OIDC_ROLE_VALUES``, e.g. ``revops-admins=RevOps admin``), read at every sign-in; otherwise from
  the rep's place in the team tree (Manager when they manage a team, Rep otherwise), set when the
  login is created and left alone afterwards, so RevOps can change it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from revops.access import INTEGRATION_USER_PREFIX, ROLE_NAMES, user_role
from revops.audit import audited
from revops.models import Rep
from revops.people import role_for_rep, set_role

logger = logging.getLogger(__name__)


def sso_enabled() -> bool:
    return bool(getattr(settings, "OIDC_RP_CLIENT_ID", ""))


def login_context(request) -> dict:
    """Template context: the single sign-on button of the login page, when it is on."""
    if not sso_enabled():
        return {}
    return {"sso_provider_name": settings.OIDC_PROVIDER_NAME}


def role_from_claims(claims: dict) -> str | None:
    """The portal role the provider's claim names, or None when it names none we know."""
    claim = getattr(settings, "OIDC_ROLE_CLAIM", "")
    if not claim:
        return None
    values = claims.get(claim) or []
    if isinstance(values, str):
        values = [values]
    mapping = getattr(settings, "OIDC_ROLE_VALUES", {}) or {}
    roles = {mapping.get(str(v), str(v)) for v in values} & set(ROLE_NAMES)
    for role in ROLE_NAMES:  # the widest first, as ``user_role`` reads several groups
        if role in roles:
            return role
    return None


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, matching people to logins and Rep records by e-mail."""

    def verify_claims(self, claims):
        if not super().verify_claims(claims):
            return False
        if claims.get("email_verified") is False:
            logger.warning("single sign-on refused: the provider has not verified %s", claims.get("email"))
            return False
        return True

    def filter_users_by_claims(self, claims):
        email = (claims.get("email") or "").strip()
        if not email:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email).exclude(username__startswith=INTEGRATION_USER_PREFIX)

    def create_user(self, claims):
        email = claims["email"].strip().lower()
        rep = Rep.objects.filter(email__iexact=email, is_active=True, user__isnull=True).order_by("pk").first()
        if rep is None:
            logger.warning("single sign-on refused: no active rep in the CRM has the e-mail %s", email)
            return None
        with transaction.atomic(), audited(actor=None, reason="login created by single sign-on"):
            user = get_user_model().objects.create_user(
                username=email[:150],
                email=email,
                first_name=(claims.get("given_name") or "")[:150],
                last_name=(claims.get("family_name") or "")[:150],
            )  # no usable password: they sign in through the provider
            set_role(user, role_from_claims(claims) or role_for_rep(rep))
            rep.user = user
            rep.save(update_fields=["user"])
        return user

    def update_user(self, user, claims):
        role = role_from_claims(claims)
        if role is not None and role != user_role(user):
            set_role(user, role)
        return user

    def authenticate(self, request, **kwargs):
        user = super().authenticate(request, **kwargs)
        if user is None:
            return None
        if not user.is_active or Rep.objects.filter(user=user, is_active=False).exists():
            logger.warning("single sign-on refused: %s is inactive (in the portal or in the CRM)", user)
            return None
        return user
