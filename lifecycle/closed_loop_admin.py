"""The closed-loop report page (admin): a cohort's funnel by source, campaign, rule or rep, time in stage
and speed to lead vs conversion, with a CSV of the funnel table. RevOps sees every team, a manager theirs."""

from __future__ import annotations

import csv
import datetime as dt

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from exceptions.timing import human_duration
from revops.admin.base import ReadOnlyMixin

from .closed_loop import closed_loop, dimensions
from .models import ClosedLoopReport
from .stage_selectors import report_teams


class ReportForm(forms.Form):
    group = forms.ChoiceField(label="Group by", required=False)
    since = forms.DateField(
        label="Leads created from", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    until = forms.DateField(
        label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    team = forms.TypedChoiceField(label="Team", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].choices = list(dimensions().items())
        self.fields["team"].choices = [("", "All my teams")] + [(t.pk, t.name) for t in teams]


def _bounds(form) -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    data = form.cleaned_data if form.is_valid() else {}
    until = data.get("until") or today
    since = data.get("since") or until - dt.timedelta(days=89)
    return since, until


def _aware(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@admin.register(ClosedLoopReport)
class ClosedLoopAdmin(ReadOnlyMixin, admin.ModelAdmin):
    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("", view(self.changelist_view), name="lifecycle_closedloopreport_changelist")]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        teams = report_teams(user=request.user)
        form = ReportForm(request.GET or None, teams=teams)
        since, until = _bounds(form)
        if not request.GET:  # show the default range in the date fields
            form = ReportForm(None, teams=teams, initial={"since": since, "until": until, "group": "source"})
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        team_id = data.get("team")
        if team_id is not None and team_id not in {t.pk for t in teams}:
            team_id = None
        report = closed_loop(
            user=request.user,
            dimension=data.get("group") or "source",
            since=_aware(since),
            until=_aware(until + dt.timedelta(days=1)),
            team_id=team_id,
        )
        if request.GET.get("format") == "csv":
            return _csv(report, since, until)
        for stay in report.time_in_stage:
            stay["median_text"] = human_duration(dt.timedelta(seconds=stay["median_seconds"]))
        rows = [{"row": row, "cells": row.cells(report.steps)} for row in report.rows]
        context = {
            **self.admin_site.each_context(request),
            "title": "Closed loop: from lead source to revenue",
            "opts": self.model._meta,
            "form": form,
            "report": report,
            "rows": rows,
            "total": {"row": report.total, "cells": report.total.cells(report.steps)},
            "since": since,
            "until": until,
            "csv_query": (request.GET.urlencode() + "&" if request.GET else "") + "format=csv",
        }
        return TemplateResponse(request, "admin/lifecycle/closed_loop.html", context)


def _csv(report, since, until) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="closed-loop-{report.dimension}-{since}-{until}.csv"'
    writer = csv.writer(response)
    writer.writerow([report.dimension_label, "Leads", *(s.name for s in report.steps), "Won", "Won revenue"])
    for row in [*report.rows, report.total]:
        writer.writerow(
            [row.label, row.leads, *(row.reached.get(s.key, 0) for s in report.steps), row.won, f"{row.won_amount:.2f}"]
        )
    return response
