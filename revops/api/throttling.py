"""API rate limiting (one bucket per token or signed-in user) and the API's error responses."""

from __future__ import annotations

import math

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from .outage import RETRY_AFTER_SECONDS, is_service_outage, outage_payload


class TokenRateThrottle(SimpleRateThrottle):
    """``settings.API_THROTTLE_RATE`` (e.g. ``6000/min``) per API token, per user for browser sessions.

    Counters live in the default (Redis) cache, so every web process shares them. Anonymous
    requests, which are refused anyway, are counted per client address.
    """

    scope = "api"

    def get_rate(self):
        # Read at request time (not import time) so tests and settings changes take effect.
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if token is not None and hasattr(token, "key_hash"):
            ident = f"token:{token.key_hash[:24]}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class RateLimited(exceptions.Throttled):
    """429 with a message that says the limit and when to retry (the ``Retry-After`` header says it too)."""

    def __init__(self, wait: float | None):
        self.wait = None if wait is None else math.ceil(wait)
        seconds = "shortly" if self.wait is None else f"in {self.wait} second{'s' if self.wait != 1 else ''}"
        detail = (
            f"Rate limit exceeded ({settings.API_THROTTLE_RATE} per token). Retry {seconds}; "
            "the Retry-After header gives the wait in seconds."
        )
        exceptions.APIException.__init__(self, detail=detail, code="throttled")


def exception_handler(exc, context):
    """DRF's handler, plus: Django ``ValidationError`` from services/selectors → 400 with field errors,
    and throttling → 429 ``{"detail": …, "retry_after": seconds}`` with a ``Retry-After`` header,
    and the database or Redis unreachable → 503 with ``Retry-After`` (``revops.api.outage``)."""
    if is_service_outage(exc):
        set_rollback()
        return Response(outage_payload(), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, exceptions.Throttled) and not isinstance(exc, RateLimited):
        exc = RateLimited(exc.wait)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, RateLimited):
        response.data["retry_after"] = exc.wait
    return response
