"""Configuration releases in the admin: the list, one release's changes, compare any two, roll back to one.

A release is written by ``config_apply`` (``revops.configuration.releases``); the admin never edits
one. Rolling back shows the plan first (a dry run through the same services), then, with a reason,
applies the earlier document — which records a new release.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from revops.configuration import config_export_json
from revops.configuration.releases import release_compare
from revops.configuration.rollback import can_roll_back, release_rollback
from revops.models import ConfigRelease

from .base import ReadOnlyMixin


def _number(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@admin.register(ConfigRelease)
class ConfigReleaseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "created_at",
        "created_by",
        "source",
        "reason",
        "changes_display",
        "rollback_of",
        "compare_link",
    ]
    list_display_links = ["number"]
    list_select_related = ["created_by"]
    search_fields = ["source", "reason"]
    list_per_page = 50
    change_form_template = "admin/revops/configrelease/change_form.html"
    readonly_fields = ["number", "created_at", "created_by", "source", "reason", "summary", "rollback_of"]
    fields = readonly_fields

    @admin.display(description="changes")
    def changes_display(self, obj):
        """The apply's changes counted in words, only what happened ("1 created, 2 updated")."""
        words = {"create": "created", "update": "updated", "delete": "deleted", "retire": "retired"}
        counts = {}
        for change in obj.changes or []:
            action = change.get("action") if isinstance(change, dict) else None
            if action in words:
                counts[action] = counts.get(action, 0) + 1
        return ", ".join(f"{counts[a]} {words[a]}" for a in words if counts.get(a)) or "—"

    @admin.display(description="rolls back to")
    def rollback_of(self, obj):
        return f"release {obj.rolled_back_to}" if obj.rolled_back_to else "—"

    @admin.display(description="compare")
    def compare_link(self, obj):
        if obj.number <= 1:
            return "—"
        url = reverse("admin:revops_configrelease_compare") + f"?a={obj.number - 1}&b={obj.number}"
        return format_html('<a href="{}">with release {}</a>', url, obj.number - 1)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("compare/", view(self.compare_view), name="revops_configrelease_compare"),
            path("<path:object_id>/rollback/", view(self.rollback_view), name="revops_configrelease_rollback"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "releases": list(ConfigRelease.objects.order_by("-number").values_list("number", flat=True)[:500]),
            **extra,
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        release = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if release is not None:
            previous = ConfigRelease.objects.filter(number__lt=release.number).order_by("-number").first()
            extra_context["previous"] = previous
            extra_context["changes"] = release_compare(previous.document if previous else {}, release.document)
            extra_context["can_roll_back"] = can_roll_back(request.user)
            extra_context["rollback_url"] = reverse("admin:revops_configrelease_rollback", args=[release.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    def compare_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        latest = ConfigRelease.objects.order_by("-number").first()
        b = _number(request.GET.get("b")) or (latest.number if latest else None)
        a = _number(request.GET.get("a")) or ((b or 1) - 1)
        old = ConfigRelease.objects.filter(number=a).first()
        new = ConfigRelease.objects.filter(number=b).first()
        error = ""
        if old is None or new is None:
            error = (
                "Choose two releases that exist."
                if latest
                else "No release yet: each apply that changes the configuration records one."
            )
        context = self._context(
            request,
            title=f"Compare release {a} with release {b}" if not error else "Compare releases",
            a=a,
            b=b,
            error=error,
            changes=release_compare(old.document, new.document) if not error else [],
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/revops/configrelease/compare.html", context)

    def rollback_view(self, request, object_id):
        if not can_roll_back(request.user):
            raise PermissionDenied
        release = self.get_object(request, unquote(object_id))
        if release is None:
            raise Http404("No such release.")
        reason = request.POST.get("reason", "") if request.method == "POST" else ""
        if request.method == "POST":
            try:
                plan = release_rollback(number=release.number, actor=request.user, reason=reason)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                if plan.applied and plan.release:
                    messages.success(request, f"Rolled back to release {release.number} as release {plan.release}.")
                    made = ConfigRelease.objects.get(number=plan.release)
                    return HttpResponseRedirect(reverse("admin:revops_configrelease_change", args=[made.pk]))
                if plan.ok:
                    messages.info(request, "Nothing to roll back: the configuration already matches that release.")
                else:
                    messages.error(request, f"Not rolled back: {plan.summary()}")
        plan = release_rollback(number=release.number, actor=request.user, reason="", dry_run=True)
        context = self._context(
            request,
            title=f"Roll back to release {release.number}",
            release=release,
            plan=plan,
            changes=release_compare(config_export_json(), release.document) if plan.ok else [],
            reason=reason,
            change_url=reverse("admin:revops_configrelease_change", args=[release.pk]),
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/revops/configrelease/rollback.html", context)
