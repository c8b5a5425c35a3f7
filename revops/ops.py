"""Who may open the operational pages (wiring): the RQ dashboard is for RevOps admins only.

The RQ dashboard (``/admin/rq/``, and the same views django_rq registers in the admin under
``/admin/django_rq/``) shows job payloads and can delete jobs and empty queues, so it is for RevOps
admins (the "RevOps admin" group, superusers) only: every rep and manager is staff, and django_rq
itself only checks the staff flag. Other staff get 403; anyone else the admin login.
``revops.urls`` wraps the dashboard's URLs with ``guarded``; importing this module replaces
django_rq's admin entry with ``OpsQueueAdmin``.
"""

from functools import wraps

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404
from django.urls import URLPattern, URLResolver, reverse
from django_rq.admin import QueueAdmin
from django_rq.models import Dashboard
from rq.exceptions import NoSuchJobError

from exceptions import roles


def is_ops_admin(user) -> bool:
    """Whether ``user`` may open the operational pages: an active staff RevOps admin or superuser."""
    return bool(user.is_active and user.is_staff and roles.user_role(user) == roles.ADMIN)


def ops_admin_required(view):
    """Operational pages: RevOps admins only; other staff get 403, anyone else the admin login."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not is_ops_admin(user):
            raise PermissionDenied("The RQ dashboard is for RevOps admins.")
        try:
            return view(request, *args, **kwargs)
        except (NoSuchJobError, ValueError, ImproperlyConfigured) as exc:
            # django_rq looks jobs and workers up without a check, and offers an rq-scheduler page
            # this portal does not use: a stale link (the job expired, another admin deleted it), a
            # mistyped key or that page is a 404, not a server error.
            raise Http404(f"Not found: {exc}") from None

    return wrapped


def guarded(patterns, decorator=ops_admin_required):
    """``patterns`` with every view (nested includes too) wrapped in ``decorator``."""
    result = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            nested = guarded(pattern.url_patterns, decorator)
            pattern = URLResolver(pattern.pattern, nested, pattern.default_kwargs, pattern.app_name, pattern.namespace)
        elif isinstance(pattern, URLPattern):
            pattern = URLPattern(pattern.pattern, decorator(pattern.callback), pattern.default_args, pattern.name)
        result.append(pattern)
    return result


class OpsQueueAdmin(QueueAdmin):
    """django_rq's admin entry ("Django-RQ" on the admin index), shown to and opened by RevOps admins only."""

    def has_module_permission(self, request):
        return is_ops_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_ops_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_ops_admin(request.user)

    def get_urls(self):
        # Only django_rq's own pages: the ModelAdmin's add/change/delete/history pages of its
        # placeholder model would query a table that does not exist.
        stock = {"add", "change", "delete", "history"}
        info = (self.model._meta.app_label, self.model._meta.model_name)
        pages = [
            pattern
            for pattern in super().get_urls()
            if isinstance(pattern, URLResolver)
            or (pattern.name and not any(pattern.name == "{}_{}_{}".format(*info, page) for page in stock))
        ]
        return guarded(pages)


if admin.site.is_registered(Dashboard):
    admin.site.unregister(Dashboard)
    admin.site.register(Dashboard, OpsQueueAdmin)
