"""The kill switch of a routing rule in its admin: Pause…/Resume… pages with a reason, state and history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from revops.admin.base import badge
from revops.engine.admin.pause import ReasonForm, local, pause_line
from revops.engine.pause import person
from revops.engine.selectors import pause_history

from ..models import RoutingRule
from ..pause import routing_rule_pause, routing_rule_resume
from .helpers import page_context

PAUSED_HELP = (
    "leads this rule matches go to the routing automation's fallback owner, with a 'Routing paused' exception "
    "item naming the rule, who paused it and why. They are not tried against the next rules, which were not "
    "written for them."
)


class RulePauseMixin:
    """Pause/resume pages, the switch's read-only field and its badge for ``RoutingRuleAdmin``."""

    def pause_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/pause/", view(self.pause_view), name="routing_routingrule_pause"),
            path("<path:object_id>/resume/", view(self.resume_view), name="routing_routingrule_resume"),
        ]

    def paused_badge(self, obj):
        """The list's badge under the status: who paused the rule, when and why ("" when it runs)."""
        if obj.paused_at is None:
            return ""
        who = person(obj.paused_by)
        short = obj.pause_reason if len(obj.pause_reason) <= 40 else obj.pause_reason[:39] + "…"
        return format_html(
            ' {}<div class="rv-muted">{}, {} · {}</div>',
            badge("⏸ Paused", "danger", pause_line(who, obj.paused_at, obj.pause_reason)),
            who,
            local(obj.paused_at),
            short,
        )

    @admin.display(description="kill switch")
    def switch_field(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        if obj.paused_at is not None:
            who = person(obj.paused_by)
            state = badge(f"⏸ {pause_line(who, obj.paused_at, obj.pause_reason)}", "danger")
            state = format_html('{}<div class="rv-muted">While paused: {}</div>', state, PAUSED_HELP)
        else:
            state = badge("Running: the next lead it matches is routed by it", "ok")
        history = pause_history(obj)
        if not history:
            return state
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((local(h["when"]), h["what"], h["who"], h["reason"]) for h in history),
        )
        return format_html(
            '{}<table class="rv-table"><thead><tr><th>When</th><th>What</th><th>Who</th><th>Why</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            state,
            rows,
        )

    def switch_buttons(self, request, obj) -> list[tuple[str, str]]:
        if obj is None or not self.has_change_permission(request, obj):
            return []
        if obj.paused_at is not None:
            return [("Resume…", reverse("admin:routing_routingrule_resume", args=[obj.pk]))]
        return [("Pause…", reverse("admin:routing_routingrule_pause", args=[obj.pk]))]

    def _switch_page(self, request, object_id, *, pausing: bool):
        rule = self.get_object(request, unquote(object_id))
        if rule is None:
            raise Http404(f"No routing rule with id {object_id}.")
        if not self.has_change_permission(request, rule):
            raise PermissionDenied
        back = reverse("admin:routing_routingrule_change", args=[rule.pk])
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            service = routing_rule_pause if pausing else routing_rule_resume
            try:
                changed = service(rule=rule, actor=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                form.add_error("reason", exc.message_dict.get("reason", exc.messages))
            else:
                if pausing:
                    text = f"{rule.name!r} is paused: from the next lead on, its leads go to the fallback with an item."
                else:
                    text = f"{rule.name!r} is resumed: the next lead it matches is routed by it."
                already = f"{rule.name!r} was already {'paused' if pausing else 'running'}; nothing changed."
                self.message_user(request, text if changed else already, messages.SUCCESS)
                return HttpResponseRedirect(back)
        context = {
            **page_context(self, request, f"{'Pause' if pausing else 'Resume'} routing rule {rule.name}"),
            "rule": rule,
            "form": form,
            "pausing": pausing,
            "paused_help": PAUSED_HELP,
            "paused_line": pause_line(person(rule.paused_by), rule.paused_at, rule.pause_reason)
            if rule.paused_at
            else "",
            "back": back,
            "is_live": rule.status == RoutingRule.Status.LIVE,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/routing/routingrule/pause.html", context)

    def pause_view(self, request, object_id):
        return self._switch_page(request, object_id, pausing=True)

    def resume_view(self, request, object_id):
        return self._switch_page(request, object_id, pausing=False)
