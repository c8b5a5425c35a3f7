"""Response SLAs: policies, business calendars, clocks and the SLA report."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from revops import conditions
from revops.admin.base import AuditedAdmin, ReadOnlyMixin, RowScopedMixin, admin_link, badge, values_filter
from revops.admin.schedule_widgets import DateListField, WeekdaysField, time_input
from revops.engine.admin.helpers import fields_used_links

from ..delegation import clocks_visible_q
from ..models import BusinessCalendar, SlaClock, SlaPolicy
from ..setup_services import (
    business_calendar_clean,
    business_calendar_delete,
    business_calendar_save,
    sla_policy_clean,
    sla_policy_delete,
    sla_policy_save,
)
from .base import ConditionsForm, clean_weekdays, clean_with_service
from .helpers import CLOCK_TONES, minutes_text, page_context, percent, rep_text, rule_conditions_text, weekdays_text


class SlaPolicyForm(ConditionsForm):
    """Validated by ``sla_policy_clean`` too (``sla_policy_save`` checks the same)."""

    class Meta:
        model = SlaPolicy
        fields = (
            "name",
            "description",
            "priority",
            "is_active",
            "conditions",
            "target_minutes",
            "reminder_share",
            "use_business_hours",
            "reroute_on_breach",
        )
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 90})}

    def clean_conditions(self):
        value = super().clean_conditions()
        try:
            return conditions.clean_condition(value, object_type="lead")
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc

    def clean_target_minutes(self):
        value = self.cleaned_data.get("target_minutes")
        if value is not None and value < 1:
            raise ValidationError("The target is at least one minute.")
        return value

    def _post_clean(self):
        super()._post_clean()
        clean_with_service(self, sla_policy_clean)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    form = SlaPolicyForm
    list_display = (
        "priority",
        "name",
        "active_display",
        "conditions_display",
        "target",
        "reminder",
        "use_business_hours",
        "reroute_on_breach",
    )
    list_display_links = ("name",)
    list_filter = ("is_active", "use_business_hours", "reroute_on_breach")
    search_fields = ("name", "description")
    ordering = ("priority", "pk")
    readonly_fields = ("conditions_plain", "fields_used_display")
    fieldsets = (
        (None, {"fields": ("name", "description", ("priority", "is_active"))}),
        (
            "When",
            {
                "fields": ("conditions_plain", "conditions", "fields_used_display"),
                "description": "Policies are tried in priority order (lower first); the first whose conditions "
                "hold sets the lead's response target.",
            },
        ),
        ("Target", {"fields": ("target_minutes", "reminder_share", "use_business_hours", "reroute_on_breach")}),
        ("Timestamps", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            derived = {"conditions_plain", "fields_used_display"}
            return [
                (name, {**opts, "fields": [f for f in opts["fields"] if f not in derived]})
                for name, opts in self.fieldsets
                if name != "Timestamps"
            ]
        return self.fieldsets

    def perform_save(self, request, obj, form, change, *, reason):
        sla_policy_save(policy=obj, actor=request.user, reason=reason)

    def perform_delete(self, request, obj, *, reason):
        sla_policy_delete(policy=obj, actor=request.user, reason=reason)

    @admin.display(description="active", ordering="is_active")
    def active_display(self, obj):
        return badge("active", "ok") if obj.is_active else badge("inactive", "warn")

    @admin.display(description="when")
    def conditions_display(self, obj):
        return rule_conditions_text(obj)

    @admin.display(description="first touch within", ordering="target_minutes")
    def target(self, obj):
        return minutes_text(obj.target_minutes)

    @admin.display(description="reminder at", ordering="reminder_share")
    def reminder(self, obj):
        return f"{obj.reminder_share * 100:.0f}% of the time" if obj.reminder_share else "no reminder"

    @admin.display(description="in plain language")
    def conditions_plain(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html('<div class="rv-plain">{}</div>', rule_conditions_text(obj))

    @admin.display(description="fields used (derived from the conditions)")
    def fields_used_display(self, obj):
        return fields_used_links(obj.fields_used if obj and obj.pk else [])


class BusinessCalendarForm(forms.ModelForm):
    """Validated by ``business_calendar_clean`` too (``business_calendar_save`` checks the same)."""

    working_days = WeekdaysField(help_text="The days SLA clocks run.")
    holidays = DateListField(help_text="Dates with no working hours; clear a date to remove it.")

    class Meta:
        model = BusinessCalendar
        fields = ("name", "time_zone", "working_days", "day_start", "day_end", "holidays", "teams", "is_default")
        widgets = {"day_start": time_input(), "day_end": time_input()}

    def clean_time_zone(self):
        value = (self.cleaned_data.get("time_zone") or "").strip()
        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            raise ValidationError(
                f"{value!r} is not a time zone name (e.g. Europe/Berlin, America/New_York)."
            ) from None
        return value

    def clean_working_days(self):
        days = clean_weekdays(self.cleaned_data.get("working_days"))
        if not days:
            raise ValidationError("A calendar needs at least one working day.")
        return days

    def clean_holidays(self):
        value = self.cleaned_data.get("holidays")
        if value in (None, ""):
            return []
        if not isinstance(value, list):
            raise ValidationError('Give a JSON list of dates, e.g. ["2026-12-25"].')
        out = []
        for item in value:
            try:
                out.append(dt.date.fromisoformat(str(item)).isoformat())
            except ValueError:
                raise ValidationError(f"{item!r} is not a date (YYYY-MM-DD).") from None
        return sorted(set(out))

    def clean(self):
        data = super().clean()
        start, end = data.get("day_start"), data.get("day_end")
        if start and end and start >= end:
            self.add_error("day_end", "The working day ends after it starts.")
        return data

    def _post_clean(self):
        super()._post_clean()
        clean_with_service(self, business_calendar_clean)


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(AuditedAdmin):
    form = BusinessCalendarForm
    list_display = ("name", "time_zone", "days", "hours", "holidays_count", "teams_list", "is_default")
    list_filter = ("is_default", "time_zone")
    search_fields = ("name", "teams__name")
    filter_horizontal = ("teams",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("teams")

    def perform_save(self, request, obj, form, change, *, reason):
        teams = form.cleaned_data.get("teams")
        business_calendar_save(
            calendar=obj, teams=None if teams is None else list(teams), actor=request.user, reason=reason
        )

    def save_related(self, request, form, formsets, change):
        # The teams were set by business_calendar_save (in save_model), so not by form.save_m2m().
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def perform_delete(self, request, obj, *, reason):
        business_calendar_delete(calendar=obj, actor=request.user, reason=reason)

    @admin.display(description="working days")
    def days(self, obj):
        return weekdays_text(obj.working_days)

    @admin.display(description="hours")
    def hours(self, obj):
        return f"{obj.day_start:%H:%M}–{obj.day_end:%H:%M}"

    @admin.display(description="holidays")
    def holidays_count(self, obj):
        return len(obj.holidays or [])

    @admin.display(description="teams")
    def teams_list(self, obj):
        names = [team.name for team in obj.teams.all()]
        return ", ".join(names) or ("every team without a calendar" if obj.is_default else "—")


@admin.register(SlaClock)
class SlaClockAdmin(RowScopedMixin, ReadOnlyMixin, AuditedAdmin):
    list_display = ("lead_link", "owner_link", "policy", "status_display", "started", "due", "first_touch")
    list_filter = ("status", values_filter("policy"), "business_hours")
    search_fields = ("=lead__external_id", "=lead__email", "policy")
    search_help_text = "Search by the lead's CRM id or email, or the policy's name."
    list_select_related = ("lead", "owner")
    show_full_result_count = False
    ordering = ("-started_at",)
    fields = (
        "lead_link",
        "owner_link",
        "policy",
        "policy_ref",
        "decision_link",
        "status_display",
        "target_minutes",
        "business_hours",
        "started_at",
        "due_at",
        "remind_at",
        "reminded_at",
        "first_touch_at",
        "breached_at",
        "stopped_at",
    )
    readonly_fields = fields

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("report/", view(self.report_view), name="routing_slaclock_report"), *super().get_urls()]

    def get_queryset(self, request):
        """A manager reads the clocks of their teams' reps (sub-teams included); RevOps all."""
        queryset = super().get_queryset(request)
        condition = clocks_visible_q(request.user)
        return queryset if condition is None else queryset.filter(condition)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:routing_slaclock_report")}
        return super().changelist_view(request, extra_context)

    def report_view(self, request):
        """Met rate and time to first touch per team, routing rule and rep for the last 7, 30 or 90 days."""
        from ..selectors import sla_metrics

        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        days = request.GET.get("days", "30")
        days = int(days) if days in ("7", "30", "90") else 30
        since = timezone.now() - dt.timedelta(days=days)
        sections = []
        for group_by, title in (("team", "Per team"), ("rule", "Per routing rule"), ("rep", "Per rep")):
            rows = sla_metrics(group_by=group_by, since=since, scope=clocks_visible_q(request.user))
            for row in rows:
                row["met_rate_text"] = percent(row["met_rate"])
                rate = row["met_rate"]
                row["tone"] = "" if rate is None else "ok" if rate >= 0.9 else "warn" if rate >= 0.7 else "danger"
            sections.append({"key": group_by, "title": title, "rows": rows})
        totals = {
            key: sum(row[key] for row in sections[0]["rows"])
            for key in ("clocks", "met", "breached", "running", "cancelled")
        }
        finished = totals["met"] + totals["breached"]
        totals["met_rate_text"] = percent(totals["met"] / finished if finished else None)
        context = {
            **page_context(self, request, "SLA report"),
            "days": days,
            "periods": (7, 30, 90),
            "sections": sections,
            "totals": totals,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/routing/slaclock/report.html", context)

    @admin.display(description="lead")
    def lead_link(self, obj):
        lead = obj.lead
        name = f"{lead.first_name} {lead.last_name}".strip() or lead.email or lead.external_id
        return admin_link(lead, f"{name} ({lead.external_id})")

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        return admin_link(obj.owner, rep_text(obj.owner)) if obj.owner_id else "—"

    @admin.display(description="routing decision")
    def decision_link(self, obj):
        return admin_link(obj.decision, f"decision #{obj.decision_id}") if obj.decision_id else "—"

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        return badge(obj.get_status_display(), CLOCK_TONES.get(obj.status, "neutral"))

    @admin.display(description="started", ordering="started_at")
    def started(self, obj):
        return f"{timezone.localtime(obj.started_at):%Y-%m-%d %H:%M}"

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        shown = f"{timezone.localtime(obj.due_at):%Y-%m-%d %H:%M} ({minutes_text(obj.target_minutes)}"
        shown += ", business hours)" if obj.business_hours else ")"
        if obj.status == SlaClock.Status.RUNNING and obj.due_at < timezone.now():
            return format_html("{} {}", shown, badge("overdue", "danger"))
        return shown

    @admin.display(description="first touch", ordering="first_touch_at")
    def first_touch(self, obj):
        if obj.first_touch_at is None:
            return "—"
        minutes = (obj.first_touch_at - obj.started_at).total_seconds() / 60
        return f"{timezone.localtime(obj.first_touch_at):%Y-%m-%d %H:%M} (after {minutes_text(max(minutes, 0))})"
