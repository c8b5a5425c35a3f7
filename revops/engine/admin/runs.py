"""Admin for automation runs and applied actions: read-only, the record of what automation did."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from revops import conditions
from revops.admin.base import (
    ReadOnlyMixin,
    admin_link,
    badge,
    json_block,
)
from revops.admin.links import record_url, why_url
from revops.display import FieldText
from revops.models import Automation, AutomationRun
from revops.selectors import RECORD_MODELS, record_model

from ..selectors import run_explanation, run_summary
from .automations import AppliedActionInline
from .explain import OUTCOME_TONES, explanation_html, planned_rows
from .helpers import mode_badge
from .reverts import can_revert, reverts_html, run_revert_view


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "when",
        "automation_link",
        "version_number",
        "record_link",
        "outcome_display",
        "mode_display",
        "duration",
        "summary_short",
    )
    list_filter = ("outcome", "mode", ("automation", admin.RelatedOnlyFieldListFilter), "object_type")
    search_fields = ("=external_id", "=trigger_key", "summary")
    search_help_text = (
        "Search by the record's CRM id, the trigger key or words of a stored summary (a run that did not fire"
        " is said from its conditions: find it by its record)."
    )
    list_select_related = ("automation", "version")
    show_full_result_count = False
    date_hierarchy = "created_at"
    inlines = (AppliedActionInline,)
    fieldsets = (
        (None, {"fields": ("automation_link", "version_number", "record_named", ("mode_display", "outcome_display"))}),
        ("Why", {"fields": ("summary_text", "explanation_plain", "expected_next", "error")}),
        ("Actions", {"fields": ("planned_display",)}),
        ("Reverts", {"fields": ("reverts_display",)}),
        (
            "Details",
            {
                "fields": (
                    "trigger_key",
                    "event",
                    "attempts",
                    "duration",
                    ("started_at", "finished_at"),
                    "created_at",
                    "explanation_json",
                    "actions_applied_json",
                ),
                "classes": ("collapse",),
            },
        ),
    )
    readonly_fields = (
        "automation_link",
        "version_number",
        "record_link",
        "record_named",
        "mode_display",
        "outcome_display",
        "summary_text",
        "explanation_plain",
        "expected_next",
        "error",
        "planned_display",
        "reverts_display",
        "trigger_key",
        "event",
        "attempts",
        "duration",
        "started_at",
        "finished_at",
        "created_at",
        "explanation_json",
        "actions_applied_json",
    )

    def get_changelist_instance(self, request):
        """The list, its runs handed the dictionary read once for the page (their summaries are said from it)."""
        changelist = super().get_changelist_instance(request)
        if any(not run.summary for run in changelist.result_list):
            fields = conditions.load_fields()
            for run in changelist.result_list:
                run.page_fields = fields
        return changelist

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view
        revert = view(lambda request, object_id: run_revert_view(self, request, object_id))
        return [path("<path:object_id>/revert/", revert, name="revops_automationrun_revert"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context["why_url"] = why_url(obj.object_type, obj.object_id)
            if can_revert(request.user) and obj.mode == Automation.Mode.LIVE:
                extra_context["revert_url"] = reverse("admin:revops_automationrun_revert", args=[obj.pk])
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="reverts")
    def reverts_display(self, obj):
        return reverts_html(obj)

    @admin.display(description="when", ordering="created_at")
    def when(self, obj):
        return format_html(
            '<span title="{}">{}</span>',
            obj.created_at.isoformat(),
            f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M:%S}",
        )

    @admin.display(description="automation", ordering="automation__name")
    def automation_link(self, obj):
        return admin_link(obj.automation)

    @admin.display(description="version")
    def version_number(self, obj):
        return f"v{obj.version.number}"

    @admin.display(description="record")
    def record_link(self, obj):
        return self._record_link(obj, name=None)

    @admin.display(description="record")
    def record_named(self, obj):
        """The run's page names the record ("Ada Moreno (Hopkins Biotech)"); the list keeps its ids."""
        name = None
        if obj.object_type in RECORD_MODELS:
            name = FieldText().record(record_model(obj.object_type), obj.object_id)
        return self._record_link(obj, name=name)

    def _record_link(self, obj, *, name):
        url = record_url(obj.object_type, obj.object_id)
        text = (name or f"{obj.object_type} #{obj.object_id}") + (f" ({obj.external_id})" if obj.external_id else "")
        if not url:
            return text
        return format_html(
            '<a href="{}">{}</a> · <a href="{}" title="Every run on this record">why?</a>',
            url,
            text,
            why_url(obj.object_type, obj.object_id) or url,
        )

    @admin.display(description="outcome", ordering="outcome")
    def outcome_display(self, obj):
        label = obj.get_outcome_display()
        if obj.mode == Automation.Mode.SHADOW and obj.outcome == AutomationRun.Outcome.FIRED:
            label = "Would have fired"
        return badge(label, OUTCOME_TONES.get(obj.outcome, "neutral"))

    @admin.display(description="mode", ordering="mode")
    def mode_display(self, obj):
        return mode_badge(obj.mode, obj.get_mode_display())

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj):
        return f"{obj.duration_ms:.1f} ms" if obj.duration_ms else "—"

    @admin.display(description="summary")
    def summary_short(self, obj):
        text = obj.error or run_summary(obj, getattr(obj, "page_fields", None))
        return (text[:117] + "…") if len(text) > 120 else (text or "—")

    @admin.display(description="summary")
    def summary_text(self, obj):
        return run_summary(obj) or "—"

    @admin.display(description="explanation (conditions checked)")
    def explanation_plain(self, obj):
        return explanation_html(run_explanation(obj))

    @admin.display(description="planned actions")
    def planned_display(self, obj):
        rows = planned_rows(obj.actions_planned, obj.object_type)
        if not rows:
            return "—"
        return format_html_join(
            "",
            "<div><strong>{}</strong> <span class='rv-muted'>{}</span></div>",
            ((r["label"], r["params"]) for r in rows),
        )

    @admin.display(description="explanation (raw)")
    def explanation_json(self, obj):
        return json_block(obj.explanation)

    @admin.display(description="actions applied (raw)")
    def actions_applied_json(self, obj):
        return json_block(obj.actions_applied)
