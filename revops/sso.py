"""Single sign-on through OpenID Connect (optional): people sign in with the company's identity
provider (Okta, Microsoft Entra ID, Google Workspace, Keycloak…) instead of a portal password.

Turned on by ``OIDC_RP_CLIENT_ID`` (see ``revops.settings`` and docs/deployment.md); the flow is
mozilla-django-oidc's. What the portal decides (``PortalOIDCBackend``):

- **Who may sign in**: someone whose e-mail the provider verified (``email_verified``; a provider
  that never sends it, e.g. Microsoft Entra ID, is trusted only with ``OIDC_TRUST_EMAIL=1``) and is a
  login's e-mail, or an active Rep record's
  (their login is created then, named by the e-mail and linked to the rep, as an invitation does).
  Nobody else: an identity with no rep in the CRM is refused and the refusal logged. A rep the CRM
  marks inactive is refused too, and so are system identities (API tokens, automations).
- **Their role**: with ``OIDC_ROLE_CLAIM``, the provider decides at every sign-in: a value mapped by
  ``OIDC_ROLE_VALUES`` (e.g. ``revops-admins=RevOps admin``; unmapped values give nothing), else the
  rep's place in the team tree, else Rep. Without it, the team tree gives the role when the login is
  created, and RevOps may change it afterwards.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from revops.access import ADMIN, INTEGRATION_USER_PREFIX, MANAGER, REP, user_role
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


# Roles a claim may give: people's roles only (an API token's Integration role never comes from a claim).
CLAIM_ROLES = (ADMIN, MANAGER, REP)


def role_from_claims(claims: dict) -> str | None:
    """The portal role the provider's claim gives through ``OIDC_ROLE_VALUES`` (only mapped values
    count), or None when none of its values is mapped."""
    claim = getattr(settings, "OIDC_ROLE_CLAIM", "")
    if not claim:
        return None
    values = claims.get(claim) or []
    if isinstance(values, str):
        values = [values]
    mapping = getattr(settings, "OIDC_ROLE_VALUES", {}) or {}
    roles = {mapping[str(v)] for v in values if str(v) in mapping}
    return next((role for role in CLAIM_ROLES if role in roles), None)  # the widest first


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, matching people to logins and Rep records by e-mail."""

    def verify_claims(self, claims):
        if not super().verify_claims(claims):
            return False
        # An e-mail the provider has not verified could be anyone's, an admin's included. A provider that
        # never sends ``email_verified`` (and controls the address itself) is trusted by OIDC_TRUST_EMAIL.
        verified = claims.get("email_verified")
        if verified is not True and not (verified is None and getattr(settings, "OIDC_TRUST_EMAIL", False)):
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
        if get_user_model().objects.filter(username__iexact=email[:150]).exists():
            logger.warning("single sign-on refused: a login named %s has another e-mail address", email)
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
        """With ``OIDC_ROLE_CLAIM``, the provider decides the role at every sign-in: a mapped value, else
        the rep's place in the team tree, else Rep — so leaving an admin group takes the rights away."""
        if not getattr(settings, "OIDC_ROLE_CLAIM", "") or user.is_superuser:
            return user
        rep = Rep.objects.filter(user=user).first()
        role = role_from_claims(claims) or (role_for_rep(rep) if rep is not None else REP)
        if role != user_role(user):
            with audited(actor=None, reason="role from single sign-on"):
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
