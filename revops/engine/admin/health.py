"""The automation health pages: one automation's health over a window, and the monthly health review.

Both read ``revops.engine.health`` (the per-automation roll-ups: a handful of queries whatever the
number of automations) and are for RevOps admins only (``health_visible``); anyone else gets the
admin's "permission denied" page. The review page's button runs the review now
(``automation_health_review``), as the monthly job does.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from exceptions.models import ExceptionItem
from revops.metrics.views import number_text
from revops.values import date_text, datetime_text

from ..health import (
    STATUS_LABELS,
    WINDOW_CHOICES,
    automation_health,
    health_review_rows,
    health_visible,
    setting,
    signal_label,
    window_days,
)
from ..health_review import ITEM_KIND, automation_health_review


def _window(request) -> tuple[int, str | None]:
    try:
        return window_days(request.GET.get("days")), None
    except ValueError as exc:
        return setting("HEALTH_WINDOW_DAYS"), f"{exc} Showing the last {setting('HEALTH_WINDOW_DAYS')} days instead."


def _context(model_admin, request, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "has_view_permission": True,
        "window_choices": WINDOW_CHOICES,
        "review_url": reverse("admin:revops_automation_health_review"),
        "dashboard_url": reverse("revops-dashboard"),
        **extra,
    }


def _suggestion_rows(items) -> list[dict]:
    return [
        {
            "title": item.title,
            "url": reverse("admin:exceptions_exceptionitem_change", args=[item.pk]),
            "owner": (item.owner.get_full_name() or item.owner.get_username()) if item.owner else "nobody",
            "since": datetime_text(item.first_seen_at),
            "seen": item.occurrences,
        }
        for item in items
    ]


def automation_health_view(model_admin, request, object_id):
    """One automation's health: its numbers over the chosen window, its status and the reasons."""
    if not health_visible(request.user):
        raise PermissionDenied
    automation = model_admin.get_object(request, unquote(object_id))
    if automation is None:
        raise Http404(f"No automation with id {object_id}.")
    days, error = _window(request)
    health = automation_health(automation, days=days)
    suggestions = (
        ExceptionItem.objects.filter(kind=ITEM_KIND, automation=automation, status__in=ExceptionItem.OPEN_STATUSES)
        .select_related("owner")
        .order_by("first_seen_at")
    )
    saved = health.minutes_saved
    context = _context(
        model_admin,
        request,
        title=f"Health: {automation.name}",
        subtitle=None,
        original=automation,
        health=health,
        days=days,
        error=error,
        period=f"{date_text(health.start)} to {date_text(health.end)}",
        time_saved=number_text(saved, "minutes") if saved is not None else None,
        suggestions=_suggestion_rows(suggestions),
        signal_labels=[signal_label(key) for key in ("ignored", "overrides", "exceptions", "no_fires", "deprecated")],
        runs_url=reverse("admin:revops_automationrun_changelist") + f"?automation__id__exact={automation.pk}",
        change_url=reverse("admin:revops_automation_change", args=[automation.pk]),
    )
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/revops/automation/health.html", context)


def health_review_view(model_admin, request):
    """Every automation's status and reasons, worst first; POST runs the review now."""
    if not health_visible(request.user):
        raise PermissionDenied
    if request.method == "POST":
        result = automation_health_review(actor=request.user)
        model_admin.message_user(request, result.text(), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:revops_automation_health_review"))
    days, error = _window(request)
    rows = health_review_rows(days=days)
    open_items = (
        ExceptionItem.objects.filter(kind=ITEM_KIND, status__in=ExceptionItem.OPEN_STATUSES)
        .select_related("owner")
        .order_by("first_seen_at")
    )
    by_automation: dict[int, list] = {}
    for item in open_items:
        by_automation.setdefault(item.automation_id, []).append(item)
    counts = {key: sum(1 for row in rows if row.status == key) for key in STATUS_LABELS}
    context = _context(
        model_admin,
        request,
        title="Automation health review",
        subtitle=None,
        rows=[
            {
                "health": row,
                "url": reverse("admin:revops_automation_health", args=[row.automation.pk]) + f"?days={days}",
                "suggestions": _suggestion_rows(by_automation.get(row.automation.pk, [])),
            }
            for row in rows
        ],
        counts=[(STATUS_LABELS[key], counts[key], key) for key in STATUS_LABELS],
        days=days,
        error=error,
        period=f"{date_text(rows[0].start)} to {date_text(rows[0].end)}" if rows else "",
        open_total=sum(len(v) for v in by_automation.values()),
        triage_url=reverse("admin:exceptions_exceptionitem_changelist") + f"?kind={ITEM_KIND}",
        thresholds={
            "ignored": setting("HEALTH_IGNORED_PERCENT"),
            "ignored_min": setting("HEALTH_IGNORED_MIN"),
            "override": setting("HEALTH_OVERRIDE_PERCENT"),
            "override_min": setting("HEALTH_OVERRIDE_MIN"),
            "exceptions_min": setting("HEALTH_EXCEPTIONS_MIN"),
            "no_fire": setting("HEALTH_NO_FIRE_DAYS"),
            "errors": setting("HEALTH_WATCH_ERROR_PERCENT"),
        },
    )
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/revops/automation/health_review.html", context)


def item_health_panel(item) -> dict | None:
    """On a health suggestion's page: the automation's health now, with a link to its health page."""
    if item.kind != ITEM_KIND or not item.automation_id:
        return None
    health = automation_health(item.automation)
    return {
        "health": health,
        "url": reverse("admin:revops_automation_health", args=[item.automation_id]),
        "change_url": reverse("admin:revops_automation_change", args=[item.automation_id]),
    }
