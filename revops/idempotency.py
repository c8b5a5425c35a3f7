"""``Idempotency-Key`` handling, as Stripe defines it, for write endpoints.

The first response to a (user, key) pair — its status and exact body bytes — is stored and
returned on every replay with ``Idempotent-Replayed: true``. The same key with a different request
(fingerprint: SHA-256 of method, path, query string and body) is refused with 422.

Concurrency: the key is claimed by inserting an ``in_progress`` record in its own, immediately
committed transaction; the unique constraint on (user, key) picks exactly one winner. A loser sees
the record: completed → replay, in progress → 409. The winner runs the handler and stores the
response *in the same transaction as the handler's writes*, so a crash either leaves no effects
(and an in-progress claim that expires after ``CLAIM_TIMEOUT``) or effects plus the stored
response — never effects without the response a retry would need. A handler that raises or
answers 5xx releases the claim so the client can retry; 4xx answers are stored and replayed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# A claim older than this belongs to a request that died before committing (requests are far
# shorter); its effects were rolled back with it, so a retry may take the key over.
CLAIM_TIMEOUT = timedelta(minutes=5)


def request_fingerprint(*, method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode()):
        digest.update(part)
        digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def _error(status: int, detail: str) -> HttpResponse:
    return JsonResponse({"detail": detail}, status=status)


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body or b""),
        status=record.response_status,
        content_type=record.response_content_type or "application/json",
    )
    response[REPLAYED_HEADER] = "true"
    return response


def _claim(*, user, token, key: str, fingerprint: str) -> tuple[IdempotencyRecord | None, HttpResponse | None]:
    """Insert the in-progress record; return (record, None) if we own the key, else (None, answer)."""
    for _ in range(3):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, token=token, key=key, request_fingerprint=fingerprint
                )
            return record, None
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:  # the holder failed and released the key meanwhile: try again
            continue
        if existing.request_fingerprint != fingerprint:
            return None, _error(
                422,
                f"This {HEADER} was already used with a different request (method, path, query or body). "
                "Use a new key for a new request.",
            )
        if existing.state == IdempotencyRecord.State.COMPLETED:
            return None, _replay(existing)
        if existing.created_at < timezone.now() - CLAIM_TIMEOUT:
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, state=IdempotencyRecord.State.IN_PROGRESS, created_at=existing.created_at
            ).update(created_at=timezone.now(), token=token)
            if taken == 1:
                existing.refresh_from_db()
                return existing, None
        return None, _error(409, f"A request with this {HEADER} is still being processed; retry later.")
    return None, _error(409, f"A request with this {HEADER} is still being processed; retry later.")


def idempotent_response(
    *, request, user, token, key: str | None, body: bytes, handler: Callable[[], HttpResponse]
) -> HttpResponse:
    """Run ``handler`` once per (user, ``key``); replay its stored response afterwards.

    Without a key the handler simply runs. ``handler`` must return a plain ``HttpResponse`` with
    its final body (not a lazily rendered one) and may write to the database.
    """
    if key is None:
        return handler()
    if not key.strip():
        return _error(400, f"The {HEADER} header is empty.")
    if len(key) > MAX_KEY_LENGTH:
        return _error(400, f"The {HEADER} header is {len(key)} characters long; at most {MAX_KEY_LENGTH} allowed.")
    if not key.isprintable():
        return _error(
            400,
            f"The {HEADER} header contains a control character (such as NUL) or invalid text; "
            "use printable characters only, e.g. a UUID.",
        )
    fingerprint = request_fingerprint(
        method=request.method, path=request.path, query=request.META.get("QUERY_STRING", ""), body=body
    )
    record, answer = _claim(user=user, token=token, key=key, fingerprint=fingerprint)
    if answer is not None:
        return answer
    try:
        with transaction.atomic():
            response = handler()
            if response.status_code < 500:
                IdempotencyRecord.objects.filter(pk=record.pk).update(
                    state=IdempotencyRecord.State.COMPLETED,
                    response_status=response.status_code,
                    response_body=response.content,
                    response_content_type=response.get("Content-Type", ""),
                )
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS).delete()
        raise
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS).delete()
    return response


def idempotency_purge(*, now=None) -> int:
    """Delete records older than ``IDEMPOTENCY_KEY_TTL_HOURS``; return how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
