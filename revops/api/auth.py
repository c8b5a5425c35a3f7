"""API authentication (integration tokens, browser sessions) and scope checks."""

from rest_framework import authentication, exceptions, permissions

from revops.access import ADMIN, MANAGER, REP, user_role
from revops.models import Scope
from revops.tokens import api_token_authenticate


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer rvp_…`` (``Token rvp_…`` also accepted). ``request.auth`` is the ApiToken."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = api_token_authenticate(header[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def session_scopes(user) -> set[str]:
    """Scopes a signed-in browser user has, by role: RevOps admins everything; managers and reps read
    (the records within their reach, ``revops.access``) and act on exceptions; any other login nothing."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return set()
    role = user_role(user)
    if role == ADMIN:
        return {s.value for s in Scope}
    if role in (MANAGER, REP):
        return {Scope.READ.value, Scope.EXCEPTIONS_WRITE.value}
    return set()


def request_scopes(request) -> set[str]:
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "scopes"):
        return set(token.scopes)
    return session_scopes(request.user)


class HasScope(permissions.BasePermission):
    """Allows the request when its token (or session user) has the view's ``required_scope``."""

    message = "This API token lacks the required scope."

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        scope = getattr(view, "required_scope", Scope.READ.value)
        if scope in request_scopes(request):
            return True
        self.message = f"This request needs the '{scope}' scope."
        return False
