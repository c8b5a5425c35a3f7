"""The scoring model admin: the model, its fit rules (built with the condition builder) and engagement
rules as inlines, and the shadow report on the model's page. Saves go through ``scoring_model_save``."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from revops import conditions
from revops.admin.base import AuditedAdmin, PrettyJSONField, admin_change_reason, admin_link, badge
from revops.admin.condition_widget import ConditionBuilderWidget
from revops.admin.links import why_url
from revops.audit import audited

from .models import EngagementRule, FitRule, ScoringModel
from .selectors import shadow_report
from .services import engagement_rule_clean, scoring_model_clean, scoring_model_save

CONDITION_HELP = (
    "Build it from the lead's data-dictionary fields (and its matched account's and owner's), or switch to "
    'JSON: e.g. {"all": [{"field": "lead.matched_account.employees", "op": "gte", "value": 500}]}.'
)
STATUS_TONES = {"draft": "neutral", "shadow": "warn", "live": "ok"}


class FitRuleForm(forms.ModelForm):
    condition = PrettyJSONField(
        required=False, widget=ConditionBuilderWidget(object_type="lead"), help_text=CONDITION_HELP
    )

    class Meta:
        model = FitRule
        fields = ("label", "condition", "points")

    def clean_condition(self):
        value = self.cleaned_data.get("condition") or {"all": []}
        return conditions.clean_condition(value, object_type="lead")


class EngagementRuleForm(forms.ModelForm):
    class Meta:
        model = EngagementRule
        fields = (
            "label",
            "activity_kind",
            "subject_contains",
            "points",
            "window_days",
            "decay",
            "half_life_days",
            "cap",
        )

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            try:
                engagement_rule_clean(self.instance)
            except ValidationError as exc:
                self.add_error(None, exc.messages)


class FitRuleInline(admin.StackedInline):
    model = FitRule
    form = FitRuleForm
    extra = 0
    verbose_name = "fit rule"
    verbose_name_plural = "Fit rules: points when the lead or its account meets a condition"


class EngagementRuleInline(admin.TabularInline):
    model = EngagementRule
    form = EngagementRuleForm
    extra = 0
    verbose_name = "engagement rule"
    verbose_name_plural = "Engagement rules: points per activity inside a window, with decay"


class ScoringModelForm(forms.ModelForm):
    class Meta:
        model = ScoringModel
        fields = ("name", "description", "status", "min_total", "max_total", "agreement_points")
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 90})}

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        try:
            scoring_model_clean(self.instance)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)


def _rules(formset, fields) -> list[dict]:
    return [
        {name: form.cleaned_data.get(name) for name in fields}
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")
    ]


@admin.register(ScoringModel)
class ScoringModelAdmin(AuditedAdmin):
    form = ScoringModelForm
    inlines = (FitRuleInline, EngagementRuleInline)
    list_display = ("name", "status_badge", "rule_counts", "scored_leads", "updated_at")
    list_filter = ("status",)
    search_fields = ("name",)
    readonly_fields = ("shadow_report",)
    fieldsets = (
        (None, {"fields": ("name", "description", "status", ("min_total", "max_total"))}),
        ("Agreement with the CRM's score", {"fields": ("agreement_points", "shadow_report")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("fit_rules", "engagement_rules")
            .annotate(scored=Count("scores", distinct=True))
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.get_status_display().split(" (")[0], STATUS_TONES.get(obj.status, "neutral"))

    @admin.display(description="rules")
    def rule_counts(self, obj):
        return f"{len(obj.fit_rules.all())} fit, {len(obj.engagement_rules.all())} engagement"

    @admin.display(description="leads scored", ordering="scored")
    def scored_leads(self, obj):
        return obj.scored

    @admin.display(description="agreement with the CRM")
    def shadow_report(self, obj):
        if obj is None or obj.pk is None:
            return "Shown once the model has scored leads."
        report = shadow_report(obj)
        if not report.scored:
            return "No lead scored yet (a shadow or live model scores leads as they change and every night)."
        if not report.compared:
            return f"{report.scored} leads scored; none has a score from the CRM to compare with."
        head = format_html(
            "<p><strong>{}%</strong> of {} leads with a CRM score agree within {} points ({} agree).</p>",
            round(100 * report.rate),
            report.compared,
            report.within,
            report.agreed,
        )
        if not report.differ_most:
            return head
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href='{}'>why</a></td></tr>",
            (
                (
                    admin_link(row["lead"]),
                    row["total"],
                    row["crm_score"],
                    row["difference"],
                    why_url("lead", row["lead"].pk),
                )
                for row in report.differ_most
            ),
        )
        return format_html(
            "{}<table><thead><tr><th>Lead that differs most</th><th>This model</th><th>CRM</th>"
            "<th>Difference</th><th></th></tr></thead><tbody>{}</tbody></table>",
            head,
            rows,
        )

    def perform_save(self, request, obj, form, change, *, reason: str) -> None:
        scoring_model_save(model=obj, actor=request.user, reason=reason)

    def save_related(self, request, form, formsets, change):
        """The rules through the service too: the inlines' rows replace the model's rules, in order."""
        rules = {}
        for formset in formsets:
            if formset.model is FitRule:
                rules["fit_rules"] = _rules(formset, FitRuleForm.Meta.fields)
            else:
                rules["engagement_rules"] = _rules(formset, EngagementRuleForm.Meta.fields)
        reason = admin_change_reason(request, form, change, form.instance)
        with audited(actor=request.user, reason=reason):
            scoring_model_save(model=form.instance, actor=request.user, reason=reason, **rules)
        for formset in formsets:  # the admin's change message reads these; the service replaced the rows
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def perform_delete(self, request, obj, *, reason: str) -> None:
        from .services import scoring_model_delete

        scoring_model_delete(model=obj, actor=request.user, reason=reason)


from . import closed_loop_admin, stage_admin  # noqa: E402, F401  (the stage, waiting-MQL, rejection and closed-loop admins)
