"""Admin for lifecycle stages: the stages (RevOps; versioned), the rep's page of MQLs waiting for an
answer (accept, or reject with a reason and a note), and marketing's report of rejected MQLs,
filterable by team, reason and date. Writes go through ``lifecycle.stage_services``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from revops import conditions
from revops.admin.base import AuditedAdmin, PrettyJSONField, ReadOnlyMixin
from revops.admin.condition_widget import ConditionBuilderWidget
from revops.admin.links import why_url
from revops.engine.registry import sla_timer

from .models import REJECTION_REASONS, Rejection, Stage, WaitingLead
from .stage_selectors import may_answer, rejections, report_teams, visible_leads, waiting_mqls
from .stage_services import SLA_TIMER, lead_accept, lead_reject, stage_delete, stage_save

CRITERIA_HELP = (
    "When a lead enters this stage, from the lead's data-dictionary fields (its score, status, source…) and "
    "its matched account's; e.g. score at least 60 for MQL. Empty: only an answer, a person or the CRM moves "
    "leads here."
)


class StageForm(forms.ModelForm):
    entry_condition = PrettyJSONField(
        required=False, widget=ConditionBuilderWidget(object_type="lead"), help_text=CRITERIA_HELP
    )

    class Meta:
        model = Stage
        fields = (
            "name",
            "key",
            "description",
            "position",
            "kind",
            "entry_condition",
            "hold_days",
            "sla_policy",
            "awaits_acceptance",
            "accept_to",
            "reject_to",
            "crm_accepted_status",
            "crm_rejected_status",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        timer = sla_timer(SLA_TIMER)
        choices = timer.choices() if timer else []
        if self.instance.sla_policy and self.instance.sla_policy not in dict(choices):
            choices.append((self.instance.sla_policy, f"{self.instance.sla_policy} (no longer exists)"))
        self.fields["sla_policy"] = forms.ChoiceField(
            label="SLA policy",
            choices=[("", "— no SLA —"), *choices],
            required=False,
            help_text="How long a lead may wait in this stage: the policy's target, in the owner's business hours "
            "when the policy counts them. For a stage waiting for acceptance, the time to accept or reject."
            + ("" if timer else " No app providing SLA policies is installed."),
        )

    def clean_entry_condition(self):
        value = self.cleaned_data.get("entry_condition") or {}
        if value in ({}, {"all": []}):
            return {}
        return conditions.clean_condition(value, object_type="lead")


@admin.register(Stage)
class StageAdmin(AuditedAdmin):
    form = StageForm
    list_display = ("name", "key", "position", "kind", "criteria", "awaits_acceptance", "sla", "lead_count")
    list_filter = ("kind", "awaits_acceptance")
    search_fields = ("name", "key", "description")
    fieldsets = (
        (None, {"fields": ("name", "key", "description", "position", "kind")}),
        ("Entering and leaving", {"fields": ("entry_condition", "hold_days", "sla_policy")}),
        (
            "Acceptance by sales",
            {"fields": ("awaits_acceptance", "accept_to", "reject_to", "crm_accepted_status", "crm_rejected_status")},
        ),
    )

    @admin.display(description="entry criteria")
    def criteria(self, obj):
        if not obj.entry_condition:
            return "—"
        try:
            return conditions.render(obj.entry_condition, object_type="lead")
        except Exception:  # a condition naming a field removed from the dictionary since
            return "(names a field no longer in the dictionary)"

    @admin.display(description="SLA")
    def sla(self, obj):
        if not obj.sla_policy:
            return "—"
        timer = sla_timer(SLA_TIMER)
        known = dict(timer.choices()) if timer else {}
        return known.get(obj.sla_policy, f"{obj.sla_policy} (no longer exists)")

    @admin.display(description="leads now")
    def lead_count(self, obj):
        return obj.leads.count()

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        stage_save(stage=obj, actor=request.user, reason=reason)

    def perform_delete(self, request, obj, *, reason: str) -> None:
        stage_delete(stage=obj, actor=request.user, reason=reason)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:lifecycle_stage_changelist"))


@admin.register(WaitingLead)
class WaitingLeadAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The rep's page: their MQLs waiting for an answer, each with Accept and Reject (reason and note).
    A manager sees their teams' waiting MQLs and may answer for a rep; RevOps all."""

    def get_queryset(self, request):
        return waiting_mqls(user=request.user)

    def get_urls(self):
        """The page and its answers only: a waiting MQL has no page of its own (its lead's Why page)."""
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name="lifecycle_waitinglead_changelist"),
            path("<int:lead_id>/<str:answer>/", view(self.answer_view), name="lifecycle_waitinglead_answer"),
        ]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = list(self.get_queryset(request)[:200])
        why = request.user.has_perm("revops.view_lead")  # a rep's login reads no Why pages
        context = {
            **self.admin_site.each_context(request),
            "title": "MQLs waiting for your answer",
            "subtitle": None,
            "opts": self.model._meta,
            "has_view_permission": True,
            "rows": [
                {
                    "state": row,
                    "lead": row.lead,
                    "why_url": why_url("lead", row.lead_id) if why else None,
                    "accept_url": reverse("admin:lifecycle_waitinglead_answer", args=[row.lead_id, "accept"]),
                    "reject_url": reverse("admin:lifecycle_waitinglead_answer", args=[row.lead_id, "reject"]),
                }
                for row in rows
            ],
            "reasons": REJECTION_REASONS.items(),
            "report_url": reverse("admin:lifecycle_rejection_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/lifecycle/waiting.html", context)

    def answer_view(self, request, lead_id, answer):
        """POST ``accept``, or ``reject`` with ``reason_code`` and ``note``; a lead out of reach is a 404."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        lead = visible_leads(user=request.user).filter(pk=lead_id).first()
        if lead is None or answer not in ("accept", "reject"):
            raise Http404("No such lead.")
        if not may_answer(request.user, lead):
            raise PermissionDenied("Only the lead's owner, their manager or RevOps answers an MQL.")
        try:
            if answer == "accept":
                lead_accept(lead=lead, actor=request.user)
                self.message_user(request, f"Accepted: {lead} is yours to work.", messages.SUCCESS)
            else:
                lead_reject(
                    lead=lead,
                    reason_code=request.POST.get("reason_code", ""),
                    note=request.POST.get("note", ""),
                    actor=request.user,
                )
                self.message_user(
                    request, f"Rejected: {lead} goes back to marketing with your reason.", messages.SUCCESS
                )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:lifecycle_waitinglead_changelist"))


class TeamFilter(admin.SimpleListFilter):
    """The teams whose rejections the viewer may read (a manager's own teams, not every team's name)."""

    title = "team"
    parameter_name = "team"

    def lookups(self, request, model_admin):
        return [(str(team.pk), team.name) for team in report_teams(user=request.user)]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(team_id=int(value)) if value and value.isdigit() else queryset


@admin.register(Rejection)
class RejectionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Marketing's report: every MQL sales rejected, with the reason, the note, the rep and the team."""

    list_display = ("at", "lead_link", "team", "rep", "reason", "note", "answered_by", "now_in")
    list_display_links = None  # a rejection has no page of its own: the lead's Why page tells its story
    list_filter = (TeamFilter, "reason_code", ("at", admin.DateFieldListFilter))
    search_fields = ("lead__company", "lead__email", "lead__last_name", "note")
    date_hierarchy = "at"
    list_per_page = 50
    ordering = ("-at", "-pk")  # the latest rejections first

    def get_queryset(self, request):
        return rejections(user=request.user)

    def changelist_view(self, request, extra_context=None):
        title = "MQLs rejected by sales: reasons and notes for marketing"
        return super().changelist_view(request, {**(extra_context or {}), "title": title})

    @admin.display(description="lead", ordering="lead__company")
    def lead_link(self, obj):
        return format_html('<a href="{}">{} · why?</a>', why_url("lead", obj.lead_id), obj.lead)

    @admin.display(description="reason", ordering="reason_code")
    def reason(self, obj):
        return REJECTION_REASONS.get(obj.reason_code, obj.reason_code)

    @admin.display(description="answered by")
    def answered_by(self, obj):
        if obj.actor is None:
            return "the CRM" if obj.source == Rejection.Source.CRM else "—"
        return obj.actor.get_full_name() or obj.actor.get_username()

    @admin.display(description="recycled to")
    def now_in(self, obj):
        return obj.to_stage.name

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("", view(self.changelist_view), name="lifecycle_rejection_changelist")]
