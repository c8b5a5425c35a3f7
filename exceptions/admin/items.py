"""The triage admin of exception items: the triage view (changelist), the read-only item page and
"next item"; the actions on items come from ``exceptions.actions`` through ``ItemActionsAdminMixin``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join

from revops.admin.base import AuditedAdmin, admin_link, badge, json_block
from revops.admin.links import record_url, why_url

from ..models import ExceptionItem, when_text
from ..registry import approval_handler, item_panels
from ..selectors import ExceptionVisibilityMixin, visible_queues
from ..services import exception_next_item, person_name, triage_order, triage_tiers
from ..suppressions import record_suppressions
from ..timing import due_phrase, human_duration, is_overdue
from .action_views import NEXT_MODE, ItemActionsAdminMixin, next_mode, with_mode
from .filters import (
    COUNT_CAP,
    OPEN,
    AgeFilter,
    AutomationFilter,
    CappedPaginator,
    KindFilter,
    OverdueFilter,
    OwnerFilter,
    QueueFilter,
    StateFilter,
)
from .helpers import (
    SEVERITY_TONES,
    STATUS_TONES,
    history_rows,
    queue_counts,
    record_fields,
    refusal_message,
    refusals,
)


@admin.register(ExceptionItem)
class ExceptionItemAdmin(ItemActionsAdminMixin, ExceptionVisibilityMixin, AuditedAdmin):
    """The triage view (changelist), the item page (read-only change view) and the triage actions."""

    change_list_template = "admin/exceptions/exceptionitem/change_list.html"
    change_form_template = "admin/exceptions/exceptionitem/change_form.html"
    # Each row in two lines: what and why / what to do, when, how bad, who, the record, one-click macros.
    list_display = (
        "item_cell",
        "due_cell",
        "severity_cell",
        "owner_cell",
        "record",
    )  # + the row macros (get_list_display)
    list_display_links = None  # the item cell links the item itself (with its reason under the title)
    list_filter = (
        StateFilter,
        QueueFilter,
        KindFilter,
        "severity",
        OwnerFilter,
        AutomationFilter,
        AgeFilter,
        OverdueFilter,
        "status",
    )
    search_fields = ("title", "=external_id")
    search_help_text = "Search by title or the record's CRM id (exact)."
    list_select_related = ("owner", "queue")
    list_per_page = 50
    show_full_result_count = False
    paginator = CappedPaginator
    ordering = (F("due_at").asc(nulls_last=True), "id")
    sortable_by = ()
    actions = []  # one per item action with a bulk service: ItemActionsAdminMixin.get_actions
    fieldsets = (
        (None, {"fields": ("title", ("kind_display", "severity_display", "status_display"))}),
        (
            "Who and by when",
            {"fields": ("owner_display", "queue_display", "due", "escalation", "claimed_at", "snoozed_until")},
        ),
        ("About", {"fields": ("record", "automation_link", "run_link")}),
        ("Occurrences", {"fields": ("occurrences", "first_seen_at", "last_seen_at")}),
        ("Resolution", {"fields": ("decision", "resolution_display", "resolution_note", "resolved_by", "resolved_at")}),
        ("Details", {"classes": ("collapse",), "fields": ("dedupe_key",)}),
    )
    readonly_fields = (
        "title",
        "kind_display",
        "severity_display",
        "status_display",
        "owner_display",
        "queue_display",
        "due",
        "escalation",
        "claimed_at",
        "snoozed_until",
        "record",
        "automation_link",
        "run_link",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
        "dedupe_key",
        "decision",
        "resolution_display",
        "resolution_note",
        "resolved_by",
        "resolved_at",
    )

    # permissions ------------------------------------------------------------------------------

    def has_add_permission(self, request):
        return False  # items are opened by automation and the sync, never typed in

    def has_delete_permission(self, request, obj=None):
        return False  # items are resolved or dismissed, never deleted

    def can_triage(self, request) -> bool:
        """Whether the user may act on items (the "change" permission; visibility is checked per item)."""
        return super().has_change_permission(request)

    def has_change_permission(self, request, obj=None):
        return False  # the item page is read-only: changes go through the triage actions

    # queryset and changelist ------------------------------------------------------------------

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "queue")

    def get_ordering(self, request):
        """The list in the order "Next item" serves: overdue first, then severity, then due time."""
        request.triage_now = timezone.now()
        return triage_order(now=request.triage_now)

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        """The open views' pages are read tier by tier (``CappedPaginator``), at the list's moment."""
        tiers = None
        if getattr(request, "triage_open_only", False):  # set by StateFilter as it filtered this list
            tiers = triage_tiers(now=getattr(request, "triage_now", None) or timezone.now())
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, tiers=tiers)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("next/", view(self.next_item_view), name="exceptions_exceptionitem_next"),
            path("<path:object_id>/macro/<str:macro>/", view(self.macro_view), name="exceptions_exceptionitem_macro"),
            path(
                "<path:object_id>/act/<str:action>/", view(self.item_action_view), name="exceptions_exceptionitem_act"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "queue_counts": queue_counts(request.user),
            "next_url": reverse("admin:exceptions_exceptionitem_next"),
            "can_triage": self.can_triage(request),
            "count_cap": COUNT_CAP,
            "title": "Exception queue — triage",
        }
        return super().changelist_view(request, extra_context)

    # columns ----------------------------------------------------------------------------------

    @admin.display(description="item — why it is here → what to do")
    def item_cell(self, obj):
        return format_html(
            '<div class="rv-row-line"><a class="rv-row-title" href="{}">{}</a> '
            '<span class="rv-row-why" title="{}">{}</span></div>'
            '<div class="rv-row-line rv-row-do" title="{}">→ {}</div>',
            reverse("admin:exceptions_exceptionitem_change", args=[obj.pk]),
            obj.title,
            obj.reason,
            obj.reason,
            obj.expected_action,
            obj.expected_action,
        )

    @admin.display(description="due")
    def due_cell(self, obj):
        phrase = due_phrase(obj)
        when = when_text(obj.due_at) if obj.due_at else ""
        if is_overdue(obj) and obj.status != ExceptionItem.Status.SNOOZED:
            shown = format_html('<strong class="rv-overdue" title="due {}">{}</strong>', when, phrase)
        else:
            shown = format_html('<span title="{}">{}</span>', f"due {when}" if when else "", phrase)
        if obj.status == ExceptionItem.Status.ESCALATED or obj.escalation_level:
            step = ("", "manager", "top")[min(obj.escalation_level or 0, 2)]
            return format_html('{}<span class="rv-row-sub">{}</span>', shown, badge(f"escalated: {step}", "danger"))
        if obj.status == ExceptionItem.Status.SNOOZED:
            return format_html('{}<span class="rv-row-sub">wakes {}</span>', shown, when_text(obj.snoozed_until))
        return format_html(
            '{}<span class="rv-row-sub">seen {} ago{}</span>',
            shown,
            human_duration(timezone.now() - obj.first_seen_at),
            f" · {obj.occurrences}×" if obj.occurrences > 1 else "",
        )

    @admin.display(description="severity · kind")
    def severity_cell(self, obj):
        return format_html(
            '{}<span class="rv-row-sub">{}</span>',
            badge(obj.get_severity_display(), SEVERITY_TONES.get(obj.severity, "neutral")),
            obj.get_kind_display(),
        )

    @admin.display(description="owner · queue")
    def owner_cell(self, obj):
        who = person_name(obj.owner) if obj.owner_id else badge("unassigned", "warn")
        return format_html('{}<span class="rv-row-sub">{}</span>', who, self.queue_display(obj))

    def get_list_display(self, request):
        """The columns, the last one the row macros as ``request.user`` may use them."""

        @admin.display(description="one click")
        def macros_cell(obj):
            return self.macros_html(request, obj)

        return (*self.list_display, macros_cell)

    def macros_html(self, request, obj):
        buttons = [
            format_html(
                '<button type="submit" class="rv-macro" formaction="{}" name="_macro" value="{}" '
                'data-macro="{}" title="{}">{}</button>',
                macro["url"],
                macro["key"],
                macro["key"],
                macro["title"],
                macro["label"],
            )
            for macro in self.row_macros(request, obj)
        ]
        return format_html('<span class="rv-macros">{}</span>', format_html_join("", "{}", ((b,) for b in buttons)))

    @admin.display(description="due")
    def due(self, obj):
        if obj.due_at is None:
            return "—"
        shown = when_text(obj.due_at)
        if is_overdue(obj):
            return format_html("{} {}", shown, badge(due_phrase(obj), "danger"))
        return format_html("{} ({})", shown, due_phrase(obj))

    @admin.display(description="severity")
    def severity_display(self, obj):
        return badge(obj.get_severity_display(), SEVERITY_TONES.get(obj.severity, "neutral"))

    @admin.display(description="kind")
    def kind_display(self, obj):
        return obj.get_kind_display()

    @admin.display(description="resolution")
    def resolution_display(self, obj):
        return obj.get_resolution_code_display() or "—"

    @admin.display(description="status")
    def status_display(self, obj):
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "neutral"))

    @admin.display(description="record")
    def record(self, obj):
        if not obj.object_type:
            return "—"
        text = obj.external_id or f"{obj.object_type} #{obj.object_id}"
        url = record_url(obj.object_type, obj.object_id)
        if not url:
            return text
        why = why_url(obj.object_type, obj.object_id)
        if why:
            return format_html('<a href="{}">{}</a> · <a class="rv-why-link" href="{}">why?</a>', url, text, why)
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.display(description="owner")
    def owner_display(self, obj):
        return person_name(obj.owner) if obj.owner_id else badge("unassigned", "warn")

    @admin.display(description="queue")
    def queue_display(self, obj):
        return obj.queue.name if obj.queue_id else (obj.queue_name or "—")

    @admin.display(description="escalation")
    def escalation(self, obj):
        level = obj.escalation_level or 0
        if level == 0:
            return "with the owner"
        return badge(("owner", "manager", "escalation target")[min(level, 2)], "danger" if level >= 2 else "warn")

    @admin.display(description="automation")
    def automation_link(self, obj):
        return admin_link(obj.automation) if obj.automation_id else "—"

    @admin.display(description="run")
    def run_link(self, obj):
        return admin_link(obj.run) if obj.run_id else "—"

    @admin.display(description="proposed action")
    def proposal_display(self, obj):
        return json_block(obj.proposal)

    # the item page ----------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such exception item (or not in your queues).")
        extra_context = {**(extra_context or {}), **self.item_context(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def item_context(self, request, obj) -> dict:
        """What the item page shows besides the read-only fields."""
        is_open = obj.status in OPEN
        panels = []
        for panel in item_panels():
            panel_context = panel.context(obj)
            if panel_context is not None:
                panels.append({"template": panel.template, "context": panel_context})
        handler = approval_handler(obj.kind)
        described = {}
        if handler is not None and handler.describe and obj.proposal:
            described = handler.describe({"object_type": obj.object_type, **obj.proposal})
        related = []
        if obj.object_type and obj.object_id is not None:
            related = list(
                self.get_queryset(request)
                .filter(object_type=obj.object_type, object_id=obj.object_id, status__in=OPEN)
                .exclude(pk=obj.pk)
                .order_by("due_at", "pk")[:20]
            )
        suppressed = []
        if obj.object_type and obj.object_id is not None:
            suppressed = [
                row
                for row in record_suppressions(object_type=obj.object_type, object_id=obj.object_id)
                if not row.kind or row.kind == obj.kind
            ]
        history = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[:30])
        queue = obj.queue
        path_steps = [
            ("owner", person_name(obj.owner) if obj.owner_id else "unassigned"),
            ("queue manager", person_name(queue.manager) if queue and queue.manager_id else "—"),
            (
                "escalation target",
                person_name(queue.escalation_target) if queue and queue.escalation_target_id else "—",
            ),
        ]
        return {
            "item": obj,
            "item_open": is_open,
            "item_overdue": is_open and obj.due_at is not None and obj.due_at < timezone.now(),
            "is_approval": obj.is_approval,
            "action_buttons": self.action_buttons(request, obj),
            "item_panels": panels,
            "record_suppressions": suppressed,
            "suppressions_url": reverse("admin:exceptions_suppression_changelist")
            + (f"?{urlencode({'q': obj.external_id})}" if obj.external_id else ""),
            "record_link": record_url(obj.object_type, obj.object_id),
            "record_why": why_url(obj.object_type, obj.object_id) if obj.object_type else None,
            "record_fields": record_fields(obj),
            "proposal_html": json_block(obj.proposal),
            "proposal_label": described.get("label", (obj.proposal or {}).get("action")),
            "proposal_changes": described.get("changes", []),
            "reviews": review_rows(obj),
            "related_items": related,
            "history_rows": history_rows(history),
            "escalation_path": [
                {"step": step, "who": who, "current": index == min(obj.escalation_level or 0, 2)}
                for index, (step, who) in enumerate(path_steps)
            ],
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
            "next_url": with_mode(reverse("admin:exceptions_exceptionitem_next"), request),
            "triage_next": next_mode(request),
            "due_phrase": due_phrase(obj),
            "owner_name": person_name(obj.owner) if obj.owner_id else "",
            "changelist_url": reverse("admin:exceptions_exceptionitem_changelist"),
        }

    # the "next item" button -------------------------------------------------------------------

    def next_item_view(self, request):
        """Claim the most urgent claimable item in the user's queues and open it in "next item" mode."""
        changelist = reverse("admin:exceptions_exceptionitem_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        if not self.can_triage(request):
            raise PermissionDenied
        return self.serve_next(request, first=True)

    def serve_next(self, request, *, first: bool = False):
        """Claim the next item (``services.triage_order``) and open it; back to the list when none is left."""
        changelist = reverse("admin:exceptions_exceptionitem_changelist")
        try:
            item = exception_next_item(actor=request.user, queues=visible_queues(user=request.user))
        except refusals() as error:
            self.message_user(request, f"Could not take the next item: {refusal_message(error)}", messages.ERROR)
            return HttpResponseRedirect(changelist)
        if item is None:
            text = "Nothing to take: no unclaimed open item in your queues."
            if not first:
                text = "That was the last one. " + text
            self.message_user(request, text, messages.INFO)
            return HttpResponseRedirect(changelist)
        lead = "Claimed" if first else "Next:"
        self.message_user(request, f"{lead} “{item.title}” — it is yours now ({due_phrase(item)}).", messages.SUCCESS)
        url = reverse("admin:exceptions_exceptionitem_change", args=[item.pk])
        return HttpResponseRedirect(f"{url}?triage={NEXT_MODE}")


def review_rows(item: ExceptionItem) -> list[dict]:
    """The approval's send-backs for review, oldest first, with local times."""
    rows = []
    for review in (item.proposal or {}).get("reviews") or []:
        at = parse_datetime(review.get("at") or "")
        rows.append({**review, "when": when_text(at) if at else ""})
    return rows
