"""A read-only admin for exception items, so automation failures and pending approvals are visible now.

The exception-queue work replaces this with full triage (claiming, resolving, approving,
escalating). Until then managers can list, filter and read items: why each is here, what is
expected, who owns it and by when, the record it is about and the automation that raised it.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from revops.admin.base import AuditedAdmin, admin_link, badge, json_block
from revops.admin.why import record_url, why_url

from .models import ExceptionItem

SEVERITY_TONES = {"low": "neutral", "medium": "warn", "high": "danger", "critical": "danger"}
STATUS_TONES = {
    "open": "info",
    "in_progress": "core",
    "snoozed": "neutral",
    "escalated": "danger",
    "resolved": "ok",
    "dismissed": "neutral",
}


class StateFilter(admin.SimpleListFilter):
    """Open (any not-closed status), overdue or closed."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open (not closed)"), ("overdue", "Open and overdue"), ("closed", "Closed")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(status__in=ExceptionItem.OPEN_STATUSES)
        if value == "overdue":
            return queryset.filter(status__in=ExceptionItem.OPEN_STATUSES, due_at__lt=timezone.now())
        if value == "closed":
            return queryset.exclude(status__in=ExceptionItem.OPEN_STATUSES)
        return queryset


class MineFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owned"

    def lookups(self, request, model_admin):
        return [("me", "Mine"), ("none", "Unassigned")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(owner=request.user)
        if self.value() == "none":
            return queryset.filter(owner__isnull=True)
        return queryset


@admin.register(ExceptionItem)
class ExceptionItemAdmin(AuditedAdmin):
    list_display = (
        "title",
        "kind_display",
        "severity_display",
        "status_display",
        "owner",
        "automation_link",
        "record",
        "due",
        "occurrences",
        "last_seen_at",
    )
    list_display_links = ("title",)
    list_filter = (
        StateFilter,
        "kind",
        "severity",
        "status",
        MineFilter,
        ("automation", admin.RelatedOnlyFieldListFilter),
        "object_type",
        "decision",
    )
    search_fields = ("title", "reason", "=external_id", "=dedupe_key", "queue_name")
    search_help_text = "Search by title, reason, queue, the record's CRM id or the de-duplication key."
    list_select_related = ("owner", "automation")
    show_full_result_count = False
    ordering = ("due_at", "id")
    fieldsets = (
        (None, {"fields": ("title", ("kind_display", "severity_display", "status_display"))}),
        ("Why it is here and what to do", {"fields": ("reason", "expected_action", "owner", "due", "queue_name")}),
        ("About", {"fields": ("record", "automation_link", "run_link")}),
        ("Approval", {"fields": ("proposal_display", "decision")}),
        ("Occurrences", {"fields": ("occurrences", "first_seen_at", "last_seen_at", "dedupe_key")}),
        ("Resolution", {"fields": ("resolution_code", "resolution_note", "resolved_by", "resolved_at")}),
    )
    readonly_fields = (
        "title",
        "kind_display",
        "severity_display",
        "status_display",
        "reason",
        "expected_action",
        "owner",
        "due",
        "queue_name",
        "record",
        "automation_link",
        "run_link",
        "proposal_display",
        "decision",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
        "dedupe_key",
        "resolution_code",
        "resolution_note",
        "resolved_by",
        "resolved_at",
    )

    def has_add_permission(self, request):
        return False  # items are opened by automation and the sync, never typed in

    def has_change_permission(self, request, obj=None):
        return False  # triage (claim, resolve, approve) arrives with the exception queue

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "automation", "resolved_by", "run")

    @admin.display(description="kind", ordering="kind")
    def kind_display(self, obj):
        return obj.get_kind_display()

    @admin.display(description="severity", ordering="severity")
    def severity_display(self, obj):
        return badge(obj.get_severity_display(), SEVERITY_TONES.get(obj.severity, "neutral"))

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "neutral"))

    @admin.display(description="automation", ordering="automation__name")
    def automation_link(self, obj):
        return admin_link(obj.automation) if obj.automation_id else "—"

    @admin.display(description="run")
    def run_link(self, obj):
        return admin_link(obj.run) if obj.run_id else "—"

    @admin.display(description="record")
    def record(self, obj):
        url = record_url(obj.object_type, obj.object_id)
        if not obj.object_type:
            return "—"
        text = f"{obj.object_type} #{obj.object_id}" + (f" ({obj.external_id})" if obj.external_id else "")
        if not url:
            return text
        why = why_url(obj.object_type, obj.object_id)
        if why:
            return format_html('<a href="{}">{}</a> · <a href="{}">why?</a>', url, text, why)
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        if obj.due_at is None:
            return "—"
        shown = f"{timezone.localtime(obj.due_at):%Y-%m-%d %H:%M}"
        if obj.status in ExceptionItem.OPEN_STATUSES and obj.due_at < timezone.now():
            return badge(f"{shown} overdue", "danger")
        return shown

    @admin.display(description="proposed action")
    def proposal_display(self, obj):
        return json_block(obj.proposal)
