"""Admin for handoffs: checklists (RevOps) and the handoffs of deals (read-only here; they move by
themselves as the CRM fills the deal in)."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from revops.admin.base import AuditedAdmin, ReadOnlyMixin
from revops.admin.links import why_url
from revops.models import FieldDefinition, Opportunity
from revops.plugins import assignee_source

from .attestations import handoff_attest
from .checklist_widgets import RowsField, attach_editors
from .models import Checklist, Handoff
from .selectors import can_answer, can_resend, handoff_metrics, may_answer, visible_handoffs
from .services import (
    REJECTION_REASONS,
    checklist_save,
    checklist_validate,
    context_package,
    handoff_accept,
    handoff_reject,
    handoff_resend,
    subject_type_of,
)


class ChecklistForm(forms.ModelForm):
    """The checklist's JSON fields are edited as rows (``checklist_widgets``), never typed as JSON;
    the form ends in ``checklist_validate``, whose errors show on the parts they concern."""

    conditions = RowsField(
        label="Conditions",
        help_text="Which deals (or, for renewals, accounts) the checklist applies to; no rows: all of them. "
        "Values: a list is comma-separated (US, CA); “between” takes the lowest and highest (10, 20); "
        "dates are YYYY-MM-DD; yes/no fields take yes or no.",
    )
    required_fields = RowsField(
        label="Required fields",
        help_text="Fields that must be filled before the handoff is sent: deal fields, or account fields for "
        "renewals. “Only when” makes a field count only when that comparison holds.",
    )
    attestations = RowsField(
        label="Attestations",
        help_text="What a person must confirm in the portal, and the role expected to confirm it.",
    )
    tasks = RowsField(
        label="Tasks",
        help_text="Downstream work created for the receiving owner when the handoff is ready; "
        "no due days: no due date.",
    )

    class Meta:
        model = Checklist
        fields = (
            "name",
            "description",
            "is_active",
            "kind",
            "trigger_stage",
            "renewal_field",
            "days_before",
            "conditions",
            "required_fields",
            "attestations",
            "receiving_team",
            "owner_rule",
            "owner_rep",
            "owner_field",
            "owner_pool_id",
            "accept_within_hours",
            "tasks",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kind = self.data.get("kind") if self.is_bound else self.initial.get("kind", self.instance.kind)
        attach_editors(self, subject_type_of(Checklist(kind=kind)))
        self.fields["trigger_stage"] = forms.ChoiceField(
            label="Trigger stage",
            choices=Opportunity.Stage.choices,
            initial=Opportunity.Stage.CLOSED_WON,
            help_text="For deal handoffs: the stage that starts the handoff.",
        )
        dates = list(
            FieldDefinition.objects.filter(object_type="account", field_type__in=("date", "datetime"))
            .order_by("label")
            .values_list("key", "label")
        )
        for key in {self.instance.renewal_field or "renewal_date", "renewal_date"} - set(dict(dates)):
            dates.append((key, f"{key} (not in the dictionary's account fields)"))  # refused for renewals
        self.fields["renewal_field"] = forms.ChoiceField(
            label="Renewal date field",
            choices=dates,
            initial="renewal_date",
            help_text="For renewal handoffs: the account's date field holding the renewal date.",
        )
        source = assignee_source("pool")
        choices = source.choices() if source else []
        self.fields["owner_pool_id"] = forms.TypedChoiceField(
            label="Pool",
            choices=[("", "—")] + choices,
            coerce=int,
            empty_value=None,
            required=False,
            help_text="For 'routing pool': the pool whose next member receives the handoff (fairness and caps "
            "as for leads)." + ("" if source else " No app providing pools is installed."),
        )

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            checklist_validate(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(Checklist)
class ChecklistAdmin(AuditedAdmin):
    form = ChecklistForm
    list_display = (
        "name",
        "trigger_stage",
        "field_count",
        "attestation_count",
        "receiving_team",
        "owner_rule",
        "is_active",
    )
    list_filter = ("is_active", "owner_rule")
    search_fields = ("name", "description")
    fieldsets = (
        (None, {"fields": ("name", "description", "is_active")}),
        ("When it applies", {"fields": ("kind", "trigger_stage", "renewal_field", "days_before", "conditions")}),
        ("What must be there", {"fields": ("required_fields", "attestations")}),
        (
            "Who receives it",
            {
                "fields": (
                    "receiving_team",
                    "owner_rule",
                    "owner_rep",
                    "owner_field",
                    "owner_pool_id",
                    "accept_within_hours",
                )
            },
        ),
        ("Downstream work", {"fields": ("tasks",)}),
    )

    @admin.display(description="fields")
    def field_count(self, obj):
        return len(obj.required_fields or [])

    @admin.display(description="attestations")
    def attestation_count(self, obj):
        return len(obj.attestations or [])

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        checklist_save(checklist=obj, actor=request.user, reason=reason)


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyMixin, AuditedAdmin):
    """Handoffs move by themselves as the CRM fills deals in; people answer them here: the receiving
    side accepts or rejects a sent handoff, the deal side sends a rejected one again."""

    change_form_template = "admin/handoffs/handoff/change_form.html"
    list_display = ("deal", "checklist", "status", "missing_summary", "receiver", "ready_at", "sent_at")
    list_filter = ("status", "checklist__kind", "checklist")
    search_fields = ("opportunity__name", "opportunity__external_id", "account__name", "account__external_id")
    list_select_related = ("opportunity", "account", "checklist", "receiver")
    readonly_fields = (
        "deal_why",
        "renewal_date",
        "checklist",
        "status",
        "missing_summary",
        "receiver",
        "ready_at",
        "sent_at",
        "accepted_at",
        "rejected_at",
        "rejection",
        "cancelled_at",
    )
    fields = readonly_fields

    def get_queryset(self, request):
        return visible_handoffs(user=request.user)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("report/", view(self.report_view), name="handoffs_handoff_report"),
            path("<path:object_id>/answer/<str:answer>/", view(self.answer_view), name="handoffs_handoff_answer"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "report_url": reverse("admin:handoffs_handoff_report")}
        return super().changelist_view(request, extra_context)

    def report_view(self, request):
        """Handoff completeness at close, time to ready, acceptance and rejection reasons, last 30/90/365 days."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = request.GET.get("days", "90")
        days = int(days) if days in ("30", "90", "365") else 90
        since = timezone.now() - dt.timedelta(days=days)
        sections = []
        for group_by, title in (("checklist", "Per checklist"), ("team", "Per sales team"), ("rep", "Per deal owner")):
            rows = handoff_metrics(user=request.user, since=since, group_by=group_by)
            for row in rows:
                row["completeness"] = [_share(row[key], row["handoffs"]) for key in ("ready_0", "ready_1", "ready_7")]
                row["acceptance_text"] = _share_rate(row["acceptance_rate"])
                row["to_ready_text"] = _hours(row["median_hours_to_ready"])
                row["to_accept_text"] = _hours(row["median_hours_to_accept"])
                row["reasons_text"] = ", ".join(
                    f"{REJECTION_REASONS.get(code, code)} ({count})" for code, count in row["rejection_reasons"]
                )
            sections.append({"key": group_by, "title": title, "rows": rows})
        context = {
            **self.admin_site.each_context(request),
            "title": "Handoff report",
            "subtitle": None,
            "opts": self.model._meta,
            "has_view_permission": True,
            "days": days,
            "periods": (30, 90, 365),
            "sections": sections,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/handoffs/handoff/report.html", context)

    def answer_view(self, request, object_id, answer):
        """POST: ``accept``, ``reject`` (reason_code, note) or ``resend``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        handoff = self.get_object(request, unquote(object_id))
        if handoff is None or answer not in ("accept", "reject", "resend", "attest"):
            raise Http404("No such handoff.")
        if not may_answer(request.user, handoff, answer):
            raise PermissionDenied("Only the receiving side answers a handoff; only the deal side sends it again.")
        try:
            if answer == "accept":
                handoff_accept(handoff=handoff, actor=request.user)
                self.message_user(request, f"Accepted: {handoff.subject} is yours.", messages.SUCCESS)
            elif answer == "reject":
                handoff_reject(
                    handoff=handoff,
                    reason_code=request.POST.get("reason_code", ""),
                    note=request.POST.get("note", ""),
                    actor=request.user,
                )
                self.message_user(request, "Sent back with your reason.", messages.SUCCESS)
            elif answer == "attest":
                handoff = handoff_attest(handoff=handoff, key=request.POST.get("key", ""), actor=request.user)
                self.message_user(request, "Confirmed.", messages.SUCCESS)
            else:
                handoff_resend(handoff=handoff, actor=request.user)
                self.message_user(request, "Sent again to the receiving team.", messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:handoffs_handoff_change", args=[handoff.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        handoff = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if handoff is not None:
            extra_context.update(
                {
                    "can_answer": handoff.status == Handoff.Status.SENT and can_answer(request.user, handoff),
                    "can_resend": handoff.status == Handoff.Status.REJECTED and can_resend(request.user, handoff),
                    "accept_url": reverse("admin:handoffs_handoff_answer", args=[handoff.pk, "accept"]),
                    "reject_url": reverse("admin:handoffs_handoff_answer", args=[handoff.pk, "reject"]),
                    "resend_url": reverse("admin:handoffs_handoff_answer", args=[handoff.pk, "resend"]),
                    "attest_url": reverse("admin:handoffs_handoff_answer", args=[handoff.pk, "attest"]),
                    "to_attest": [m for m in handoff.missing if m.get("kind") == "attestation"]
                    if handoff.status in (Handoff.Status.WAITING, Handoff.Status.REJECTED)
                    and may_answer(request.user, handoff, "attest")
                    else [],
                    "rejection_reasons": REJECTION_REASONS.items(),
                    "package": context_package(handoff),
                }
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="deal or account", ordering="opportunity__name")
    def deal(self, obj):
        subject = obj.subject  # the list links it to the handoff's page
        return str(subject) if obj.opportunity_id else f"{subject} (renewal {obj.renewal_date})"

    @admin.display(description="why page")
    def deal_why(self, obj):
        return format_html('<a href="{}">{} · why?</a>', why_url(obj.subject_type, obj.subject.pk), obj.subject)

    @admin.display(description="missing")
    def missing_summary(self, obj):
        return ", ".join(m.get("label") or m.get("key", "?") for m in obj.missing or []) or "—"

    @admin.display(description="rejection")
    def rejection(self, obj):
        if not obj.rejection_code:
            return "—"
        label = REJECTION_REASONS.get(obj.rejection_code, obj.rejection_code)
        return f"{label}: “{obj.rejection_note}”" if obj.rejection_note else label


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "—"


def _share_rate(rate) -> str:
    return "—" if rate is None else f"{round(100 * rate)} %"


def _hours(hours) -> str:
    """A human duration: minutes under an hour, hours under two days, days after."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h".replace(".0 h", " h")
    return f"{hours / 24:.1f} days".replace(".0 days", " days")
