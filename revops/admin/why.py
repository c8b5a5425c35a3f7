"""The "Why?" page of a record: what automation did to it and what is expected next, in plain language.

``/admin/revops/<object>/<pk>/why/`` is added to each record admin by ``WhyMixin``, which also
puts a "Why? Automation runs (N)" button on the record's change page and a "why?" link on its
list rows. The page is a frame of panels registered with ``revops.plugins.register_why_panel``
by the apps that own the data — routing's decision and SLA clock, the queue's open items, the
engine's runs (newest first, explained) — each deciding for itself whether it shows for this
record, so the core names no app. Each panel runs a constant number of queries.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from revops.models import AutomationRun
from revops.plugins import why_panels

from .links import record_url, why_url

__all__ = ["WhyMixin", "record_url", "why_url", "why_view"]


def why_view(model_admin, request, object_id):
    """The record's Why page: every registered panel that has something to say about it."""
    model = model_admin.model
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model._meta.verbose_name} with id {object_id}.")
    if not model_admin.has_view_or_change_permission(request, obj):
        raise PermissionDenied
    object_type = model._meta.model_name
    panels = []
    for panel in why_panels():
        context = panel.context(object_type, obj.pk, request=request)
        if context is not None:
            panels.append({"name": panel.name, "template": panel.template, "styles": panel.styles, "context": context})
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Why? Automation runs on {obj}",
        "subtitle": None,
        "opts": model._meta,
        "original": obj,
        "object_type": object_type,
        "record_url": reverse(f"admin:revops_{object_type}_change", args=[obj.pk]),
        "panels": panels,
        "has_view_permission": True,
        "now": timezone.now(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/revops/why.html", context)


class WhyMixin:
    """Adds the why page to a record admin, a button to its change page and a link to its rows."""

    change_form_template = "admin/revops/why_change_form.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(
                "<path:object_id>/why/",
                self.admin_site.admin_view(lambda request, object_id: why_view(self, request, object_id)),
                name="{}_{}_why".format(*info),
            )
        ]
        return extra + super().get_urls()

    def get_list_display(self, request):
        return (*super().get_list_display(request), "why_link")

    @admin.display(description="why")
    def why_link(self, obj):
        return format_html(
            '<a class="rv-why-link" href="{}" title="Automation runs on this record">why?</a>',
            reverse(f"admin:revops_{self.model._meta.model_name}_why", args=[obj.pk]),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj_pk = unquote(object_id)
        try:
            count = AutomationRun.objects.filter(object_type=self.model._meta.model_name, object_id=int(obj_pk)).count()
        except (TypeError, ValueError):
            count = 0
        extra_context["why_url"] = reverse(f"admin:revops_{self.model._meta.model_name}_why", args=[obj_pk])
        extra_context["why_count"] = count
        return super().change_view(request, object_id, form_url, extra_context)
