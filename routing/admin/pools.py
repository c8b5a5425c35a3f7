"""Pools and their members."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from revops.admin.base import AuditedAdmin, admin_link, badge
from revops.admin.schedule_widgets import WeekdaysField, time_input

from ..delegation import pool_is_managed_by, pools_managed_by
from ..models import Pool, PoolCounter, PoolMember
from ..setup_services import pool_clean, pool_member_problems, pool_save
from .base import AuditedRelatedMixin, clean_weekdays, clean_with_service
from .helpers import rep_text, weekdays_text
from .pool_manage import pool_manage_view


class PoolForm(forms.ModelForm):
    """The pool's own fields; validated by ``pool_clean`` too (``pool_save`` checks the same)."""

    working_days = WeekdaysField(help_text="The days members take leads (when working hours are respected).")

    class Meta:
        model = Pool
        fields = (
            "name",
            "description",
            "strategy",
            "is_active",
            "max_open_leads",
            "max_per_day",
            "respect_working_hours",
            "working_hours_start",
            "working_hours_end",
            "working_days",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2, "cols": 90}),
            "working_hours_start": time_input(),
            "working_hours_end": time_input(),
        }

    def clean_working_days(self):
        return clean_weekdays(self.cleaned_data.get("working_days"))

    def clean(self):
        data = super().clean()
        start, end = data.get("working_hours_start"), data.get("working_hours_end")
        if data.get("respect_working_hours") and start and end and start >= end:
            self.add_error("working_hours_end", "Working hours end after they start.")
        return data

    def _post_clean(self):
        super()._post_clean()
        clean_with_service(self, pool_clean)


class PoolMemberForm(forms.ModelForm):
    """One member row; checked by ``pool_member_problems``, as config-as-code's members are."""

    class Meta:
        model = PoolMember
        fields = ("position", "rep", "team", "role", "weight", "max_open_leads", "max_per_day", "is_active")

    def clean(self):
        data = super().clean()
        problems = pool_member_problems(rep=data.get("rep"), team=data.get("team"), role=data.get("role") or "")
        if "" in problems:
            raise ValidationError(problems[""])
        if "role" in problems:
            self.add_error("role", problems["role"])
        return data


class PoolMemberInline(admin.TabularInline):
    model = PoolMember
    form = PoolMemberForm
    extra = 1
    ordering = ("position", "pk")
    autocomplete_fields = ("rep", "team")
    verbose_name = "member"
    verbose_name_plural = "members (a rep, or every active rep of a team whose title contains the role)"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is None:
            return field
        if db_field.name in ("rep", "team"):  # keep the row narrow: no add/change/view buttons
            for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                setattr(field.widget, flag, False)
            field.widget.attrs["style"] = "width: 13em"
        elif db_field.name == "role":
            field.widget.attrs["style"] = "width: 7em"
        elif db_field.name in ("weight", "position", "max_open_leads", "max_per_day"):
            field.widget.attrs["style"] = "width: 5em"
        return field


