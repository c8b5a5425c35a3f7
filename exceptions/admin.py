"""The exception queue's triage admin: where managers work the queue every morning.

The changelist is the triage view. By default it shows the open items of the queues the user may
see (``exceptions.selectors.visible_queues``), overdue first (``due_at`` ascending, items without
a due date last, then ``id`` — the order of the ``exception_triage`` index). It never counts the
whole table: ``show_full_result_count`` is off and the paginator counts at most
``COUNT_CAP`` rows. A header shows, per visible queue, how many items are open, overdue and
approvals waiting (one grouped query), next to a "Next item" button that claims the oldest
unclaimed item in the user's queues (``exception_next_item``, safe under concurrency) and opens it.

Every action — claim, assign, resolve, dismiss, snooze, escalate, and approve / reject / override
for approvals — exists as a bulk admin action and as a button on the item page. The admin only
validates the input (small forms on an intermediate page) and calls the services in
``exceptions.services``, which write the change and its audit row; refusals (e.g. resolving
an item that is already closed) come back as messages.

The item page is read-only: the record it is about (with its "why?" page), the reason and the
expected action, the run's explanation (the same run card as the why view), the proposal of an
approval with its buttons, related open items on the same record, the escalation path and the
item's history.

Managers land here after logging in: the admin index redirects users in the "Manager" group who
are not superusers to the triage view (``/admin/?index=1`` still shows the index).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from revops.admin.base import AuditedAdmin, admin_link, badge, json_block
from revops.admin.why import ACTION_LABELS, action_changes, record_url, run_context, why_url

from . import roles
from .models import ExceptionItem
from .selectors import ExceptionVisibilityMixin, visible_queues

SEVERITY_TONES = {"low": "neutral", "medium": "warn", "high": "danger", "critical": "danger"}
STATUS_TONES = {
    "open": "info",
    "in_progress": "core",
    "snoozed": "neutral",
    "escalated": "danger",
    "resolved": "ok",
    "dismissed": "neutral",
}
OPEN = tuple(str(status) for status in ExceptionItem.OPEN_STATUSES)
COUNT_CAP = 10_000
AGE_BUCKETS = {
    "1d": ("Less than a day", 0, 1),
    "3d": ("1–3 days", 1, 3),
    "7d": ("3–7 days", 3, 7),
    "old": ("More than a week", 7, None),
}


# --- Service and selector access ---------------------------------------------------------------


def _services():
    from . import services

    return services


def _visible_queues(user):
    """The queues ``user`` may see."""
    return visible_queues(user=user)


def _refusals() -> tuple[type[BaseException], ...]:
    """Exceptions a service raises to refuse an action (shown as a message, never a 500)."""
    refused: list[type[BaseException]] = [ValidationError, PermissionDenied]
    try:
        from . import errors
    except ImportError:
        return tuple(refused)
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == errors.__name__:
            refused.append(value)
    return tuple(refused)


def _message(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error) or error.__class__.__name__


def _bulk_counts(result: dict) -> tuple[int, list[str]]:
    """(done, refusal messages) from a bulk service's ``{"done", "skipped", "errors": {pk: message}}``."""
    errors = result.get("errors") or {}
    refused = [f"#{pk}: {message}" for pk, message in errors.items()]
    missing = int(result.get("skipped") or 0) - len(refused)
    if missing > 0:
        refused.append(f"{missing} more item(s) skipped")
    return int(result.get("done") or 0), refused


# --- Forms -------------------------------------------------------------------------------------


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        name = obj.get_full_name()
        return f"{name} ({obj.get_username()})" if name else obj.get_username()


def assignable_users():
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")


class AssignForm(forms.Form):
    owner = UserChoiceField(queryset=get_user_model().objects.none(), help_text="Who works the item from now on.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()


class ResolveForm(forms.Form):
    reason_code = forms.ChoiceField(choices=lambda: list(_services().RESOLUTION_CODES.items()), label="Reason code")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="What you did.")


class DismissForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Why no action is needed (required, kept in the history)."
    )


class SnoozeForm(forms.Form):
    until = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
        help_text="The item comes back to the queue at this time.",
    )

    def clean_until(self):
        until = self.cleaned_data["until"]
        if until <= timezone.now():
            raise ValidationError("Snooze until a time in the future.")
        return until


class EscalateForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Required: why the proposal is wrong.")


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.external_id}){'' if obj.is_active else ' — inactive'}"


class OverrideForm(forms.Form):
    """Apply the prepared action with a human's change: a different owner, or a different value."""

    owner = RepChoiceField(
        queryset=None,
        label="Different owner",
        required=False,
        help_text="Apply the prepared assignment with this owner instead of the proposed one.",
    )
    value = forms.CharField(
        required=False, label="Different value", help_text="Apply the prepared field update with this value instead."
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, item=None, **kwargs):
        from revops.models import Rep

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = Rep.objects.filter(is_active=True).order_by("name")
        action = (getattr(item, "proposal", None) or {}).get("action")
        if action == "assign_owner":
            del self.fields["value"]
            self.fields["owner"].required = True
        else:
            del self.fields["owner"]
            self.fields["value"].required = True
            current = ((item.proposal or {}).get("params") or {}).get("value") if item is not None else None
            if current is not None:
                self.fields["value"].help_text += f" Proposed: {current}."


def _override_params(item, data) -> dict:
    if data.get("owner") is not None:
        return {"owner": data["owner"].external_id}
    return {"value": data["value"]}


# One entry per action: label, form (None = no input), single and bulk service calls.
ACTIONS: dict[str, dict] = {
    "claim": {"label": "Claim", "form": None, "single": lambda s, i, d, a: s.exception_item_claim(item=i, actor=a)},
    "assign": {
        "label": "Assign…",
        "form": AssignForm,
        "single": lambda s, i, d, a: s.exception_item_assign(item=i, owner=d["owner"], actor=a),
        "bulk": lambda s, q, d, a: s.exception_items_bulk_assign(items_qs=q, owner=d["owner"], actor=a),
    },
    "resolve": {
        "label": "Resolve…",
        "form": ResolveForm,
        "single": lambda s, i, d, a: s.exception_item_resolve(
            item=i, reason_code=d["reason_code"], note=d["note"], actor=a
        ),
        "bulk": lambda s, q, d, a: s.exception_items_bulk_resolve(
            items_qs=q, reason_code=d["reason_code"], note=d["note"], actor=a
        ),
    },
    "dismiss": {
        "label": "Dismiss…",
        "form": DismissForm,
        "single": lambda s, i, d, a: s.exception_item_dismiss(item=i, reason=d["reason"], actor=a),
        "bulk": lambda s, q, d, a: s.exception_items_bulk_dismiss(items_qs=q, reason=d["reason"], actor=a),
    },
    "snooze": {
        "label": "Snooze…",
        "form": SnoozeForm,
        "single": lambda s, i, d, a: s.exception_item_snooze(item=i, until=d["until"], actor=a),
        "bulk": lambda s, q, d, a: s.exception_items_bulk_snooze(items_qs=q, until=d["until"], actor=a),
    },
    "escalate": {
        "label": "Escalate",
        "form": None,
        "single": lambda s, i, d, a: s.exception_item_escalate(item=i, actor=a, reason=d.get("reason", "")),
        "bulk": lambda s, q, d, a: s.exception_items_bulk_escalate(items_qs=q, actor=a),
    },
    "approve": {
        "label": "Approve",
        "form": None,
        "approval": True,
        "single": lambda s, i, d, a: s.exception_approval_approve(item=i, actor=a),
    },
    "reject": {
        "label": "Reject…",
        "form": RejectForm,
        "approval": True,
        "single": lambda s, i, d, a: s.exception_approval_reject(item=i, reason=d["reason"], actor=a),
    },
    "override": {
        "label": "Override…",
        "form": OverrideForm,
        "approval": True,
        "single": lambda s, i, d, a: s.exception_approval_override(
            item=i, actor=a, params=_override_params(i, d), note=d.get("note", "")
        ),
    },
}
ACTIONS["claim"]["bulk"] = lambda s, q, d, a: s.exception_items_bulk_claim(items_qs=q, actor=a)
PAST_TENSE = {
    "claim": "claimed",
    "assign": "assigned",
    "resolve": "resolved",
    "dismiss": "dismissed",
    "snooze": "snoozed",
    "escalate": "escalated",
    "approve": "approved",
    "reject": "rejected",
    "override": "overridden",
}


