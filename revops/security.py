"""Sign-in throttling hooks for django-axes: the client's address and the lock-out page.

``client_ip`` reads the address from ``settings.CLIENT_IP_HEADER`` (``REMOTE_ADDR`` unless the portal
runs behind a reverse proxy that sets a header); ``lockout_response`` answers a locked-out sign-in in
plain language with when to try again and how an admin unlocks it.
"""

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone


def client_ip(request) -> str | None:
    """The client's address: the configured header's right-most entry, else ``REMOTE_ADDR``."""
    header = getattr(settings, "CLIENT_IP_HEADER", "REMOTE_ADDR")
    value = request.META.get(header, "") if header != "REMOTE_ADDR" else ""
    # A proxy appends the address it saw to X-Forwarded-For: the right-most entry is the one the
    # client cannot forge (as long as every request comes through that proxy).
    entries = [part.strip() for part in value.split(",") if part.strip()]
    if entries:
        return entries[-1]
    return request.META.get("REMOTE_ADDR") or None


def lockout_response(request, original_response=None, credentials=None):
    """The page shown instead of the login form while a username and address pair is locked out."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = int(cooloff.total_seconds() // 60)
    # Every try during the lock-out restarts the clock (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT),
    # so the lock-out ends one cool-off period after this request.
    retry_at = timezone.localtime(timezone.now() + cooloff)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context = {
        "title": "Sign-in locked",
        "site_header": "RevOps portal",
        "locked_username": username,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": minutes,
        "retry_at": retry_at,
    }
    return render(request, "registration/lockout.html", context, status=429)
