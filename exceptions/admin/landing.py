"""Where each role lands after logging in: managers on the triage view, RevOps admins on the
dashboard.

The admin index redirects users in the "Manager" group who are not superusers to the triage view
(``/admin/?index=1`` still shows the index). A RevOps admin (superusers included) is sent to the
dashboard once, right after a login that asked for no other page; the index stays theirs after
that (the dashboard's "Home" link, ``/admin/``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.contrib.auth.signals import user_logged_in
from django.http import HttpResponseRedirect
from django.urls import reverse

from revops.access import ADMIN, user_role

from ..roles import MANAGER

LANDING_KEY = "revops:land-on-dashboard"


def _flag_landing(sender, request, user, **kwargs) -> None:
    """Mark a RevOps admin's session to land on the dashboard when the login form asked for the index."""
    if request is None or not hasattr(request, "session") or request.path != reverse("admin:login"):
        return  # only the login form's (not a test client's or another backend's) login
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted in ("", reverse("admin:index")) and user_role(user) == ADMIN:
        request.session[LANDING_KEY] = True


def _wrap_index(original: Callable) -> Callable:
    def index(request, extra_context=None):
        user = request.user
        if "index" in request.GET:
            return original(request, extra_context)
        if request.session.pop(LANDING_KEY, False):
            return HttpResponseRedirect(reverse("revops-dashboard"))
        if user.is_active and not user.is_superuser and user.groups.filter(name=MANAGER).exists():
            return HttpResponseRedirect(reverse("admin:exceptions_exceptionitem_changelist"))
        return original(request, extra_context)

    index.__wrapped__ = original
    return index


def install_landing(site: admin.AdminSite = admin.site) -> None:
    """Wrap ``site.index`` once (importing the admin twice must not wrap it twice)."""
    if not hasattr(site.index, "__wrapped__"):
        site.index = _wrap_index(site.index)
    user_logged_in.connect(_flag_landing, dispatch_uid="revops-land-on-dashboard")
