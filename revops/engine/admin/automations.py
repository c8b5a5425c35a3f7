"""Admin for the automation registry, its versions, runs and applied actions, and the shadow report.

Writes go through ``revops.engine.services``: the form validates with ``automation_clean`` (conditions
against the data dictionary, config against the kind, governance for live/shadow) and
``save_model`` calls ``automation_create``/``automation_update``. Mode changes (go live, shadow,
pause, retire) go through ``automation_set_mode``; a refusal is shown with its reasons.
Runs and applied actions are read-only: they are the record of what automation did.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from revops.admin.base import (
    AuditedAdmin,
    badge,
    json_block,
)
from revops.admin.links import record_url, why_url
from revops.conditions import load_fields
from revops.models import AppliedAction, Automation, AutomationRun, AutomationVersion
from revops.values import datetime_text

from .. import services as automations
from ..health import health_visible
from ..kinds import KINDS, get_kind, kind_choices
from ..selectors import run_summary
from .about import about_html
from .explain import ACTION_STATUS_TONES, OUTCOME_TONES, action_rows
from .forms import AutomationForm
from .health import automation_health_view, health_review_view
from .helpers import (
    EDITABLE_FIELDS,
    RISK_TONES,
    RUN_STATS_DAYS,
    conditions_text,
    fields_used_links,
    kind_label,
    mode_badge,
    refusal,
    shadow_report,
    tree_text,
    trigger_summary,
)
from .pause import PauseAdminMixin, PauseListFilter
from .reverts import automation_revert_view, can_revert


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AutomationVersionInline(ReadOnlyInline):
    model = AutomationVersion
    verbose_name_plural = "versions (each change to the rule is a new version; runs point at the one they used)"
    fields = ("number", "created_at", "created_by", "risk", "rule")
    readonly_fields = fields
    ordering = ("-number",)
    classes = ("collapse",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("automation", "created_by")

    @admin.display(description="conditions")
    def rule(self, obj):
        return tree_text(obj.conditions, obj.automation.object_type)


class AppliedActionInline(ReadOnlyInline):
    model = AppliedAction
    verbose_name_plural = "actions (applied, or in shadow mode only logged, with before → after)"
    fields = ("index", "action", "target", "status_badge", "params_display", "change")
    readonly_fields = fields
    ordering = ("index",)

    @admin.display(description="on")
    def target(self, obj):
        url = record_url(obj.object_type, obj.object_id)
        if not obj.object_type:
            return "—"
        text = f"{obj.object_type} #{obj.object_id}"
        return format_html('<a href="{}">{}</a>', url, text) if url else text

    @admin.display(description="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display(), ACTION_STATUS_TONES.get(obj.status, "neutral"))

    @admin.display(description="parameters")
    def params_display(self, obj):
        return json_block(obj.params)

    @admin.display(description="before → after")
    def change(self, obj):
        rows = action_rows([obj])[0]["changes"]
        if not rows:
            return "—"
        return format_html_join(
            "",
            "<div>{}: {} → <strong>{}</strong></div>",
            ((row["label"], row["before"], row["after"]) for row in rows),
        )


# --- Filters ---------------------------------------------------------------------------------


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return kind_choices()

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class UsesFieldFilter(admin.SimpleListFilter):
    """Automations whose conditions read a dictionary field (linked from the data dictionary)."""

    title = "uses field"
    parameter_name = "uses"

    def lookups(self, request, model_admin):
        used = {path for paths in Automation.objects.values_list("fields_used", flat=True) for path in paths or []}
        return [(path, path) for path in sorted(used)]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        pks = [pk for pk, used in queryset.values_list("pk", "fields_used") if self.value() in (used or [])]
        return queryset.filter(pk__in=pks)


class ReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("never", "Never reviewed"), ("overdue", "Review overdue")]

    def queryset(self, request, queryset):
        if self.value() == "never":
            return queryset.filter(last_reviewed_at__isnull=True)
        if self.value() == "overdue":
            # The registry is small: compute due dates in Python rather than with database date maths.
            today = timezone.localdate()
            overdue = [
                pk
                for pk, reviewed, cadence in queryset.values_list("pk", "last_reviewed_at", "review_cadence_days")
                if reviewed is None or reviewed + dt.timedelta(days=cadence) < today
            ]
            return queryset.filter(pk__in=overdue)
        return queryset


# --- Automation ------------------------------------------------------------------------------


@admin.register(Automation)
class AutomationAdmin(PauseAdminMixin, AuditedAdmin):
    form = AutomationForm
    list_display = (
        "name",
        "object_type",
        "kind_display",
        "trigger_display",
        "mode_display",
        "risk_display",
        "owners",
        "last_run",
        "runs_recent",
        "fired_recent",
    )
    list_filter = ("mode", PauseListFilter, "risk", KindFilter, "object_type", "trigger", ReviewFilter, UsesFieldFilter)
    search_fields = ("name", "purpose", "kind", "exception_queue", "downstream_effect")
    search_help_text = "Search by name, purpose, kind, exception path or downstream effect."
    list_select_related = ("rule_owner", "failure_owner", "paused_by")
    autocomplete_fields = ("rule_owner", "system_owner", "failure_owner")
    inlines = (AutomationVersionInline,)
    actions = ("go_live", "switch_to_shadow", "pause", "retire")
    readonly_fields = (
        "version",
        "fields_used_display",
        "conditions_plain",
        "readiness",
        "switch_field",
        "identity",
        "recent_runs",
        "reports",
        "about",
    )
    fieldsets = (
        ("In plain language", {"fields": ("about",)}),
        ("What & why", {"fields": ("name", "purpose", ("kind", "object_type"))}),
        (
            "Trigger",
            {"fields": ("trigger", "trigger_fields", "trigger_value", "schedule_minutes")},
        ),
        (
            "Rule",
            {
                "fields": ("conditions_plain", "conditions", "fields_used_display", "config", "version"),
                "description": "Conditions reference data-dictionary fields only; the fields used are derived from them.",
            },
        ),
        (
            "Governance",
            {
                "fields": (
                    "readiness",
                    "mode",
                    "switch_field",
                    "risk",
                    ("rule_owner", "system_owner", "failure_owner"),
                    "exception_queue",
                    "downstream_effect",
                    "rollback_notes",
                    ("last_reviewed_at", "review_cadence_days"),
                    "minutes_saved_per_run",
                    "identity",
                )
            },
        ),
        ("Runs", {"fields": ("recent_runs", "reports")}),
        ("Timestamps", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:  # nothing derived or run yet
            return [
                (name, {**opts, "fields": [f for f in opts["fields"] if self._shown_on_add(f)]})
                for name, opts in self.fieldsets
                if name not in ("In plain language", "Runs", "Timestamps")
            ]
        return self.fieldsets

    @staticmethod
    def _shown_on_add(field):
        if isinstance(field, tuple):
            return True
        return field not in (
            "version",
            "fields_used_display",
            "readiness",
            "switch_field",
            "identity",
            "conditions_plain",
        )

    def get_queryset(self, request):
        since = timezone.now() - dt.timedelta(days=RUN_STATS_DAYS)
        recent = AutomationRun.objects.filter(automation=OuterRef("pk"), created_at__gte=since).order_by()
        counted = recent.values("automation").annotate(n=Count("pk")).values("n")
        fired = (
            recent.filter(outcome=AutomationRun.Outcome.FIRED).values("automation").annotate(n=Count("pk")).values("n")
        )
        latest = (
            AutomationRun.objects.filter(automation=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
        )
        return self.with_switch(super().get_queryset(request)).annotate(
            runs_30d=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)),
            fired_30d=Coalesce(Subquery(fired, output_field=IntegerField()), Value(0)),
            last_run_at=Subquery(latest),
        )

    def has_delete_permission(self, request, obj=None):
        # Automations are retired, not deleted, once they have run: their runs are the audit trail.
        if obj is not None and (obj.mode != Automation.Mode.DRAFT or obj.runs.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # Writes -------------------------------------------------------------------------------

    def perform_save(self, request, obj, form, change, *, reason):
        if change:
            changes = {name: getattr(obj, name) for name in form.changed_data if name in EDITABLE_FIELDS}
            automations.automation_update(automation=obj, actor=request.user, reason=reason, **changes)
            return
        values = {name: getattr(obj, name) for name in EDITABLE_FIELDS}
        created = automations.automation_create(actor=request.user, reason=reason, **values)
        for name in ("pk", "version", "fields_used", "identity_id", "conditions", "config", "created_at", "updated_at"):
            setattr(obj, name, getattr(created, name))
        obj._state.adding = False
        obj._state.db = created._state.db

    def perform_delete(self, request, obj, *, reason):
        obj.delete()

    def set_mode(self, request, automation: Automation, mode: str) -> bool:
        """Move one automation to ``mode`` through the service; report a refusal with its reasons."""
        if automation.mode == mode:
            self.message_user(
                request, f"{automation.name!r} is already {automation.get_mode_display().lower()}.", messages.INFO
            )
            return False
        if mode in automations.ACTIVE_MODES:
            blockers = automations.automation_go_live_blockers(automation=automation)
            if blockers:
                self.message_user(request, refusal(automation, mode, blockers), messages.ERROR)
                return False
        try:
            automations.automation_set_mode(
                automation=automation, mode=mode, actor=request.user, reason=f"admin: mode set to {mode}"
            )
        except ValidationError as exc:
            self.message_user(request, refusal(automation, mode, exc.messages), messages.ERROR)
            return False
        return True

    def _set_modes(self, request, queryset, mode):
        done = [a.name for a in queryset.order_by("name") if self.set_mode(request, a, mode)]
        if done:
            label = dict(Automation.Mode.choices)[mode].lower()
            self.message_user(request, f"Now {label}: {', '.join(done)}.", messages.SUCCESS)

    @admin.action(description="Go live (selected automations)", permissions=["change"])
    def go_live(self, request, queryset):
        self._set_modes(request, queryset, Automation.Mode.LIVE)

    @admin.action(description="Switch to shadow mode (log only)", permissions=["change"])
    def switch_to_shadow(self, request, queryset):
        self._set_modes(request, queryset, Automation.Mode.SHADOW)

    @admin.action(
        description="Switch off (mode paused; events are not kept — see Pause… to hold them)", permissions=["change"]
    )
    def pause(self, request, queryset):
        self._set_modes(request, queryset, Automation.Mode.PAUSED)

    @admin.action(description="Retire", permissions=["change"])
    def retire(self, request, queryset):
        self._set_modes(request, queryset, Automation.Mode.RETIRED)

    # Extra pages --------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "health-review/",
                view(lambda request: health_review_view(self, request)),
                name="revops_automation_health_review",
            ),
            # Mode first: "<path:object_id>/shadow/" would also match ".../1/mode/shadow/" (object_id "1/mode").
            path("<path:object_id>/mode/<str:mode>/", view(self.mode_view), name="revops_automation_mode"),
            *self.pause_urls(),
            path("<path:object_id>/shadow/", view(self.shadow_report_view), name="revops_automation_shadow"),
            path(
                "<path:object_id>/health/",
                view(lambda request, object_id: automation_health_view(self, request, object_id)),
                name="revops_automation_health",
            ),
            path(
                "<path:object_id>/revert-runs/",
                view(lambda request, object_id: automation_revert_view(self, request, object_id)),
                name="revops_automation_revert_runs",
            ),
            *super().get_urls(),
        ]

    def _get_or_404(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No automation with id {object_id}.")
        return obj

    def mode_view(self, request, object_id, mode):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self._get_or_404(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if mode not in Automation.Mode.values:
            raise Http404(f"Unknown mode {mode!r}.")
        if self.set_mode(request, obj, mode):
            self.message_user(
                request, f"{obj.name!r} is now {dict(Automation.Mode.choices)[mode].lower()}.", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:revops_automation_change", args=[obj.pk]))

    def shadow_report_view(self, request, object_id):
        obj = self._get_or_404(request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        since = None
        days = request.GET.get("days")
        if days and days.isdigit():
            since = timezone.now() - dt.timedelta(days=int(days))
        report = shadow_report(obj, since=since)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Shadow report: {obj.name}",
            "subtitle": None,
            "opts": self.model._meta,
            "original": obj,
            "report": report,
            "days": days or "",
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/revops/automation/shadow_report.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id))
        if obj is not None:
            extra_context["mode_buttons"] = [
                (mode, label, reverse("admin:revops_automation_mode", args=[obj.pk, mode]))
                for mode, label in (
                    ("live", "Go live"),
                    ("shadow", "Switch to shadow"),
                    ("paused", "Switch off"),
                    ("retired", "Retire"),
                )
                if mode != obj.mode
            ]
            extra_context["switch_buttons"] = self.switch_buttons(request, obj)
            extra_context["shadow_url"] = reverse("admin:revops_automation_shadow", args=[obj.pk])
            if health_visible(request.user):
                extra_context["health_url"] = reverse("admin:revops_automation_health", args=[obj.pk])
            if can_revert(request.user):
                extra_context["revert_runs_url"] = reverse("admin:revops_automation_revert_runs", args=[obj.pk])
            extra_context["runs_url"] = (
                reverse("admin:revops_automationrun_changelist") + f"?automation__id__exact={obj.pk}"
            )
        return super().change_view(request, object_id, form_url, extra_context)

    # Columns and read-only fields ---------------------------------------------------------

    @admin.display(description="kind", ordering="kind")
    def kind_display(self, obj):
        return kind_label(obj.kind)

    @admin.display(description="trigger", ordering="trigger")
    def trigger_display(self, obj):
        return trigger_summary(obj)

    def changelist_view(self, request, extra_context=None):
        extra = {**(extra_context or {}), **self.switch_banner(request)}
        if health_visible(request.user):
            extra["health_review_url"] = reverse("admin:revops_automation_health_review")
        return super().changelist_view(request, extra)

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        return (*shown, "health_link") if health_visible(request.user) else shown

    @admin.display(description="health")
    def health_link(self, obj):
        return format_html('<a href="{}">Health</a>', reverse("admin:revops_automation_health", args=[obj.pk]))

    @admin.display(description="mode (kill switch)", ordering="mode")
    def mode_display(self, obj):
        mode = mode_badge(obj.mode, obj.get_mode_display())
        if obj.paused_at is None and getattr(obj, "all_paused_at", None) is None:
            return mode
        return format_html("{} {}", mode, self.switch_display(obj))

    @admin.display(description="risk", ordering="risk")
    def risk_display(self, obj):
        return badge(obj.get_risk_display().split(" (")[0], RISK_TONES.get(obj.risk, "neutral"), obj.get_risk_display())

    @admin.display(description="owners (rule / failure)")
    def owners(self, obj):
        rule = obj.rule_owner or badge("none", "warn")
        failure = obj.failure_owner or badge("none", "warn")
        return format_html("{} / {}", rule, failure)

    @admin.display(description="last run", ordering="last_run_at")
    def last_run(self, obj):
        when = getattr(obj, "last_run_at", None)
        if when is None:
            return "—"
        return format_html('<span title="{}">{}</span>', when.isoformat(), datetime_text(when))

    @admin.display(description=f"runs ({RUN_STATS_DAYS}d)", ordering="runs_30d")
    def runs_recent(self, obj):
        count = getattr(obj, "runs_30d", 0)
        url = reverse("admin:revops_automationrun_changelist") + f"?automation__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.display(description=f"fired ({RUN_STATS_DAYS}d)", ordering="fired_30d")
    def fired_recent(self, obj):
        return getattr(obj, "fired_30d", 0)

    @admin.display(description="fields used (derived from the conditions)")
    def fields_used_display(self, obj):
        return fields_used_links(obj.fields_used if obj and obj.pk else [])

    @admin.display(description="about this automation")
    def about(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return about_html(obj)

    @admin.display(description="in plain language")
    def conditions_plain(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html('<div class="rv-plain">{}</div>', conditions_text(obj))

    @admin.display(description="go-live readiness")
    def readiness(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        blockers = automations.automation_go_live_blockers(automation=obj)
        if not blockers:
            return badge("✓ Ready to go live: owner, failure owner and exception path are set", "ok")
        items = format_html_join("", "<li>{}</li>", ((b,) for b in blockers))
        return format_html(
            '{}<ul class="rv-blockers">{}</ul>', badge("Not ready to go live or run in shadow", "danger"), items
        )

    @admin.display(description="recent runs")
    def recent_runs(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        runs = list(obj.runs.select_related("version").order_by("-created_at")[:10])
        if not runs:
            return "No runs yet."
        fields = load_fields() if any(not run.summary for run in runs) else None
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">#{}</a></td><td>{}</td><td>v{}</td><td>{}</td><td>{}</td>'
            '<td><a href="{}">{} #{}</a></td><td>{}</td></tr>',
            (
                (
                    reverse("admin:revops_automationrun_change", args=[run.pk]),
                    run.pk,
                    datetime_text(run.created_at),
                    run.version.number,
                    mode_badge(run.mode, run.get_mode_display()),
                    badge(run.get_outcome_display(), OUTCOME_TONES.get(run.outcome, "neutral")),
                    why_url(run.object_type, run.object_id) or "#",
                    run.object_type,
                    run.object_id,
                    run_summary(run, fields)[:140] or "—",
                )
                for run in runs
            ),
        )
        return format_html(
            '<table class="rv-table"><thead><tr><th>Run</th><th>When</th><th>Version</th><th>Mode</th>'
            "<th>Outcome</th><th>Record (why?)</th><th>Summary</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="reports")
    def reports(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        links = format_html(
            '<a href="{}">Shadow report (would have vs did)</a> · <a href="{}">All runs</a>',
            reverse("admin:revops_automation_shadow", args=[obj.pk]),
            reverse("admin:revops_automationrun_changelist") + f"?automation__id__exact={obj.pk}",
        )
        health = get_kind(obj.kind).admin_report(days=RUN_STATS_DAYS) if obj.kind in KINDS else None
        if health:
            return format_html('{}<div class="rv-kind-health rv-routing-health">{}</div>', links, health)
        return links