# --- List filters ------------------------------------------------------------------------------


class DefaultingFilter(admin.SimpleListFilter):
    """A filter with a default choice applied when its parameter is absent ("all" turns it off)."""

    default = ""

    def value(self):
        value = super().value()
        return self.default if value is None else value

    def choices(self, changelist):
        value = self.value()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class StateFilter(DefaultingFilter):
    """Open (the default), overdue, approvals, closed or everything; a search looks at every state."""

    title = "state"
    parameter_name = "state"
    default = "open"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        if request.GET.get("q", "").strip():
            self.default = "all"  # looking an item up by title or CRM id should find it closed too

    def lookups(self, request, model_admin):
        return [
            ("open", "Open (default)"),
            ("overdue", "Open and overdue"),
            ("approvals", "Approvals waiting"),
            ("closed", "Closed"),
            ("all", "All"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(status__in=OPEN)
        if value == "overdue":
            return queryset.filter(status__in=OPEN, due_at__lt=timezone.now())
        if value == "approvals":
            return queryset.filter(status__in=OPEN, kind=ExceptionItem.Kind.APPROVAL)
        if value == "closed":
            return queryset.exclude(status__in=OPEN)
        return queryset


class QueueFilter(admin.SimpleListFilter):
    """The queues the user may see."""

    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [(str(q.pk), q.name) for q in _visible_queues(request.user).order_by("name")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(queue_id=int(value))
        return queryset


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("me", "Mine"), ("none", "Unassigned"), ("others", "Someone else's")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(owner=request.user)
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "others":
            return queryset.filter(owner__isnull=False).exclude(owner=request.user)
        return queryset


class AutomationFilter(admin.SimpleListFilter):
    """The automations (a short table: no scan of the items for distinct values)."""

    title = "automation"
    parameter_name = "automation"

    def lookups(self, request, model_admin):
        from revops.models import Automation

        return [(str(pk), name) for pk, name in Automation.objects.order_by("name").values_list("pk", "name")]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(automation_id=int(value))
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _low, _high) in AGE_BUCKETS.items()]

    def queryset(self, request, queryset):
        bucket = AGE_BUCKETS.get(self.value() or "")
        if bucket is None:
            return queryset
        now = timezone.now()
        _label, low, high = bucket
        queryset = queryset.filter(first_seen_at__lte=now - dt.timedelta(days=low))
        if high is not None:
            queryset = queryset.filter(first_seen_at__gt=now - dt.timedelta(days=high))
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(due_at__lt=now)
        if self.value() == "no":
            return queryset.filter(Q(due_at__gte=now) | Q(due_at__isnull=True))
        return queryset


class CappedPaginator(Paginator):
    """Counts at most ``COUNT_CAP`` + 1 rows (``SELECT count(*) FROM (… LIMIT n)``), never the whole table."""

    @cached_property
    def count(self):
        try:
            return self.object_list.order_by()[: COUNT_CAP + 1].count()  # no ORDER BY: stop at the cap
        except (AttributeError, TypeError):
            return len(self.object_list)


# --- Queue counts ------------------------------------------------------------------------------


QUEUE_COUNTS_SECONDS = 30


def queue_counts(user) -> list[dict]:
    """Per visible queue: open, overdue and approvals waiting — one grouped query over open items.

    The answer is cached for ``QUEUE_COUNTS_SECONDS`` per set of queues (a triage header may be
    half a minute old; with many open items the grouped count is the page's most expensive query).
    """
    from django.core.cache import cache

    queues = list(_visible_queues(user).order_by("name").values("pk", "name"))
    if not queues:
        return []
    key = "exceptions:queue-counts:" + ",".join(str(q["pk"]) for q in queues)
    try:
        cached = cache.get(key)
    except Exception:  # the cache is a convenience: without Redis, count every time
        cached = None
    if cached is not None:
        return cached
    counts = _queue_counts(queues)
    try:
        cache.set(key, counts, QUEUE_COUNTS_SECONDS)
    except Exception:
        pass
    return counts


def _queue_counts(queues: list[dict]) -> list[dict]:
    now = timezone.now()
    rows = (
        ExceptionItem.objects.filter(queue_id__in=[q["pk"] for q in queues], status__in=OPEN)
        .order_by()
        .values("queue_id")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due_at__lt=now)),
            approvals=Count("pk", filter=Q(kind=ExceptionItem.Kind.APPROVAL, decision="")),
        )
    )
    by_queue = {row["queue_id"]: row for row in rows}
    return [
        {
            "pk": q["pk"],
            "name": q["name"],
            "open": by_queue.get(q["pk"], {}).get("open", 0),
            "overdue": by_queue.get(q["pk"], {}).get("overdue", 0),
            "approvals": by_queue.get(q["pk"], {}).get("approvals", 0),
        }
        for q in queues
    ]


