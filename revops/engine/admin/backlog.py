"""The automation backlog in the admin: candidates by priority with their decision-matrix outcome, and
"Create draft automation" for a ready one (``revops.engine.backlog``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from revops.admin.base import AuditedAdmin, badge
from revops.models import AutomationCandidate

from ..backlog import HUMAN, READY, candidate_draft, candidate_outcome, candidate_priority, candidate_save
from ..kinds import kind_choices

OUTCOME_TONES = {READY: "ok", HUMAN: "neutral"}


class CandidateForm(forms.ModelForm):
    kind = forms.ChoiceField(
        label="would become", required=False, choices=lambda: [("", "Not decided"), *kind_choices()]
    )

    class Meta:
        model = AutomationCandidate
        fields = (
            "name",
            "process",
            "object_type",
            "kind",
            "volume_per_month",
            "risk",
            "rule_clarity",
            "data_readiness",
            "exception_clarity",
            "user_impact",
            "maintenance_cost",
            "requested_by",
            "status",
            "notes",
        )
        widgets = {"process": forms.Textarea(attrs={"rows": 3, "cols": 90}), "notes": forms.Textarea(attrs={"rows": 2})}


@admin.register(AutomationCandidate)
class AutomationCandidateAdmin(AuditedAdmin):
    form = CandidateForm
    list_display = ("name", "object_type", "volume_per_month", "priority", "outcome", "status", "draft")
    list_filter = ("status", "object_type")
    search_fields = ("name", "process")
    readonly_fields = ("decision", "draft")
    fieldsets = (
        (None, {"fields": ("name", "process", ("object_type", "kind"), "requested_by")}),
        (
            "Prioritisation (1 low … 5 high)",
            {
                "fields": (
                    "volume_per_month",
                    ("risk", "rule_clarity", "data_readiness"),
                    ("exception_clarity", "user_impact", "maintenance_cost"),
                )
            },
        ),
        ("Decision", {"fields": ("decision", "status", "draft", "notes")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("automation")

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        changelist.result_list = sorted(changelist.result_list, key=lambda c: (c.status, -candidate_priority(c)))
        return changelist

    @admin.display(description="priority")
    def priority(self, obj):
        return f"{candidate_priority(obj)} / 100"

    @admin.display(description="decision matrix")
    def outcome(self, obj):
        outcome = candidate_outcome(obj)
        return badge(outcome.label, OUTCOME_TONES.get(outcome.key, "warn"), "; ".join(outcome.reasons))

    @admin.display(description="decision matrix")
    def decision(self, obj):
        if obj is None or obj.pk is None:
            return "Saved candidates are scored here."
        outcome = candidate_outcome(obj)
        reasons = format_html_join("", "<li>{}</li>", ((r,) for r in outcome.reasons))
        button = ""
        if outcome.key == READY and obj.automation_id is None:
            url = reverse("admin:revops_automationcandidate_draft", args=[obj.pk])
            # Submits the page's own form (and its CSRF token) to the draft view; nothing else is saved.
            button = format_html(
                '<button type="submit" class="button" formaction="{}" formnovalidate id="rv-candidate-draft">'
                "Create draft automation</button>",
                url,
            )
        return format_html(
            "{} — priority {} / 100<ul>{}</ul>{}",
            self.outcome(obj),
            candidate_priority(obj),
            reasons,
            button,
        )

    @admin.display(description="draft automation")
    def draft(self, obj):
        if obj is None or obj.automation_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:revops_automation_change", args=[obj.automation_id]), obj.automation
        )

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        candidate_save(candidate=obj, actor=request.user, reason=reason)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/draft/", view(self.draft_view), name="revops_automationcandidate_draft"),
            *super().get_urls(),
        ]

    def draft_view(self, request, object_id):
        if not request.user.has_perm("revops.add_automation"):
            raise PermissionDenied
        candidate = self.get_object(request, unquote(object_id))
        if candidate is None:
            raise Http404(f"No automation candidate with id {object_id}.")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            automation = candidate_draft(candidate=candidate, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(reverse("admin:revops_automationcandidate_change", args=[candidate.pk]))
        messages.success(request, f"Draft automation {automation.name} created: complete its rule, then switch it on.")
        return HttpResponseRedirect(reverse("admin:revops_automation_change", args=[automation.pk]))
