"""Admin of the monitors: read-only lists of what they record (snapshot runs — the audit —, snapshots,
movements, hygiene findings) and the teams' forecast-call times (edited through ``forecast_call_save``).
The hygiene policies themselves are automations of kind ``forecast_hygiene``, in the automation admin.

RevOps admins (and superusers) only, decided by role rather than model permissions: the role groups
(``exceptions.roles``) grant model permissions per app and do not name this app yet. Managers and
reps see a deal's movement in plain language on its Why page instead.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from revops.access import ADMIN, user_role
from revops.admin.base import AuditedAdmin, ReadOnlyMixin
from revops.admin.links import why_url

from .calls import forecast_call_save
from .models import DealMovement, ForecastCall, ForecastSnapshot, HygieneFinding, SnapshotRun


class RevOpsOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Viewable by RevOps admins only; never edited here (the services write these rows)."""

    show_full_result_count = False  # snapshots and movements grow to millions of rows

    def has_module_permission(self, request):
        return user_role(request.user) == ADMIN

    def has_view_permission(self, request, obj=None):
        return user_role(request.user) == ADMIN


@admin.register(SnapshotRun)
class SnapshotRunAdmin(RevOpsOnlyAdmin):
    list_display = ("taken_on", "started_at", "finished_at", "open_deals", "written", "actor", "reason")
    list_filter = ("taken_on",)
    date_hierarchy = "started_at"


@admin.register(ForecastSnapshot)
class ForecastSnapshotAdmin(RevOpsOnlyAdmin):
    list_display = ("taken_on", "opportunity", "stage", "forecast_category", "amount", "close_date")
    list_filter = ("taken_on", "stage", "forecast_category")
    list_select_related = ("opportunity",)
    raw_id_fields = ("opportunity",)
    search_fields = ("opportunity__external_id", "opportunity__name")


@admin.register(DealMovement)
class DealMovementAdmin(RevOpsOnlyAdmin):
    list_display = ("moved_at", "opportunity", "field", "old_value", "new_value", "days_moved", "why")
    list_filter = ("field",)
    list_select_related = ("opportunity",)
    raw_id_fields = ("opportunity",)
    search_fields = ("opportunity__external_id", "opportunity__name")
    date_hierarchy = "moved_at"

    @admin.display(description="Why page")
    def why(self, obj):
        url = why_url("opportunity", obj.opportunity_id)
        return format_html('<a href="{}">why?</a>', url) if url else "—"


@admin.register(HygieneFinding)
class HygieneFindingAdmin(RevOpsOnlyAdmin):
    list_display = ("last_changed_at", "opportunity", "automation", "mode", "text", "first_seen_at", "resolved_at")
    list_filter = ("policy", "mode", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("opportunity", "automation")
    raw_id_fields = ("opportunity",)
    search_fields = ("opportunity__external_id", "opportunity__name", "text")
    change_list_template = "admin/monitors/hygienefinding/change_list.html"  # adds the noise report's link

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view(self.noise_view)
        return [path("noise/", view, name="monitors_hygienefinding_noise"), *super().get_urls()]

    def noise_view(self, request):
        """Noise per policy (``selectors.policy_noise_rates``, and ``renewal_noise_rates`` for the renewal risk
        policies): what people called noise, over the last N days."""
        import datetime as dt

        from django.core.exceptions import PermissionDenied
        from django.template.response import TemplateResponse
        from django.utils import timezone

        from .selectors import policy_noise_rates, renewal_noise_rates

        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = min(max(int(request.GET.get("days", 90)), 1), 3650)
        except ValueError:
            days = 90
        since = timezone.now() - dt.timedelta(days=days)
        rows = policy_noise_rates(since=since)
        context = {
            **self.admin_site.each_context(request),
            "title": "Monitors: noise per policy",
            "opts": self.model._meta,
            "rows": rows,
            "renewal_rows": renewal_noise_rates(since=since),
            "days": days,
        }
        return TemplateResponse(request, "admin/monitors/hygiene_noise.html", context)


@admin.register(ForecastCall)
class ForecastCallAdmin(AuditedAdmin):
    """When each team holds its forecast call; hygiene items are due an hour before. RevOps admins only."""

    list_display = ("team", "weekday", "time", "time_zone", "updated_at")
    list_select_related = ("team",)
    raw_id_fields = ("team",)

    def has_module_permission(self, request):
        return user_role(request.user) == ADMIN

    def has_view_permission(self, request, obj=None):
        return user_role(request.user) == ADMIN

    def has_add_permission(self, request):
        return user_role(request.user) == ADMIN

    def has_change_permission(self, request, obj=None):
        return user_role(request.user) == ADMIN

    def has_delete_permission(self, request, obj=None):
        return user_role(request.user) == ADMIN

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        forecast_call_save(call=obj, actor=request.user, reason=reason)


# --- renewal monitors ---------------------------------------------------------------------------------

from .models import AccountChange, RenewalFinding, RenewalTask  # noqa: E402


@admin.register(AccountChange)
class AccountChangeAdmin(RevOpsOnlyAdmin):
    """The account changes the renewal monitors recorded (health, usage, sponsor, renewal date…)."""

    list_display = ("changed_at", "account", "field", "old_value", "new_value", "why")
    list_filter = ("field",)
    list_select_related = ("account",)
    raw_id_fields = ("account",)
    search_fields = ("account__external_id", "account__name")
    date_hierarchy = "changed_at"

    @admin.display(description="Why page")
    def why(self, obj):
        url = why_url("account", obj.account_id)
        return format_html('<a href="{}">why?</a>', url) if url else "—"


@admin.register(RenewalFinding)
class RenewalFindingAdmin(RevOpsOnlyAdmin):
    list_display = ("last_changed_at", "account", "automation", "mode", "text", "first_seen_at", "resolved_at")
    list_filter = ("policy", "mode", ("resolved_at", admin.EmptyFieldListFilter))
    list_select_related = ("account", "automation")
    raw_id_fields = ("account",)
    search_fields = ("account__external_id", "account__name", "text")


@admin.register(RenewalTask)
class RenewalTaskAdmin(RevOpsOnlyAdmin):
    list_display = ("created_at", "account", "policy", "renewal_date", "task", "ended_at", "end_reason")
    list_filter = ("policy", ("ended_at", admin.EmptyFieldListFilter))
    list_select_related = ("account", "task")
    raw_id_fields = ("account", "task")
    search_fields = ("account__external_id", "account__name")
