"""Reverting from the admin, for RevOps admins only: one run ("Revert this run…" on its page: the plan,
a reason, "force conflicting actions", confirm) and a time window of an automation's runs ("Revert runs
between…" on its page: the window in local time, a version and a kind's run filter such as the routing
rule → the plan → apply as a background batch, whose page shows progress and the final report)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from revops.access import ADMIN, user_role
from revops.admin.base import ReadOnlyMixin, admin_link, badge
from revops.admin.links import record_url, why_url
from revops.models import Automation, AutomationRun, RunRevertBatch
from revops.values import datetime_text

from ..registry import run_filters
from ..revert import OUTCOME_LABELS, OUTCOME_TONES, plan_summary, run_revert, run_revert_plan
from ..revert_batches import revert_batch_enqueue, revert_batch_plan, revert_batch_start, tally_rows

LOCAL_INPUT = "%Y-%m-%dT%H:%M"
RUNS_SHOWN = 50


def can_revert(user) -> bool:
    """Reverting runs is for RevOps admins (and superusers), never managers or reps."""
    return user_role(user) == ADMIN


def _when(value) -> str:
    return datetime_text(value) if value else "—"


def _who(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "the system"


def _lines(lines: list[dict], *, done: bool) -> list[dict]:
    """Lines with their outcome in words, its tone, and links to the record and its Why page."""
    return [
        {
            **line,
            "outcome_label": OUTCOME_LABELS.get(line["outcome"], (line["outcome"],) * 2)[1 if done else 0],
            "tone": OUTCOME_TONES.get(line["outcome"], "neutral"),
            "record_url": record_url(line.get("object_type"), line.get("object_id")),
            "why_url": why_url(line.get("object_type"), line.get("object_id")) if line.get("object_type") else None,
            "run_url": reverse("admin:revops_automationrun_change", args=[line["run"]]) if line.get("run") else None,
        }
        for line in lines
    ]


def _page(model_admin, request, template: str, **context):
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "has_view_permission": True,
            "subtitle": None,
            **context,
        },
    )


# --- one run -------------------------------------------------------------------------------------


class RunRevertForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Why this run is reverted; kept in the audit trail and on the records' Why pages.",
    )
    force = forms.BooleanField(
        required=False,
        label="Force conflicting actions",
        help_text="Also revert actions whose record changed since the run (overwrites those changes).",
    )


def run_revert_view(model_admin, request, object_id):
    """GET: the plan and the form; POST: revert, then back to the run with the result."""
    run = AutomationRun.objects.select_related("automation", "version").filter(pk=_pk(object_id)).first()
    if run is None:
        raise Http404(f"No automation run with id {object_id}.")
    if not can_revert(request.user):
        raise PermissionDenied
    form = RunRevertForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            revert = run_revert(
                run=run, actor=request.user, reason=form.cleaned_data["reason"], force=form.cleaned_data["force"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            level = messages.SUCCESS if revert.reverted else messages.WARNING
            model_admin.message_user(request, plan_summary(run, revert.lines, done=True), level)
            return HttpResponseRedirect(reverse("admin:revops_automationrun_change", args=[run.pk]) + "#reverts")
    plan = run_revert_plan(run)
    return _page(
        model_admin,
        request,
        "admin/revops/automationrun/revert.html",
        title=f"Revert run #{run.pk} of {run.automation.name}",
        original=run,
        plan=plan,
        lines=_lines(plan.lines, done=False),
        form=form,
        can_apply=bool(plan.lines) and run.mode == Automation.Mode.LIVE,
        record_url=record_url(run.object_type, run.object_id),
        why_url=why_url(run.object_type, run.object_id),
    )


def _pk(object_id) -> int | None:
    text = unquote(str(object_id))
    return int(text) if text.isdigit() and len(text) < 19 else None


def reverts_html(run: AutomationRun):
    """The reverts of a run (who, when, why, what each action became), for its page."""
    reverts = list(run.reverts.select_related("actor", "batch").order_by("-created_at", "-pk"))
    if not reverts:
        return "Not reverted."
    return format_html_join(
        "",
        '<div class="rv-revert"><strong>{}</strong> by {} — “{}”{}{}<ul>{}</ul></div>',
        (
            (
                _when(revert.created_at),
                _who(revert.actor),
                revert.reason,
                " (forced)" if revert.force else "",
                format_html(
                    ' · part of <a href="{}">revert batch #{}</a>',
                    reverse("admin:revops_runrevertbatch_change", args=[revert.batch_id]),
                    revert.batch_id,
                )
                if revert.batch_id
                else "",
                format_html_join(
                    "",
                    "<li>{}: {} on {} — {}</li>",
                    (
                        (line["label"], badge(line["outcome_label"], line["tone"]), line["record"], line["note"])
                        for line in _lines(revert.lines, done=True)
                    ),
                ),
            )
            for revert in reverts
        ),
    )


# --- a time window -------------------------------------------------------------------------------


class RevertRunsForm(forms.Form):
    """Which runs: between two local times, optionally one version and one run filter (e.g. a routing rule)."""

    started_from = forms.DateTimeField(
        label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT)
    )
    until = forms.DateTimeField(
        label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT)
    )
    version = forms.ChoiceField(required=False, label="Version")
    narrow = forms.ChoiceField(required=False, label="Only runs of")

    def __init__(self, *args, automation: Automation, **kwargs):
        super().__init__(*args, **kwargs)
        self.automation = automation
        versions = automation.versions.select_related("created_by").order_by("-number")
        self.fields["version"].choices = [("", "every version")] + [
            (
                str(v.pk),
                f"v{v.number} — from {_when(v.created_at)}" + (f" by {_who(v.created_by)}" if v.created_by else ""),
            )
            for v in versions
        ]
        groups = [
            (f.label, [(f"{f.key}:{value}", text) for value, text in f.choices()]) for f in run_filters(automation.kind)
        ]
        self.fields["narrow"].choices = [("", "every run")] + groups
        if not groups:
            self.fields["narrow"].widget = forms.HiddenInput()
        zone = timezone.get_current_timezone_name()
        self.fields["started_from"].help_text = f"Local time ({zone})."
        self.fields["until"].help_text = f"Local time ({zone}); runs before this time."

    def window(self) -> dict:
        data = self.cleaned_data
        version = self.automation.versions.filter(pk=data["version"]).first() if data.get("version") else None
        key, _, value = (data.get("narrow") or "").partition(":")
        return {
            "automation": self.automation,
            "started_from": data["started_from"],
            "until": data["until"],
            "version": version,
            "run_filter": key,
            "value": value,
        }


class BatchConfirmForm(RunRevertForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Why these runs are reverted; kept in the audit trail and on the records' Why pages.",
    )


def automation_revert_view(model_admin, request, object_id):
    """GET without ``plan``: the window form; GET with ``plan``: the plan and the confirm form; POST: start."""
    automation = Automation.objects.filter(pk=_pk(object_id)).first()
    if automation is None:
        raise Http404(f"No automation with id {object_id}.")
    if not can_revert(request.user):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else (request.GET if "plan" in request.GET else None)
    if data is None:
        until = timezone.localtime().replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        initial = {"started_from": until - dt.timedelta(hours=1), "until": until}  # the last hour, this minute included
        window_form = RevertRunsForm(initial=initial, automation=automation)
    else:
        window_form = RevertRunsForm(data, automation=automation)
    confirm = BatchConfirmForm(request.POST or None)
    plan = window = None
    if data is not None and window_form.is_valid():
        window = window_form.window()
        try:
            if request.method == "POST" and confirm.is_valid():
                batch = revert_batch_start(
                    actor=request.user,
                    reason=confirm.cleaned_data["reason"],
                    force=confirm.cleaned_data["force"],
                    **window,
                )
                model_admin.message_user(
                    request,
                    f"Reverting {batch.total} runs in the background; this page shows the progress.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:revops_runrevertbatch_change", args=[batch.pk]))
            plan = revert_batch_plan(**window)
        except ValidationError as exc:
            window_form.add_error(None, exc)
    return _page(
        model_admin,
        request,
        "admin/revops/automation/revert_runs.html",
        title=f"Revert runs of {automation.name}",
        original=automation,
        window_form=window_form,
        confirm=confirm,
        plan=plan,
        rows=tally_rows(plan, done=False) if plan else [],
        conflicts=_lines(plan["conflicts"], done=False) if plan else [],
        sample=_lines(plan["sample"], done=False) if plan else [],
        window=window,
    )


# --- the batch page ------------------------------------------------------------------------------


@admin.register(RunRevertBatch)
class RunRevertBatchAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created", "automation_link", "window", "narrowed", "status_display", "progress", "who")
    list_filter = ("status", ("automation", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("automation", "created_by", "version")
    fieldsets = (
        (None, {"fields": ("automation_link", "window", "narrowed", "reason_display", "who", "created")}),
        ("Progress", {"fields": ("status_display", "progress", "report_display", "conflicts_display", "runs_display")}),
        ("Plan (before applying)", {"fields": ("plan_display",)}),
    )
    readonly_fields = (
        "automation_link",
        "window",
        "narrowed",
        "reason_display",
        "who",
        "created",
        "status_display",
        "progress",
        "report_display",
        "conflicts_display",
        "runs_display",
        "plan_display",
    )
    change_form_template = "admin/revops/runrevertbatch/change_form.html"

    def has_view_permission(self, request, obj=None):
        return can_revert(request.user)

    def has_module_permission(self, request):
        return can_revert(request.user)

    def get_urls(self):
        from django.urls import path

        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/resume/", view(self.resume_view), name="revops_runrevertbatch_resume"),
            *super().get_urls(),
        ]

    def resume_view(self, request, object_id):
        """Enqueue the batch's job again (a worker died): it resumes with the runs not reverted yet."""
        if not can_revert(request.user):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        batch = RunRevertBatch.objects.filter(pk=_pk(object_id)).first()
        if batch is None:
            raise Http404(f"No revert batch with id {object_id}.")
        if batch.status != RunRevertBatch.Status.FINISHED and revert_batch_enqueue(batch_id=batch.pk):
            self.message_user(request, "The batch was queued again; it resumes with the runs not reverted yet.")
        return HttpResponseRedirect(reverse("admin:revops_runrevertbatch_change", args=[batch.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if batch is not None and batch.status != RunRevertBatch.Status.FINISHED:
            extra["refresh"] = True
            extra["resume_url"] = reverse("admin:revops_runrevertbatch_resume", args=[batch.pk])
        return super().change_view(request, object_id, form_url, extra)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return _when(obj.created_at)

    @admin.display(description="automation")
    def automation_link(self, obj):
        return admin_link(obj.automation)

    @admin.display(description="runs between")
    def window(self, obj):
        return f"{_when(obj.started_from)} and {_when(obj.until)} ({timezone.get_current_timezone_name()})"

    @admin.display(description="only")
    def narrowed(self, obj):
        parts = [f"version {obj.version.number}" if obj.version_id else "", obj.filter_label]
        return ", ".join(p for p in parts if p) or "every run"

    @admin.display(description="why")
    def reason_display(self, obj):
        return obj.reason + (" (conflicting actions forced)" if obj.force else "")

    @admin.display(description="status")
    def status_display(self, obj):
        tone = {"finished": "ok", "running": "info", "queued": "warn"}.get(obj.status, "neutral")
        return badge(obj.get_status_display(), tone)

    @admin.display(description="progress")
    def progress(self, obj):
        total = max(obj.total, obj.done)
        share = round(100 * obj.done / total) if total else 100
        return format_html(
            '<progress max="100" value="{}"></progress> {} of {} run{} done',
            share,
            obj.done,
            total,
            "" if total == 1 else "s",
        )

    @admin.display(description="report")
    def report_display(self, obj):
        if obj.status != RunRevertBatch.Status.FINISHED:
            return "The report appears when every run is done."
        return _tally_table(obj.report, done=True)

    @admin.display(description="conflicts (skipped)")
    def conflicts_display(self, obj):
        tally = obj.report if obj.status == RunRevertBatch.Status.FINISHED else obj.plan
        lines = _lines((tally or {}).get("conflicts") or [], done=True)
        if not lines:
            return "None."
        more = (tally or {}).get("conflict_count", len(lines)) - len(lines)
        return format_html(
            "<ul>{}</ul>{}",
            format_html_join(
                "",
                '<li><a href="{}">{}</a> — {}: {}</li>',
                ((line["why_url"] or "#", line["record"], line["label"], line["note"]) for line in lines),
            ),
            f"…and {more} more." if more > 0 else "",
        )

    @admin.display(description="reverted by")
    def who(self, obj):
        return _who(obj.created_by)

    @admin.display(description="runs")
    def runs_display(self, obj):
        reverts = list(obj.reverts.select_related("run").order_by("run_id")[:RUNS_SHOWN])
        if not reverts:
            return "None yet."
        more = obj.done - len(reverts)
        return format_html(
            "{}{}",
            format_html_join(
                " · ",
                '<a href="{}">run #{}</a> ({} undone)',
                (
                    (reverse("admin:revops_automationrun_change", args=[r.run_id]), r.run_id, r.reverted)
                    for r in reverts
                ),
            ),
            f" …and {more} more." if more > 0 else "",
        )

    @admin.display(description="plan")
    def plan_display(self, obj):
        return _tally_table(obj.plan, done=False)


def _tally_table(tally: dict, *, done: bool):
    rows = tally_rows(tally, done=done)
    if not rows:
        return "No runs in this window."
    return format_html(
        '<p>{} run{}</p><table class="rv-table"><thead><tr><th>Action</th><th>Actions</th><th>Outcome</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        (tally or {}).get("runs", 0),
        "" if (tally or {}).get("runs") == 1 else "s",
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row["label"],
                    row["total"],
                    format_html_join(
                        " ",
                        "{}",
                        (
                            (badge(f"{label}: {n}", OUTCOME_TONES.get(key, "neutral")),)
                            for label, n, key in row["outcomes"]
                        ),
                    ),
                )
                for row in rows
            ),
        ),
    )
