"""Services for integration tokens: create (the secret is returned once), revoke, authenticate."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .audit import audited, system_user
from .models import ApiToken, Scope
from .models.integration import TOKEN_PREFIX, hash_token

VALID_SCOPES = {choice.value for choice in Scope}


@transaction.atomic
def api_token_create(*, name: str, scopes: list[str], actor=None) -> tuple[ApiToken, str]:
    """Create a named token with ``scopes``; return it and the raw secret, which is never stored."""
    unknown = sorted(set(scopes) - VALID_SCOPES)
    if unknown:
        raise ValidationError(
            {"scopes": f"unknown scope(s) {', '.join(unknown)}; valid: {', '.join(sorted(VALID_SCOPES))}"}
        )
    if not scopes:
        raise ValidationError({"scopes": "a token needs at least one scope"})
    raw = ApiToken.generate()
    with audited(actor=actor, reason=f"API token {name!r} created"):
        token = ApiToken(
            name=name,
            user=system_user(f"integration:{name}"[:150], first_name=f"Integration {name}"),
            prefix=raw[: len(TOKEN_PREFIX) + 6],
            key_hash=hash_token(raw),
            scopes=sorted(set(scopes)),
            created_by=actor,
        )
        token.full_clean()
        token.save()
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor=None) -> ApiToken:
    """Revoke ``token``; requests using it fail from now on."""
    if token.revoked_at is None:
        with audited(actor=actor, reason=f"API token {token.name!r} revoked"):
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(raw: str) -> ApiToken | None:
    """The active token whose secret is ``raw``, or None. Records the last use at most once a minute."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw), revoked_at=None).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
