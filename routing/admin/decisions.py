"""Routing decisions (read-only): the explained decision and re-routing its lead."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from revops.admin.base import ReadOnlyMixin, RowScopedMixin, admin_link, badge, json_block
from revops.admin.links import why_url
from revops.audit import audited

from .. import services
from ..delegation import decisions_visible_q, rules_affecting_q
from ..models import RoutingDecision, RoutingRule
from ..shadow import shadow_decisions
from .helpers import MATCH_TONES, OUTCOME_TONES, decision_panel


class DecisionModeFilter(admin.SimpleListFilter):
    title = "mode"
    parameter_name = "mode"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("shadow", "Shadow (would have)")]

    def queryset(self, request, queryset):
        return queryset.filter(mode=self.value()) if self.value() else queryset


class RuleFilter(admin.RelatedFieldListFilter):
    """The deciding rule; a manager chooses among the rules that affect their teams."""

    def field_choices(self, field, request, model_admin):
        choices = super().field_choices(field, request, model_admin)
        condition = rules_affecting_q(request.user)
        if condition is None:
            return choices
        visible = set(RoutingRule.objects.filter(condition).values_list("pk", flat=True))
        return [(pk, label) for pk, label in choices if pk in visible]


class ShadowRuleFilter(admin.SimpleListFilter):
    """Decisions where a shadow rule matched and recorded what it would have done (it never decides)."""

    title = "shadow rule matched"
    parameter_name = "shadow_rule"

    def lookups(self, request, model_admin):
        rules = RoutingRule.objects.filter(status=RoutingRule.Status.SHADOW).order_by("priority", "pk")
        condition = rules_affecting_q(request.user)
        if condition is not None:
            rules = rules.filter(condition)  # a manager's: the rules that affect their teams
        return [(str(rule.pk), rule.name) for rule in rules]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        rule = RoutingRule.objects.filter(pk=self.value()).first() if self.value().isdigit() else None
        if rule is None:
            return queryset.none()
        return queryset.filter(pk__in=shadow_decisions(rule).values("pk"))


class ReassignedFilter(admin.SimpleListFilter):
    title = "reassigned by hand"
    parameter_name = "reassigned"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(reassigned_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(reassigned_at__isnull=True)
        return queryset


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(RowScopedMixin, ReadOnlyMixin, admin.ModelAdmin):
    # The columns that matter at 1440 px; pool, account match and latency are on the decision's page
    # (and mode and match are filters).
    list_display = ("when", "lead_link", "outcome_display", "rule_link", "owner_link", "reassigned")
    list_filter = (
        "outcome",
        DecisionModeFilter,
        ("rule", RuleFilter),
        ShadowRuleFilter,
        "match_status",
        ReassignedFilter,
    )
    search_fields = ("=lead__external_id", "=lead__email", "rule_name")
    search_help_text = "Search by the lead's CRM id or email, or the rule's name."
    list_select_related = ("lead", "rule", "owner", "pool")
    show_full_result_count = False
    list_per_page = 50
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "lead_link",
                    ("decided_at", "latency"),
                    ("mode_display", "outcome"),
                    "rule_link",
                    ("owner_link", "previous_owner"),
                    "pool",
                    ("match_display", "matched_account"),
                    "reassigned",
                    "run_link",
                )
            },
        ),
        ("Raw explanation", {"fields": ("explanation_json",), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "lead_link",
        "decided_at",
        "latency",
        "mode_display",
        "outcome",
        "rule_link",
        "owner_link",
        "previous_owner",
        "pool",
        "match_display",
        "matched_account",
        "reassigned",
        "run_link",
        "explanation_json",
    )

    def get_queryset(self, request):
        """A manager reads the decisions on their teams' leads (by the lead's owner or the decided owner)."""
        queryset = super().get_queryset(request)
        condition = decisions_visible_q(request.user)
        if condition is not None:
            queryset = queryset.filter(condition)
        return queryset.select_related(
            "lead", "rule", "owner", "previous_owner", "pool", "matched_account", "reassigned_to"
        )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/reroute/", view(self.reroute_view), name="routing_routingdecision_reroute"),
            *super().get_urls(),
        ]

    @staticmethod
    def can_reroute(request) -> bool:
        return request.user.has_perm("revops.change_lead")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["panel"] = decision_panel(obj)
            extra_context["why_url"] = why_url("lead", obj.lead_id)
            if self.can_reroute(request):
                extra_context["reroute_url"] = reverse("admin:routing_routingdecision_reroute", args=[obj.pk])
                extra_context["reroute_owner"] = obj.lead.owner if obj.lead.owner_id else None
        return super().change_view(request, object_id, form_url, extra_context)

    def reroute_view(self, request, object_id):
        """Route the decision's lead again (optionally away from its current owner) with ``lead_reroute``."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        decision = self.get_object(request, unquote(object_id))
        if decision is None:
            raise Http404(f"No routing decision with id {object_id}.")
        if not self.can_reroute(request):
            raise PermissionDenied
        lead = decision.lead
        exclude = [lead.owner_id] if request.POST.get("exclude_owner") and lead.owner_id else []
        reason = f"re-routed from the admin by {request.user.get_username()}"
        if exclude:
            reason += f", away from {lead.owner.name}"
        back = reverse("admin:routing_routingdecision_change", args=[decision.pk])
        try:
            with audited(actor=request.user, reason=f"admin: {reason}"):
                new = services.lead_reroute(lead_id=lead.pk, exclude_rep_ids=exclude, reason=reason)
        except services.RoutingUnavailable as exc:
            self.message_user(request, f"Cannot re-route {lead}: {exc}.", messages.ERROR)
            return HttpResponseRedirect(back)
        if new is None:
            self.message_user(
                request,
                f"Re-routing {lead} decided nothing (the routing automation's gate did not let it through).",
                messages.WARNING,
            )
            return HttpResponseRedirect(back)
        self.message_user(request, f"Re-routed: {new.summary}", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:routing_routingdecision_change", args=[new.pk]))

    # Columns ------------------------------------------------------------------------------

    @admin.display(description="decided", ordering="decided_at")
    def when(self, obj):
        local = timezone.localtime(obj.decided_at)
        return format_html('<span title="{}">{}</span>', f"{local:%Y-%m-%d %H:%M:%S %Z}", f"{local:%-d %b %H:%M}")

    @admin.display(description="lead")
    def lead_link(self, obj):
        lead = obj.lead
        name = f"{lead.first_name} {lead.last_name}".strip() or lead.email or lead.external_id
        why = why_url("lead", lead.pk)
        link = admin_link(lead, name)
        return format_html('{} · <a class="rv-why-link" href="{}">why?</a>', link, why) if why else link

    @admin.display(description="outcome", ordering="outcome")
    def outcome_display(self, obj):
        outcome = badge(obj.get_outcome_display(), OUTCOME_TONES.get(obj.outcome, "neutral"))
        if obj.mode == "shadow":
            return format_html("{} {}", outcome, badge("shadow: not applied", "info"))
        return outcome

    @admin.display(description="rule", ordering="rule_name")
    def rule_link(self, obj):
        if obj.rule_id:
            return admin_link(obj.rule, obj.rule_name or str(obj.rule))
        return obj.rule_name or "—"

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj):
        if not obj.owner_id:
            return "—"
        link = admin_link(obj.owner, obj.owner.name)
        return format_html('{} <span class="rv-muted">via {}</span>', link, obj.pool.name) if obj.pool_id else link

    @admin.display(description="mode", ordering="mode")
    def mode_display(self, obj):
        return badge("Shadow — would have", "info") if obj.mode == "shadow" else badge("Live", "ok")

    @admin.display(description="account match", ordering="match_status")
    def match_display(self, obj):
        return badge(obj.get_match_status_display(), MATCH_TONES.get(obj.match_status, "neutral"))

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj):
        return f"{obj.latency_ms:.0f} ms" if obj.latency_ms else "—"

    @admin.display(description="reassigned", ordering="reassigned_at")
    def reassigned(self, obj):
        if obj.reassigned_at is None:
            return "—"
        to = obj.reassigned_to.name if obj.reassigned_to_id else "nobody"
        return format_html(
            '{} <span class="rv-muted">to {} on {}</span>',
            badge("reassigned", "warn"),
            to,
            f"{timezone.localtime(obj.reassigned_at):%Y-%m-%d}",
        )

    @admin.display(description="run")
    def run_link(self, obj):
        if not obj.run_id:
            return "—"
        return format_html(
            '<a href="{}">run #{}</a>', reverse("admin:revops_automationrun_change", args=[obj.run_id]), obj.run_id
        )

    @admin.display(description="explanation (raw)")
    def explanation_json(self, obj):
        return json_block(obj.explanation)
