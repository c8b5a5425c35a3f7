"""``Idempotency-Key`` handling, as Stripe defines it, for write endpoints.

The first response to a (user, key) pair — its status and exact body bytes — is stored and
returned on every replay with ``Idempotent-Replayed: true``. The same key with a different request
(fingerprint: SHA-256 of method, path, query string and body) is refused with 422.

Concurrency: the key is claimed by inserting an ``in_progress`` record in its own, immediately
committed transaction; the unique constraint on (user, key) picks exactly one winner. A loser sees
the record: completed → replay, in progress → 409. The winner runs the handler and stores the
response *in the same transaction as the handler's writes*, so a crash either leaves no effects
(and an in-progress claim) or effects plus the stored response — never effects without the
response a retry would need. A handler that raises or answers 5xx releases the claim so the
client can retry at once; when the database itself went away the release reconnects and tries
for about two seconds. A claim nobody released (the process died, or the database stayed down)
expires after ``IDEMPOTENCY_CLAIM_SECONDS`` (300 s), much sooner than the stored responses
(``IDEMPOTENCY_KEY_TTL_HOURS``). 4xx answers are stored and replayed.

One execution, even when a claim expires under a request that is still running: a claim is
identified by the record *and* the ``created_at`` it was taken with (a takeover moves
``created_at``). Storing the response and releasing the claim are conditional on that pair, so
once a retry took the key over, the original request can no longer commit: its conditional
write matches nothing, its whole transaction (the handler's writes too) rolls back, and it
answers 409; its release deletes nothing. Conversely a takeover that races the original's final
write waits for its row lock and then finds the record completed (PostgreSQL re-checks the
``WHERE``; SQLite serializes writers), and replays it. The lifetime only decides how long a dead
request's key stays blocked; it is chosen well above the longest a sync request runs (a full
``SYNC_MAX_RECORDS`` batch plus SQLite's 30 s lock wait; runserver has no request timeout, and
gunicorn's, 120 s in docs/deployment.md, ends a stuck request before its key lapses).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RELEASE_WAITS = (0.0, 0.2, 0.5, 1.0)

logger = logging.getLogger(__name__)


def claim_timeout() -> timedelta:
    """Age after which an in-progress claim belongs to a request that died before committing.

    Requests are far shorter (see the module docstring); the dead request's effects were rolled back
    with it, so a retry may take the key over (``IDEMPOTENCY_CLAIM_SECONDS``, default 300). A
    request that is in fact still running loses the key then and can no longer commit.
    """
    return timedelta(seconds=int(getattr(settings, "IDEMPOTENCY_CLAIM_SECONDS", 300)))


class ClaimLost(Exception):
    """The claim expired and a retry took the key over; this request's writes must roll back."""


def _owned(record: IdempotencyRecord):
    """The record while it is still this request's claim (same ``created_at``, still in progress)."""
    return IdempotencyRecord.objects.filter(
        pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, created_at=record.created_at
    )


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
        if existing.created_at < timezone.now() - claim_timeout():
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, state=IdempotencyRecord.State.IN_PROGRESS, created_at=existing.created_at
            ).update(created_at=timezone.now(), token=token)
            if taken == 1:
                existing.refresh_from_db()
                return existing, None
            continue  # completed or taken over meanwhile: look again (replay or 409)
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
                stored = _owned(record).update(
                    state=IdempotencyRecord.State.COMPLETED,
                    response_status=response.status_code,
                    response_body=response.content,
                    response_content_type=response.get("Content-Type", ""),
                )
                if stored != 1:
                    raise ClaimLost
    except ClaimLost:
        logger.warning("Idempotency-Key claim %s expired and was taken over; this request rolled back", record.pk)
        return _error(409, f"A retry with this {HEADER} took over while this request ran; its answer counts.")
    except BaseException:
        _release(record)
        raise
    if response.status_code >= 500:
        _release(record)
    return response


def _release(record: IdempotencyRecord) -> None:
    """Give the key back so the client's retry runs at once; never raises (the claim expires anyway).

    A request that failed because the database went away holds a dead connection: close it and
    try again on a new one for a moment (a restart is over in a second or two).
    """
    for wait in RELEASE_WAITS:
        time.sleep(wait)
        try:
            _owned(record).delete()  # never a retry's claim that took an expired one over
            return
        except DatabaseError as exc:
            if connection.in_atomic_block:  # inside a caller's transaction: nothing to reconnect
                break
            logger.info("releasing Idempotency-Key claim %s failed (%s); reconnecting", record.pk, exc)
            connection.close()
    logger.warning("could not release Idempotency-Key claim %s; it expires in %s", record.pk, claim_timeout())


def idempotency_purge(*, now=None) -> int:
    """Delete records older than ``IDEMPOTENCY_KEY_TTL_HOURS``; return how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
