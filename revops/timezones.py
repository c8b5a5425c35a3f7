"""Times where the person is: pages render in the viewer's time zone.

The browser reports its IANA zone (``revops/static/revops/timezone.js`` sets the ``portal_tz``
cookie from ``Intl``); this middleware activates it for the request, so every date the admin and
the portal's own helpers print (``revops.values.datetime_text``) is local to the reader and names
its zone. Without the cookie, or with a zone Python does not know, the portal's ``TIME_ZONE`` is used.
Stored times are UTC; the API speaks ISO 8601 with offsets and is not affected.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from urllib.parse import unquote

from django.utils import timezone

COOKIE = "portal_tz"


@lru_cache(maxsize=64)
def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone ``name``, or None for an empty, unknown or malformed name."""
    if not name or len(name) > 64:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class ViewerTimeZoneMiddleware:
    """Activates the viewer's time zone (the ``portal_tz`` cookie) for the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_named(unquote(request.COOKIES.get(COOKIE, "")))
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
