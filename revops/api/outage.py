"""503 with ``Retry-After`` while Redis or PostgreSQL is unreachable, never a 500.

A request that meets a dead or restarting service has either committed (with its outbox event)
or written nothing — the sync runs in one transaction — so the client's right move is to retry,
with the same ``Idempotency-Key``, after a few seconds. ``revops.api.throttling.exception_handler``
answers this way for errors inside API views and ``revops.api.errors.server_error`` for those
Django catches elsewhere (middleware, session and authentication lookups).
"""

from __future__ import annotations

import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

RETRY_AFTER_SECONDS = 5
SERVICE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OperationalError,
    InterfaceError,
)
DETAIL = (
    "A service this request needs (the database or Redis) is unavailable. Nothing was applied unless a "
    "replay with the same Idempotency-Key says so: retry after the Retry-After header's seconds."
)


def is_service_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps) says the database or Redis could not be reached."""
    for _ in range(4):
        if exc is None:
            return False
        if isinstance(exc, SERVICE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def outage_payload() -> dict:
    return {"detail": DETAIL, "retry_after": RETRY_AFTER_SECONDS}


def outage_response(*, api: bool = True) -> HttpResponse:
    """A 503 with ``Retry-After``: JSON under ``/api/``, plain text elsewhere."""
    if api:
        response = JsonResponse(outage_payload(), status=503)
    else:
        response = HttpResponse(
            "Service temporarily unavailable: the database or Redis is restarting. Retry shortly.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