# --- The admin ---------------------------------------------------------------------------------


@admin.register(ExceptionItem)
class ExceptionItemAdmin(ExceptionVisibilityMixin, AuditedAdmin):
    """The triage view (changelist), the item page (read-only change view) and the triage actions."""

    change_list_template = "admin/exceptions/exceptionitem/change_list.html"
    change_form_template = "admin/exceptions/exceptionitem/change_form.html"
    list_display = (
        "due",
        "severity_display",
        "kind_display",
        "title",
        "record",
        "owner_display",
        "queue_display",
        "age",
        "occurrences",
        "escalation",
    )
    list_display_links = ("title",)
    list_filter = (
        StateFilter,
        QueueFilter,
        "kind",
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
    actions = [
        "claim_selected",
        "assign_selected",
        "resolve_selected",
        "dismiss_selected",
        "snooze_selected",
        "escalate_selected",
    ]
    fieldsets = (
        (None, {"fields": ("title", ("kind_display", "severity_display", "status_display"))}),
        ("Who and by when", {"fields": ("owner", "queue_display", "due", "escalation", "claimed_at", "snoozed_until")}),
        ("About", {"fields": ("record", "automation_link", "run_link")}),
        ("Occurrences", {"fields": ("occurrences", "first_seen_at", "last_seen_at", "dedupe_key")}),
        ("Resolution", {"fields": ("decision", "resolution_code", "resolution_note", "resolved_by", "resolved_at")}),
    )
    readonly_fields = (
        "title",
        "kind_display",
        "severity_display",
        "status_display",
        "owner",
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
        "resolution_code",
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

    def get_actions(self, request):
        if not self.can_triage(request):
            return {}
        return super().get_actions(request)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("next/", view(self.next_item_view), name="exceptions_exceptionitem_next"),
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

    @admin.display(description="due")
    def due(self, obj):
        if obj.due_at is None:
            return "—"
        shown = f"{timezone.localtime(obj.due_at):%Y-%m-%d %H:%M}"
        if obj.status in OPEN and obj.due_at < timezone.now():
            return format_html("{} {}", shown, badge("overdue", "danger"))
        return shown

    @admin.display(description="severity")
    def severity_display(self, obj):
        return badge(obj.get_severity_display(), SEVERITY_TONES.get(obj.severity, "neutral"))

    @admin.display(description="kind")
    def kind_display(self, obj):
        return obj.get_kind_display()

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
        return obj.owner.get_username() if obj.owner_id else badge("unassigned", "warn")

    @admin.display(description="queue")
    def queue_display(self, obj):
        return obj.queue.name if obj.queue_id else (obj.queue_name or "—")

    @admin.display(description="age")
    def age(self, obj):
        seconds = (timezone.now() - obj.first_seen_at).total_seconds()
        if seconds < 3600:
            return f"{int(seconds // 60)} min"
        if seconds < 86400:
            return f"{int(seconds // 3600)} h"
        return f"{int(seconds // 86400)} d"

    @admin.display(description="escalation")
    def escalation(self, obj):
        level = obj.escalation_level or 0
        if level == 0:
            return "owner"
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
        is_approval = obj.kind == ExceptionItem.Kind.APPROVAL and not obj.decision
        can = self.can_triage(request) and is_open
        buttons = []
        if can:
            names = ["claim", "assign", "resolve", "dismiss", "snooze", "escalate"]
            if is_approval:
                names = ["approve", "reject", "override", "claim", "assign", "snooze", "escalate", "dismiss"]
            for name in names:
                if name == "claim" and obj.claimed_at is not None:
                    continue
                if not self.can_act(request, obj, name):
                    continue
                buttons.append(
                    {
                        "name": name,
                        "label": ACTIONS[name]["label"],
                        "url": reverse("admin:exceptions_exceptionitem_act", args=[obj.pk, name]),
                        "direct": ACTIONS[name]["form"] is None,
                        "approval": ACTIONS[name].get("approval", False),
                    }
                )
        run = None
        if obj.run_id:
            from revops.models import AutomationRun

            run = (
                AutomationRun.objects.filter(pk=obj.run_id)
                .select_related("automation", "version", "automation__rule_owner", "automation__failure_owner")
                .prefetch_related("applied")
                .first()
            )
        related = []
        if obj.object_type and obj.object_id is not None:
            related = list(
                self.get_queryset(request)
                .filter(object_type=obj.object_type, object_id=obj.object_id, status__in=OPEN)
                .exclude(pk=obj.pk)
                .order_by("due_at", "pk")[:20]
            )
        history = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[:30])
        queue = obj.queue
        path_steps = [
            ("owner", obj.owner.get_username() if obj.owner_id else "unassigned"),
            ("queue manager", queue.manager.get_username() if queue and queue.manager_id else "—"),
            (
                "escalation target",
                queue.escalation_target.get_username() if queue and queue.escalation_target_id else "—",
            ),
        ]
        return {
            "item": obj,
            "item_open": is_open,
            "item_overdue": is_open and obj.due_at is not None and obj.due_at < timezone.now(),
            "is_approval": obj.kind == ExceptionItem.Kind.APPROVAL,
            "action_buttons": buttons,
            "run_card": run_context(run) if run is not None else None,
            "record_link": record_url(obj.object_type, obj.object_id),
            "record_why": why_url(obj.object_type, obj.object_id) if obj.object_type else None,
            "record_fields": self.record_fields(obj),
            "proposal_html": json_block(obj.proposal),
            "proposal_label": ACTION_LABELS.get(
                (obj.proposal or {}).get("action", ""), (obj.proposal or {}).get("action")
            ),
            "proposal_changes": action_changes((obj.proposal or {}).get("before"), (obj.proposal or {}).get("after"))
            if obj.proposal
            else [],
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
            "next_url": reverse("admin:exceptions_exceptionitem_next"),
            "changelist_url": reverse("admin:exceptions_exceptionitem_changelist"),
        }

    @staticmethod
    def record_fields(obj) -> list[tuple[str, str]]:
        """A few key fields of the record the item is about."""
        if not obj.object_type or obj.object_id is None:
            return []
        from django.apps import apps

        try:
            model = apps.get_model("revops", obj.object_type)
        except LookupError:
            return []
        record = model._default_manager.filter(pk=obj.object_id).first()
        if record is None:
            return [("record", "deleted")]
        names = [
            "external_id",
            "name",
            "first_name",
            "last_name",
            "email",
            "company",
            "country",
            "stage",
            "forecast_category",
            "amount",
            "close_date",
            "status",
            "segment",
            "owner",
        ]
        fields = {f.name for f in model._meta.get_fields()}
        rows = []
        for name in names:
            if name in fields:
                value = getattr(record, name, None)
                if value not in (None, ""):
                    rows.append((name.replace("_", " "), str(value)))
        return rows

    # views: next item and single-item actions -------------------------------------------------

    def next_item_view(self, request):
        """Claim the oldest unclaimed item in the user's queues and open it."""
        changelist = reverse("admin:exceptions_exceptionitem_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(changelist)
        if not self.can_triage(request):
            raise PermissionDenied
        try:
            item = _services().exception_next_item(actor=request.user, queues=_visible_queues(request.user))
        except _refusals() as error:
            self.message_user(request, f"Could not take the next item: {_message(error)}", messages.ERROR)
            return HttpResponseRedirect(changelist)
        if item is None:
            self.message_user(request, "Nothing to take: no unclaimed open item in your queues.", messages.INFO)
            return HttpResponseRedirect(changelist)
        self.message_user(request, f"Claimed “{item.title}” — it is yours now.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:exceptions_exceptionitem_change", args=[item.pk]))

    def item_action_view(self, request, object_id, action):
        """One action on one item: a form page when it needs input, then the service call."""
        spec = ACTIONS.get(action)
        if spec is None:
            raise Http404("Unknown action.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such exception item (or not in your queues).")
        if not self.can_triage(request) or not self.can_act(request, obj, action):
            raise PermissionDenied
        item_url = reverse("admin:exceptions_exceptionitem_change", args=[obj.pk])
        form_class = spec["form"]
        data = {}
        if form_class is not None:
            data_in = request.POST if request.method == "POST" and "_confirm" in request.POST else None
            form = form_class(data_in, item=obj) if form_class is OverrideForm else form_class(data_in)
            if not form.is_bound or not form.is_valid():
                return self.render_action_form(request, action, form, items=[obj], cancel_url=item_url)
            data = form.cleaned_data
        elif request.method != "POST":
            return HttpResponseRedirect(item_url)
        try:
            spec["single"](_services(), obj, data, request.user)
        except _refusals() as error:
            self.message_user(request, f"{spec['label'].rstrip('…')} refused: {_message(error)}", messages.ERROR)
        else:
            self.message_user(request, f"“{obj.title}” {PAST_TENSE[action]}.", messages.SUCCESS)
        return HttpResponseRedirect(item_url)

    def render_action_form(self, request, action, form, *, items, cancel_url, bulk=False):
        spec = ACTIONS[action]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{spec['label'].rstrip('…')} {len(items)} item(s)" if bulk else f"{spec['label'].rstrip('…')}",
            "opts": self.model._meta,
            "action": action,
            "action_label": spec["label"].rstrip("…"),
            "form": form,
            "items": items[:50],
            "more": max(0, len(items) - 50),
            "bulk": bulk,
            "selected": [str(item.pk) for item in items],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "cancel_url": cancel_url,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/exceptions/exceptionitem/action_form.html", context)

    # bulk actions -----------------------------------------------------------------------------

    def run_bulk(self, request, queryset, action):
        """A bulk action: ask for input on an intermediate page when needed, then call the bulk service."""
        spec = ACTIONS[action]
        if not self.can_triage(request):
            raise PermissionDenied
        data = {}
        if spec["form"] is not None:
            form = spec["form"](request.POST if "_confirm" in request.POST else None)
            if not form.is_bound or not form.is_valid():
                return self.render_action_form(
                    request,
                    action,
                    form,
                    items=list(queryset.order_by("due_at", "pk")[:500]),
                    cancel_url=reverse("admin:exceptions_exceptionitem_changelist"),
                    bulk=True,
                )
            data = form.cleaned_data
        services = _services()
        visible = self.get_queryset(request).filter(pk__in=list(queryset.values_list("pk", flat=True)))
        allowed = [
            item.pk
            for item in visible.select_related(None).only("pk", "owner_id")
            if roles.can_act(request.user, item, action)
        ]
        not_allowed = visible.count() - len(allowed)
        items_qs = self.get_queryset(request).filter(pk__in=allowed)
        try:
            result = spec["bulk"](services, items_qs, data, request.user)
        except _refusals() as error:
            self.message_user(request, f"{spec['label'].rstrip('…')} refused: {_message(error)}", messages.ERROR)
            return None
        done, refused = _bulk_counts(result)
        if not_allowed:
            refused.append(f"{not_allowed} item(s) your role may not {action}")
        self.message_user(
            request, f"{done} item(s) {PAST_TENSE[action]}.", messages.SUCCESS if done else messages.WARNING
        )
        if refused:
            shown = "; ".join(refused[:5]) + (f" (and {len(refused) - 5} more)" if len(refused) > 5 else "")
            self.message_user(request, f"{len(refused)} refused: {shown}", messages.WARNING)
        return None

    @admin.action(description="Claim the selected items")
    def claim_selected(self, request, queryset):
        return self.run_bulk(request, queryset, "claim")

    @admin.action(description="Assign the selected items to…")
    def assign_selected(self, request, queryset):
        return self.run_bulk(request, queryset, "assign")

    @admin.action(description="Resolve the selected items (reason code and note)…")
    def resolve_selected(self, request, queryset):
        return self.run_bulk(request, queryset, "resolve")

    @admin.action(description="Dismiss the selected items (reason required)…")
    def dismiss_selected(self, request, queryset):
        return self.run_bulk(request, queryset, "dismiss")

    @admin.action(description="Snooze the selected items until…")
    def snooze_selected(self, request, queryset):
        return self.run_bulk(request, queryset, "snooze")

    @admin.action(description="Escalate the selected items")
    def escalate_selected(self, request, queryset):
        return self.run_bulk(request, queryset, "escalate")


def history_rows(history) -> list[dict]:
    """The item's history as rows: when, who, what changed (against the previous version)."""
    rows = []
    watched = ["status", "owner_id", "escalation_level", "snoozed_until", "decision", "resolution_code", "occurrences"]
    for index, version in enumerate(history):
        previous = history[index + 1] if index + 1 < len(history) else None
        changes = []
        if previous is not None:
            for name in watched:
                before, after = getattr(previous, name, None), getattr(version, name, None)
                if before != after:
                    changes.append(f"{name.replace('_id', '')}: {before or '—'} → {after or '—'}")
        rows.append(
            {
                "when": version.history_date,
                "who": version.history_user.get_username() if version.history_user_id else "system",
                "type": {"+": "created", "~": "changed", "-": "deleted"}.get(version.history_type, "?"),
                "reason": version.history_change_reason or "",
                "changes": changes,
            }
        )
    return rows


# --- Landing: managers go straight to the triage view ------------------------------------------


def _wrap_index(original: Callable) -> Callable:
    def index(request, extra_context=None):
        user = request.user
        if (
            "index" not in request.GET
            and user.is_active
            and not user.is_superuser
            and user.groups.filter(name="Manager").exists()
        ):
            return HttpResponseRedirect(reverse("admin:exceptions_exceptionitem_changelist"))
        return original(request, extra_context)

    index.__wrapped__ = original
    return index


if not hasattr(admin.site.index, "__wrapped__"):
    admin.site.index = _wrap_index(admin.site.index)