@admin.register(Pool)
class PoolAdmin(AuditedRelatedMixin, AuditedAdmin):
    form = PoolForm
    inlines = (PoolMemberInline,)
    list_display = ("name", "strategy_display", "caps", "members_count", "hours", "active_display", "rules_count")
    list_filter = ("strategy", "is_active", "respect_working_hours")
    search_fields = ("name", "description")
    readonly_fields = ("members_now", "counters", "rules_using")
    filter_horizontal = ("managers",)
    fieldsets = (
        (None, {"fields": ("name", "description", ("strategy", "is_active"))}),
        (
            "Pool managers",
            {
                "fields": ("managers",),
                "description": "They run the pool day to day on “Manage the pool”: caps, members' weights and "
                "caps, and their reps' out of office. Nothing else of routing.",
            },
        ),
        ("Caps (per member; a member can override them)", {"fields": (("max_open_leads", "max_per_day"),)}),
        (
            "Availability",
            {
                "fields": (
                    "respect_working_hours",
                    ("working_hours_start", "working_hours_end"),
                    "working_days",
                ),
                "description": "Inactive and out-of-office reps are always skipped; working hours are read in "
                "each rep's own time zone.",
            },
        ),
        ("Now", {"fields": ("members_now", "counters", "rules_using")}),
        ("Timestamps", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [f for f in self.fieldsets if f[0] not in ("Now", "Timestamps")]
        return self.fieldsets

    def get_urls(self):
        view = self.admin_site.admin_view
        manage = view(pool_manage_view)
        return [path("<path:object_id>/manage/", manage, name="routing_pool_manage"), *super().get_urls()]

    def _revops(self, request) -> bool:
        return request.user.has_perm("routing.change_pool")

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or self._revops(request) or pool_is_managed_by(obj, request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"manage_url": reverse("admin:routing_pool_manage", args=[object_id])}
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not pool_is_managed_by(obj, request.user):
            extra = {}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not self._revops(request):
            queryset = queryset.filter(pk__in=pools_managed_by(request.user).values("pk"))
        return queryset.annotate(
            member_count=Count("members", filter=Q(members__is_active=True), distinct=True),
            rule_count=Count("rules", distinct=True),
        )

    def perform_save(self, request, obj, form, change, *, reason):
        # The member inline is saved by its formset (save_related, audited too), not by pool_save's
        # members=, which rebuilds the list by rep/team and would renumber positions.
        pool_save(pool=obj, actor=request.user, reason=reason)

    def perform_delete(self, request, obj, *, reason):
        if obj.rules.exists():
            raise PermissionDenied("Rules route to this pool; point them elsewhere first.")
        obj.delete()

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.rules.exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="strategy", ordering="strategy")
    def strategy_display(self, obj):
        return obj.get_strategy_display().split(" (")[0]

    @admin.display(description="caps per member")
    def caps(self, obj):
        parts = []
        if obj.max_open_leads is not None:
            parts.append(f"≤ {obj.max_open_leads} open")
        if obj.max_per_day is not None:
            parts.append(f"≤ {obj.max_per_day}/day")
        return " · ".join(parts) or "no cap"

    @admin.display(description="active members", ordering="member_count")
    def members_count(self, obj):
        return getattr(obj, "member_count", 0)

    @admin.display(description="working hours")
    def hours(self, obj):
        if not obj.respect_working_hours:
            return "any time"
        return f"{weekdays_text(obj.working_days)} {obj.working_hours_start:%H:%M}–{obj.working_hours_end:%H:%M}"

    @admin.display(description="active", ordering="is_active")
    def active_display(self, obj):
        return badge("active", "ok") if obj.is_active else badge("inactive", "warn")

    @admin.display(description="rules", ordering="rule_count")
    def rules_count(self, obj):
        count = getattr(obj, "rule_count", 0)
        if not count:
            return "0"
        url = reverse("admin:routing_routingrule_changelist") + f"?target_pool__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.display(description="who is in the pool now")
    def members_now(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        from ..pools import load_states

        states = load_states(obj, now=timezone.now())
        if not states:
            return "Nobody: add reps or teams below."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{s.name} ({s.external_id})",
                    s.weight,
                    s.open_leads,
                    s.today,
                    s.assigned,
                )
                for s in states
            ),
        )
        return format_html(
            '<table class="rv-table rv-narrow"><thead><tr><th>Rep</th><th>Weight</th><th>Open leads</th>'
            "<th>Today</th><th>Assigned by the pool</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="assignment counters")
    def counters(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rows = list(PoolCounter.objects.filter(pool=obj).select_related("rep").order_by("-assigned")[:50])
        if not rows:
            return "No leads assigned by this pool yet."
        return format_html_join(
            ", ",
            "{}: {}",
            ((rep_text(c.rep), c.assigned) for c in rows),
        )

    @admin.display(description="rules routing here")
    def rules_using(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rules = list(obj.rules.order_by("priority", "pk"))
        if not rules:
            return "No rule routes to this pool."
        return format_html_join(", ", "{}", ((admin_link(r, f"{r.name} ({r.get_status_display()})"),) for r in rules))
