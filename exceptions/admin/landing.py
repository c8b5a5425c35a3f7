"""Managers land on the triage view: the admin index redirects users in the "Manager" group who are
not superusers to it (``/admin/?index=1`` still shows the index)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from ..roles import MANAGER


def _wrap_index(original: Callable) -> Callable:
    def index(request, extra_context=None):
        user = request.user
        if (
            "index" not in request.GET
            and user.is_active
            and not user.is_superuser
            and user.groups.filter(name=MANAGER).exists()
        ):
            return HttpResponseRedirect(reverse("admin:exceptions_exceptionitem_changelist"))
        return original(request, extra_context)

    index.__wrapped__ = original
    return index


def install_landing(site: admin.AdminSite = admin.site) -> None:
    """Wrap ``site.index`` once (importing the admin twice must not wrap it twice)."""
    if not hasattr(site.index, "__wrapped__"):
        site.index = _wrap_index(site.index)
