"""Routing rules: the rule admin (order, stats), "Who would get this lead?" and the backtest."""

from __future__ import annotations

import datetime as dt

from django import forms
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

from revops.admin.base import AuditedAdmin, RowScopedMixin, SafeJSONField, badge, remap_form_errors
from revops.admin.links import why_url
from revops.engine.admin.helpers import fields_used_links
from revops.models import Lead

from .. import services
from ..delegation import rules_affecting_q
from ..models import RoutingDecision, RoutingRule
from ..shadow import shadow_decisions
from .base import ConditionsForm
from .helpers import (
    RULE_STATUS_TONES,
    page_context,
    percent,
    plan_panel,
    rule_conditions_text,
    rule_target_text,
    safe_next,
)
from .rule_pause import RulePauseMixin

STATS_DAYS = 30


def queue_choices():
    from exceptions.models import Queue

    return [("", "—")] + [(name, name) for name in Queue.objects.order_by("name").values_list("name", flat=True)]


class RoutingRuleForm(ConditionsForm):
    """Validated by ``routing_rule_clean``: its errors appear on the fields they concern."""

    class Meta:
        model = RoutingRule
        fields = (
            "name",
            "description",
            "priority",
            "status",
            "conditions",
            "target_type",
            "target_rep",
            "target_pool",
            "target_queue",
            "approval_owner",
            "use_parent_account",
            "when_unavailable",
        )
        widgets = {"description": forms.Textarea(attrs={"rows": 2, "cols": 90})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = queue_choices()
        current = self.instance.target_queue if self.instance is not None else ""
        if current and current not in dict(choices):
            choices.append((current, f"{current} (no such queue)"))
        self.fields["target_queue"] = forms.ChoiceField(
            choices=choices,
            required=False,
            label="Target queue",
            help_text="For queue targets: the exception queue where a person chooses the owner.",
        )

    confirm_live = forms.BooleanField(
        required=False,
        label="Yes, route real leads with this rule",
        help_text="Needed when the status becomes Live: from the next lead on, this rule assigns owners. "
        "Shadow first shows what it would do (its shadow report).",
    )

    def going_live(self) -> bool:
        stored = self.initial.get("status") if self.instance.pk else None
        return self.cleaned_data.get("status") == RoutingRule.Status.LIVE and stored != RoutingRule.Status.LIVE

    def _post_clean(self):
        super()._post_clean()
        if "conditions" in self.errors or "target_type" in self.errors:
            return
        try:
            services.routing_rule_clean(self.instance)
        except ValidationError as error:
            remap_form_errors(self, error)
            return
        if self.going_live() and not self.cleaned_data.get("confirm_live"):
            self.add_error("confirm_live", going_live_message(self.instance))


def rules_statement() -> dict:
    """The rules list's statement: how rules are evaluated, where the rest goes, and the warnings."""
    from ..rule_warnings import EVALUATION_ORDER, catch_all_rule, fallback_text, ordered_rules, rule_warnings

    automation = services.routing_automation()
    catch_all = catch_all_rule(ordered_rules())
    return {
        "evaluation_order": EVALUATION_ORDER,
        "catch_all": catch_all,
        "fallback_text": fallback_text(automation),
        "routing_automation_url": reverse("admin:revops_automation_change", args=[automation.pk]) if automation else "",
        "routing_automation_name": automation.name if automation else "",
        "rule_warnings": rule_warnings(automation=automation),
    }


def going_live_message(rule: RoutingRule) -> str:
    """What confirming a rule's going live means: its place among the live rules and its warnings."""
    from ..rule_warnings import ordered_rules, rule_warnings, warnings_for

    others = [r for r in ordered_rules() if r.pk != rule.pk]
    rules = sorted([*others, rule], key=lambda r: (r.priority, r.pk is None, r.pk or 0))
    live = [r for r in rules if r is rule or r.status == RoutingRule.Status.LIVE]
    place = f"it will be live rule {live.index(rule) + 1} of {len(live)}"
    warnings = " ".join(w.message for w in warnings_for(rule, rule_warnings(rules)))
    return (
        f"Confirm going live: from the next lead on, “{rule.name}” routes real leads ({place}, priority "
        f"{rule.priority}). Tick the box and save again." + (f" Check first: {warnings}" if warnings else "")
    )


@admin.register(RoutingRule)
class RoutingRuleAdmin(RowScopedMixin, RulePauseMixin, AuditedAdmin):
    form = RoutingRuleForm
    list_display = ("priority", "name", "status_display", "conditions_display", "target_display", "decisions_30d")
    list_display_links = ("name",)
    list_filter = ("status", "target_type")
    search_fields = ("name", "description", "target_queue")
    search_help_text = "Search by name, description or queue."
    list_select_related = ("target_rep", "target_pool", "paused_by")
    sortable_by = ("priority", "name")
    ordering = ("priority", "pk")
    autocomplete_fields = ("target_rep",)
    readonly_fields = ("conditions_plain", "fields_used_display", "stats", "switch_field")
    fieldsets = (
        (None, {"fields": ("name", "description", ("priority", "status"), "confirm_live", "switch_field")}),
        (
            "When",
            {
                "fields": ("conditions_plain", "conditions", "fields_used_display"),
                "description": "Rules are tried in priority order (lower first); the first rule whose conditions "
                "hold and whose target can take the lead wins.",
            },
        ),
        (
            "Route to",
            {
                "fields": (
                    "target_type",
                    "target_rep",
                    "target_pool",
                    "target_queue",
                    "approval_owner",
                    "use_parent_account",
                    "when_unavailable",
                )
            },
        ),
        ("Last 30 days", {"fields": ("stats",)}),
        ("Timestamps", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            derived = {"conditions_plain", "fields_used_display", "switch_field"}
            return [
                (name, {**opts, "fields": [f for f in opts["fields"] if f not in derived]})
                for name, opts in self.fieldsets
                if name not in ("Last 30 days", "Timestamps")
            ]
        if not self.has_change_permission(request, obj):
            # Managers read the rule; its decision counts and reassignment rates span every team.
            return [f for f in self.fieldsets if f[0] != "Last 30 days"]
        return self.fieldsets

    def get_queryset(self, request):
        since = timezone.now() - dt.timedelta(days=STATS_DAYS)
        recent = (
            RoutingDecision.objects.filter(rule=OuterRef("pk"), decided_at__gte=since)
            .order_by()
            .values("rule")
            .annotate(n=Count("pk"))
            .values("n")
        )
        queryset = super().get_queryset(request)
        condition = rules_affecting_q(request.user)
        if condition is not None:
            queryset = queryset.filter(condition)
        return queryset.annotate(decisions_recent=Coalesce(Subquery(recent, output_field=IntegerField()), Value(0)))

    def get_list_display(self, request):
        """The static columns plus reassignment rates and ▲/▼ buttons (both read once per page)."""
        from ..selectors import reassignment_rates

        rates = reassignment_rates()
        order = list(RoutingRule.objects.order_by("priority", "pk").values_list("pk", flat=True))
        first, last = (order[0], order[-1]) if order else (None, None)

        @admin.display(description=f"reassigned by hand ({STATS_DAYS} d)")
        def reassignment(obj):
            entry = rates.get(obj.pk)
            if not entry or not entry["assigned"]:
                return "—"
            tone = "danger" if (entry["rate"] or 0) >= 0.2 else "warn" if (entry["rate"] or 0) >= 0.1 else "ok"
            return format_html(
                '{} <span class="rv-muted">{} of {}</span>',
                badge(percent(entry["rate"]), tone, "Routed leads whose owner was later changed in the CRM"),
                entry["reassigned"],
                entry["assigned"],
            )

        @admin.display(description="order")
        def move(obj):
            buttons = []
            for direction, arrow, edge in (("up", "▲", first), ("down", "▼", last)):
                disabled = " disabled" if obj.pk == edge else ""
                buttons.append(
                    format_html(
                        '<button type="submit" form="rv-move-form" class="rv-move rv-move-{}" formaction="{}" '
                        'title="Move {} (only this rule and the one it passes change priority)" '
                        'aria-label="Move {} {}"{}>{}</button>',
                        direction,
                        reverse("admin:routing_routingrule_move", args=[obj.pk, direction]),
                        direction,
                        obj.name,
                        direction,
                        disabled,
                        arrow,
                    )
                )
            return format_html_join("", "{}", ((b,) for b in buttons))

        columns = [*super().get_list_display(request), reassignment]
        if self.has_change_permission(request):
            columns.insert(1, move)  # right after the priority
        else:
            # Managers read the rules; decisions and their counts across every team stay RevOps'.
            columns = [c for c in columns if c not in ("decisions_30d", reassignment)]
        return columns

    def has_delete_permission(self, request, obj=None):
        # A rule that decided for leads is disabled, not deleted: its decisions point at it.
        if obj is not None and obj.decisions.exists():
            return False
        return super().has_delete_permission(request, obj)

    # Writes -------------------------------------------------------------------------------

    def perform_save(self, request, obj, form, change, *, reason):
        from ..rule_warnings import rule_warnings, warnings_for

        services.routing_rule_save(rule=obj, actor=request.user, reason=reason)
        if obj.status != RoutingRule.Status.DISABLED:
            for warning in warnings_for(obj, rule_warnings()):
                self.message_user(request, warning.message, level=messages.WARNING)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="routing_routingrule_preview"),
            path("backtest/", view(self.backtest_view), name="routing_routingrule_backtest"),
            path("<path:object_id>/shadow/", view(self.shadow_view), name="routing_routingrule_shadow"),
            path("<path:object_id>/move/<str:direction>/", view(self.move_view), name="routing_routingrule_move"),
            *self.pause_urls(),
            *super().get_urls(),
        ]

    def move_view(self, request, object_id, direction):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if direction not in ("up", "down"):
            raise Http404(f"Unknown direction {direction!r}.")
        rule = self.get_object(request, unquote(object_id))
        if rule is None:
            raise Http404(f"No routing rule with id {object_id}.")
        if not self.has_change_permission(request, rule):
            raise PermissionDenied
        changed = services.routing_rule_move(rule=rule, direction=direction, actor=request.user)
        others = [r for r in changed if r.pk != rule.pk]
        rule.refresh_from_db(fields=["priority"])
        also = ", ".join(f"{r.name!r} now has {r.priority}" for r in others)
        self.message_user(
            request,
            f"Moved {rule.name!r} {direction}: it now has priority {rule.priority}"
            + (f" ({also}; the other rules keep theirs)." if also else "; the other rules keep theirs."),
        )
        return HttpResponseRedirect(safe_next(request, reverse("admin:routing_routingrule_changelist")))

    # Managers read the rules that affect their teams (``rules_affecting_q``); RevOps reads and writes all.

    def changelist_view(self, request, extra_context=None):
        writes = self.has_change_permission(request)
        extra_context = {
            **(extra_context or {}),
            "preview_url": reverse("admin:routing_routingrule_preview") if writes else "",
            "backtest_url": reverse("admin:routing_routingrule_backtest") if writes else "",
            "decisions_url": reverse("admin:routing_routingdecision_changelist")
            if request.user.has_perm("routing.view_routingdecision")
            else "",
            **rules_statement(),
        }
        if not writes:  # warnings name every team's rules: RevOps' to act on
            extra_context.update(rule_warnings=[])
        return super().changelist_view(request, extra_context)

    def preview_view(self, request):
        """Who would get this lead? Decides for a typed-in lead; writes nothing (``routing_preview``).
        For who writes rules (RevOps): it shows any team's reps and pools."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        panel = error = None
        if request.method == "POST":
            form = PreviewForm(request.POST)
            if form.is_valid():
                values = dict(form.cleaned_data)
                include_drafts = values.pop("include_drafts")
                try:
                    plan = services.routing_preview(values=values, include_drafts=include_drafts)
                except ValidationError as exc:
                    error = "; ".join(exc.messages)
                else:
                    panel = plan_panel(plan)
        else:
            form = PreviewForm()
        context = {
            **page_context(self, request, "Who would get this lead?"),
            "form": form,
            "panel": panel,
            "error": error,
            "automation": services.routing_automation(modes=("live", "shadow", "draft")),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/routing/routingrule/preview.html", context)

    def backtest_view(self, request):
        """Replay the last N days of leads through the rules with the chosen statuses; writes nothing."""
        from ..backtest import backtest

        if not self.has_change_permission(request):  # RevOps: it replays every team's leads
            raise PermissionDenied
        report = None
        if "days" in request.GET:
            form = BacktestForm(request.GET)
            if form.is_valid():
                report = backtest_report(
                    backtest(days=form.cleaned_data["days"], statuses=tuple(form.cleaned_data["statuses"]))
                )
        else:
            form = BacktestForm()
        context = {
            **page_context(self, request, "Backtest the routing rules"),
            "form": form,
            "report": report,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/routing/routingrule/backtest.html", context)

    def shadow_view(self, request, object_id):
        """The shadow report: what the rule would have done next to what routing did (``shadow_report``)."""
        from ..shadow import shadow_replay, shadow_report

        rule = self.get_object(request, unquote(object_id))
        if rule is None:
            raise Http404(f"No routing rule with id {object_id}.")
        if not self.has_change_permission(request, rule):  # RevOps: it replays every team's leads
            raise PermissionDenied
        form = ShadowReportForm(request.GET or None)
        days = form.cleaned_data["days"] if form.is_bound and form.is_valid() else STATS_DAYS
        replay = request.GET.get("replay") == "1"
        report = (shadow_replay if replay else shadow_report)(rule, days=days)
        context = {
            **page_context(self, request, f"Shadow report: {rule.name}"),
            "form": form if form.is_bound else ShadowReportForm(initial={"days": STATS_DAYS}),
            "rule": rule,
            "report": report,
            "agreement": percent(report.agreement_rate) if report.agreement_rate is not None else "—",
            "differences": [{**row, "why_url": why_url("lead", row["lead_id"])} for row in report.differences],
            "rule_url": reverse("admin:routing_routingrule_change", args=[rule.pk]),
            "status_label": rule.get_status_display(),
            "replay": replay,
            "days": days,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/routing/routingrule/shadow_report.html", context)

    # Columns and read-only fields ---------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "switch_buttons": self.switch_buttons(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        status = badge(obj.get_status_display().split(" (")[0], RULE_STATUS_TONES.get(obj.status, "neutral"))
        return format_html("{}{}", status, self.paused_badge(obj)) if obj.paused_at else status

    @admin.display(description="when")
    def conditions_display(self, obj):
        return rule_conditions_text(obj)

    @admin.display(description="route to")
    def target_display(self, obj):
        return rule_target_text(obj)

    @admin.display(description=f"decisions ({STATS_DAYS} d)", ordering="decisions_recent")
    def decisions_30d(self, obj):
        count = getattr(obj, "decisions_recent", 0)
        url = reverse("admin:routing_routingdecision_changelist") + f"?rule__id__exact={obj.pk}"
        if obj.status == RoutingRule.Status.SHADOW or (not count and shadow_decisions(obj).exists()):
            # A shadow rule decides nothing: count the decisions it was recorded on, and link its report.
            since = timezone.now() - dt.timedelta(days=STATS_DAYS)
            shadowed = shadow_decisions(obj).filter(decided_at__gte=since).count()
            return format_html(
                '<a href="{}">{}</a> · <a href="{}" title="What it would have done vs what routing did">'
                "{} in shadow</a>",
                url,
                count,
                reverse("admin:routing_routingrule_shadow", args=[obj.pk]),
                shadowed,
            )
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.display(description="in plain language")
    def conditions_plain(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html('<div class="rv-plain">{}</div>', rule_conditions_text(obj))

    @admin.display(description="fields used (derived from the conditions)")
    def fields_used_display(self, obj):
        return fields_used_links(obj.fields_used if obj and obj.pk else [])

    @admin.display(description="decisions and reassignments")
    def stats(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        from ..selectors import reassignment_rates

        since = timezone.now() - dt.timedelta(days=STATS_DAYS)
        decided = obj.decisions.filter(decided_at__gte=since).count()
        entry = reassignment_rates(since=since, rule_ids=[obj.pk]).get(obj.pk)
        url = reverse("admin:routing_routingdecision_changelist") + f"?rule__id__exact={obj.pk}"
        if entry and entry["assigned"]:
            rate = (
                f"{percent(entry['rate'])} reassigned by hand ({entry['reassigned']} of {entry['assigned']} assigned)"
            )
        else:
            rate = "no live assignments"
        shadow = reverse("admin:routing_routingrule_shadow", args=[obj.pk])
        return format_html(
            '<a href="{}">{} decisions</a> · {} · <a href="{}">shadow report</a>', url, decided, rate, shadow
        )


class OptionalJSONField(SafeJSONField):
    """A JSON field that shows nothing (not ``null``) when it is empty."""

    def prepare_value(self, value):
        if value in (None, "") or isinstance(value, forms.fields.InvalidJSONInput) and not value.strip():
            return ""
        return super().prepare_value(value)


class PreviewForm(forms.Form):
    """A lead typed in for the preview; nothing is stored."""

    email = forms.EmailField(required=False)
    first_name = forms.CharField(required=False, max_length=80)
    last_name = forms.CharField(required=False, max_length=80)
    company = forms.CharField(required=False, max_length=200)
    domain = forms.CharField(required=False, max_length=200, help_text="e.g. acme.com (the email's domain is used too)")
    title = forms.CharField(required=False, max_length=120)
    country = forms.CharField(required=False, max_length=2, help_text="ISO code, e.g. DE")
    state = forms.CharField(required=False, max_length=64)
    source = forms.CharField(required=False, max_length=60, help_text="e.g. web_form, webinar")
    score = forms.IntegerField(required=False)
    status = forms.ChoiceField(choices=Lead.Status.choices, initial=Lead.Status.NEW)
    attributes = OptionalJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "class": "rv-code"}),
        help_text='Custom fields by dictionary key, e.g. {"use_case": "analytics"}.',
    )
    include_drafts = forms.BooleanField(required=False, label="Include draft rules")

    def clean_country(self):
        return (self.cleaned_data.get("country") or "").strip().upper()

    def clean_attributes(self):
        value = self.cleaned_data.get("attributes")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise ValidationError('Custom fields are a JSON object, e.g. {"use_case": "analytics"}.')
        return value


class BacktestForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=365, initial=30, help_text="Leads created in the last N days.")
    statuses = forms.MultipleChoiceField(
        choices=[
            (RoutingRule.Status.LIVE, "Live"),
            (RoutingRule.Status.SHADOW, "Shadow"),
            (RoutingRule.Status.DRAFT, "Draft"),
        ],
        initial=[RoutingRule.Status.LIVE, RoutingRule.Status.SHADOW, RoutingRule.Status.DRAFT],
        widget=forms.CheckboxSelectMultiple,
        label="Rules to include",
        help_text="The proposal: these rules, all counting as live. It is compared with the live rules alone.",
    )


class ShadowReportForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=365, initial=STATS_DAYS, help_text="Decisions of the last N days.")


def backtest_report(report: dict) -> dict:
    """The backtest's dict with labels for the template."""
    outcomes = dict(RoutingDecision.Outcome.choices)
    matches = dict(RoutingDecision.MatchStatus.choices)
    leads = report.get("leads") or 0

    def share(n):
        return f"{n * 100 / leads:.0f}%" if leads else "—"

    statuses = dict(RoutingRule.Status.choices)
    live_outcomes = report.get("live_outcomes") or {}
    keys = set(report.get("outcomes") or {}) | set(live_outcomes)
    return {
        **report,
        "rules": [{**row, "status_label": statuses.get(row["status"], row["status"])} for row in report["rules"]],
        "changes_sample": [
            {**row, "lead_url": why_url("lead", row["lead_id"])} for row in report.get("changes_sample") or []
        ],
        "fallbacks_share": share(report.get("fallbacks") or 0),
        "outcome_rows": [
            {
                "label": outcomes.get(key, key),
                "key": key,
                "leads": (report.get("outcomes") or {}).get(key, 0),
                "live": live_outcomes.get(key, 0),
                "share": share((report.get("outcomes") or {}).get(key, 0)),
            }
            for key in sorted(keys, key=lambda k: (-(report.get("outcomes") or {}).get(k, 0), k))
        ],
        "match_rows": [
            {"label": matches.get(key, key), "leads": n, "share": share(n)}
            for key, n in sorted((report.get("match") or {}).items(), key=lambda kv: -kv[1])
        ],
        "by_rule": [{**row, "share": share(row["leads"])} for row in report.get("by_rule") or []],
        "by_pool": [{**row, "share": share(row["leads"])} for row in report.get("by_pool") or []],
        "by_rep": [
            {
                **row,
                "delta_text": f"{row['delta']:+d}",
                "tone": "ok" if row["delta"] > 0 else "warn" if row["delta"] < 0 else "",
            }
            for row in report.get("by_rep") or []
        ],
        "changes_share": share(report.get("changes") or 0),
    }
