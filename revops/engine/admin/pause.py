"""The kill switches in the automation admin: pause and resume one automation, or all of them, with a reason.

``PauseAdminMixin`` adds the pages (``<id>/pause/``, ``<id>/resume/``, ``pause-all/``,
``resume-all/``), the "kill switch" column and read-only field, and the pause history. Every
write goes through ``revops.engine.pause``; only users who may change automations see the buttons.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Subquery
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from revops.admin.base import badge
from revops.models import Automation, AutomationSwitch, HeldEvent
from revops.values import datetime_text

from .. import pause as switches
from ..kinds import KINDS
from ..selectors import held_events_summary, pause_history


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        help_text="Why? Kept in the history with your name.",
    )


class ResumeForm(ReasonForm):
    held = forms.ChoiceField(
        label="Events held while paused",
        widget=forms.RadioSelect,
        choices=[
            (
                "process",
                "Process them now: the automation runs for each, as if it had just arrived (in the background)",
            ),
            ("skip", "Skip them: nothing runs for them; each is recorded as skipped, by you, now"),
        ],
        initial="process",
    )


def local(moment) -> str:
    return datetime_text(moment) if moment else "—"


def pause_line(who: str, moment, reason: str) -> str:
    return f"Paused by {who} since {local(moment)}: {reason}"


class PauseListFilter(admin.SimpleListFilter):
    title = "kill switch"
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("yes", "Paused"), ("no", "Running")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paused_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paused_at__isnull=True)
        return queryset


class PauseAdminMixin:
    """Kill-switch pages, column and fields for ``AutomationAdmin``."""

    def pause_urls(self):
        view = self.admin_site.admin_view
        return [
            path("pause-all/", view(self.pause_all_view), name="revops_automation_pause_all"),
            path("resume-all/", view(self.resume_all_view), name="revops_automation_resume_all"),
            path("<path:object_id>/pause/", view(self.pause_view), name="revops_automation_pause"),
            path("<path:object_id>/resume/", view(self.resume_view), name="revops_automation_resume"),
        ]

    def with_switch(self, queryset):
        """Each row carries the pause-all switch's time (one subquery), for the list's column."""
        return queryset.annotate(
            all_paused_at=Subquery(AutomationSwitch.objects.filter(pk=switches.SWITCH_PK).values("paused_at")[:1])
        )

    # --- display --------------------------------------------------------------------------------

    @admin.display(description="kill switch")
    def switch_display(self, obj):
        if obj.paused_at is not None:
            who = switches.person(obj.paused_by)
            short = obj.pause_reason if len(obj.pause_reason) <= 40 else obj.pause_reason[:39] + "…"
            return format_html(
                '{}<div class="rv-muted">{} · {}</div>',
                badge("⏸ Paused", "danger", pause_line(who, obj.paused_at, obj.pause_reason)),
                f"{who}, {local(obj.paused_at)}",
                short,
            )
        if getattr(obj, "all_paused_at", None) is not None:
            return badge("⏸ All paused", "warn", "Every automation is paused (see the banner above the list).")
        return badge("Running", "ok")

    @admin.display(description="kill switch")
    def switch_field(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        state = switches.automation_pause_state(obj, switches.pause_all_state())
        held = held_events_summary(automation_ids=[obj.pk], sample=0)["count"]
        if state is None:
            text = badge("Running: the next event is evaluated", "ok")
        else:
            text = badge(f"⏸ {state.sentence(obj.name)}", "danger")
        kind = KINDS.get(obj.kind)
        note = getattr(kind, "paused_help", "") if kind is not None else ""
        parts = [text]
        if held:
            parts.append(format_html(" {} event{} held, waiting for the resume.", held, "s" if held != 1 else ""))
        if note:
            parts.append(format_html('<div class="rv-muted">While paused: {}</div>', note))
        history = pause_history(obj)
        if history:
            rows = format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((local(h["when"]), h["what"], h["who"], h["reason"]) for h in history),
            )
            parts.append(
                format_html(
                    '<table class="rv-table"><thead><tr><th>When</th><th>What</th><th>Who</th><th>Why</th></tr>'
                    "</thead><tbody>{}</tbody></table>",
                    rows,
                )
            )
        return format_html_join("", "{}", ((p,) for p in parts))

    def switch_buttons(self, request, obj) -> list[tuple[str, str]]:
        if not self.has_change_permission(request, obj):
            return []
        if obj.paused_at is not None:
            return [("Resume…", reverse("admin:revops_automation_resume", args=[obj.pk]))]
        buttons = [("Pause…", reverse("admin:revops_automation_pause", args=[obj.pk]))]
        if HeldEvent.objects.filter(automation=obj, decision=HeldEvent.Decision.PENDING).exists():
            buttons.append(("Held events…", reverse("admin:revops_automation_resume", args=[obj.pk])))
        return buttons

    def switch_banner(self, request) -> dict:
        """The changelist's pause-all banner and button."""
        state = switches.pause_all_state()
        may = self.has_change_permission(request)
        context = {"pause_all": state.sentence() if state else ""}
        if state is not None:
            context["pause_all_held"] = held_events_summary(sample=0)["count"]
        if may:
            name = "revops_automation_resume_all" if state else "revops_automation_pause_all"
            context["pause_all_button"] = ("Resume all…" if state else "Pause all…", reverse(f"admin:{name}"))
        return context

    # --- pages -----------------------------------------------------------------------------------

    def _page(self, request, template: str, title: str, **context):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.model._meta,
            "has_view_permission": True,
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"admin/revops/automation/{template}", context)

    def _changeable(self, request, object_id=None):
        obj = self._get_or_404(request, object_id) if object_id is not None else None
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _done(self, request, text: str, url: str):
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(url)

    def _refused(self, form, exc: ValidationError):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)

    def pause_view(self, request, object_id):
        obj = self._changeable(request, object_id)
        back = reverse("admin:revops_automation_change", args=[obj.pk])
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                changed = switches.automation_pause(
                    automation=obj, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                self._refused(form, exc)
            else:
                text = f"{obj.name!r} is paused: events that trigger it are held until you resume it."
                return self._done(request, text if changed else f"{obj.name!r} was already paused.", back)
        kind = KINDS.get(obj.kind)
        return self._page(
            request,
            "pause.html",
            f"Pause {obj.name}",
            original=obj,
            form=form,
            paused_help=getattr(kind, "paused_help", "") if kind is not None else "",
            back=back,
        )

    def resume_view(self, request, object_id):
        obj = self._changeable(request, object_id)
        back = reverse("admin:revops_automation_change", args=[obj.pk])
        form = ResumeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = switches.automation_resume(
                    automation=obj,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    held=form.cleaned_data["held"],
                )
            except ValidationError as exc:
                self._refused(form, exc)
            else:
                return self._done(request, result.message(repr(obj.name)), back)
        return self._page(
            request,
            "resume.html",
            f"Resume {obj.name}" if obj.paused_at else f"Events held for {obj.name}",
            original=obj,
            form=form,
            held=held_events_summary(automation_ids=[obj.pk]),
            state=switches.automation_pause_state(obj, None),
            all_paused=switches.pause_all_state(),
            back=back,
        )

    def pause_all_view(self, request):
        self._changeable(request)
        back = reverse("admin:revops_automation_changelist")
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                changed = switches.automations_pause_all(actor=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                self._refused(form, exc)
            else:
                text = "Every automation is paused: events are held until you resume them all."
                return self._done(request, text if changed else "All automations were already paused.", back)
        running = Automation.objects.filter(mode__in=("live", "shadow"), paused_at__isnull=True).count()
        return self._page(
            request, "pause.html", "Pause all automations", form=form, back=back, all_automations=True, running=running
        )

    def resume_all_view(self, request):
        self._changeable(request)
        back = reverse("admin:revops_automation_changelist")
        form = ResumeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = switches.automations_resume_all(
                    actor=request.user, reason=form.cleaned_data["reason"], held=form.cleaned_data["held"]
                )
            except ValidationError as exc:
                self._refused(form, exc)
            else:
                return self._done(request, result.message("Every automation"), back)
        waiting = Automation.objects.filter(paused_at__isnull=True).values_list("pk", flat=True)
        return self._page(
            request,
            "resume.html",
            "Resume all automations",
            form=form,
            held=held_events_summary(automation_ids=list(waiting)),
            all_paused=switches.pause_all_state(),
            all_automations=True,
            still_paused=list(
                Automation.objects.filter(paused_at__isnull=False).order_by("name").values_list("name", flat=True)
            ),
            back=back,
        )
