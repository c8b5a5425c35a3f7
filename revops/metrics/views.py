"""The RevOps dashboard (``/admin/dashboard/``) and its CSV exports, read from the roll-ups only.

Every registered metric gets a chart (drawn in the browser by the vendored Chart.js), its numbers
in a table one click away, and a CSV of exactly what ``GET /api/v1/metrics/`` answers for the same
filters. A manager sees their teams and sub-teams; the URLs are wired in ``revops.urls``.
"""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats
from django.utils.html import escape
from django.utils.safestring import mark_safe

from revops.access import ADMIN, user_role

from .query import MetricsQueryError, metrics_answer
from .registry import UNITS, metric
from .selectors import metrics_team_scope, metrics_teams_choice

UNIT_WORDS = {"percent": "%", "count": "", "minutes": "minutes", "hours": "hours"}


def _duration(minutes: float) -> str:
    """Minutes in words a person reads at a glance: "45 min", "8 h 20 min", "2 d 3 h"."""
    minutes = round(minutes)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def number_text(value, unit: str) -> str:
    """A metric's value in words for ``unit`` ("92.5 %", "8 h 20 min", "—" for none)."""
    return _number(value, unit)


def _number(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "minutes":
        return _duration(value)
    text = f"{value:,.0f}" if unit == "count" and float(value).is_integer() else f"{value:,.1f}"
    suffix = UNITS[unit]
    return f"{text} {suffix}".strip() if suffix != "%" else f"{text} %"


def _day(day) -> str:
    return formats.date_format(day, "D j M")


def _table_html(table: dict) -> str:
    """The numbers table as HTML, escaped, joined in one pass: a year of days in a dozen charts is
    tens of thousands of cells, which the template language renders ten times slower."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in table["head"])
    rows = [
        f'<tr><th scope="row">{escape(row[0])}</th>{"".join(f"<td>{escape(cell)}</td>" for cell in row[1:])}</tr>'
        for row in table["rows"]
    ] or ["<tr><td>No data in this range.</td></tr>"]
    return mark_safe(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")  # noqa: S308


def _chart(data: dict, day_label=_day) -> tuple[dict, dict]:
    """The chart's JSON for the script and the table for the page."""
    unit, series = data["unit"], data["series"]
    if data["chart"] == "bar":
        spec_labels = [s["name"] for s in series]
        datasets = [{"label": data["label"], "data": [s["total"] for s in series]}]
        table = {"head": ["", "Over the range"], "rows": [[s["name"], _number(s["total"], unit)] for s in series]}
    else:
        days = [p["day"] for p in series[0]["points"]] if series else []
        spec_labels = [day_label(day) for day in days]
        datasets = [{"label": s["name"], "data": [p["value"] for p in s["points"]]} for s in series]
        rows = [
            [day_label(day)] + [_number(s["points"][i]["value"], unit) for s in series] for i, day in enumerate(days)
        ]
        if data["aggregate"] != "percentile":
            label = "On the last day" if data["aggregate"] == "level" else "Over the range"
            rows.append([label] + [_number(s["total"], unit) for s in series])
        table = {"head": ["Day"] + [s["name"] for s in series], "rows": rows}
    if data["chart"] == "bar" and not any(s["points"] for s in series):  # the range's totals only
        has_data = any(s["total"] is not None for s in series)
    else:
        has_data = any(p["value"] is not None for s in series for p in s["points"])
    spec = {
        "key": data["key"],
        "chart": data["chart"],
        "unit": UNIT_WORDS[unit],
        "labels": spec_labels,
        "datasets": datasets,
    }
    chart = {
        **data,
        "table": table,
        "table_html": _table_html(table),
        "has_data": has_data,
        "totals": [(s["name"], _number(s["total"], unit)) for s in series if s["total"] is not None][:4],
    }
    return spec, chart


def dashboard_view(request):
    """The dashboard: filters (range, team), then one card per metric, grouped."""
    scope = metrics_team_scope(request.user)
    error = None
    try:
        answer = metrics_answer(user=request.user, params=request.GET, daily_bars=False)
    except MetricsQueryError as exc:
        error = exc.message
        answer = metrics_answer(user=request.user, params={}, daily_bars=False)
    specs, groups = {}, []
    labels = {}

    def day_label(day) -> str:
        if day not in labels:
            labels[day] = _day(day)
        return labels[day]

    for data in answer["metrics"]:
        spec, chart = _chart(data, day_label)
        specs[data["key"]] = spec
        if not groups or groups[-1]["name"] != data["group"]:
            groups.append({"name": data["group"], "charts": []})
        groups[-1]["charts"].append(chart)
    team = answer["team"]
    filters = {"start": answer["start"].isoformat(), "end": answer["end"].isoformat()}
    if team:
        filters["team"] = team["external_id"]
    context = {
        **admin.site.each_context(request),
        "title": "RevOps dashboard",
        "groups": groups,
        "specs": specs,
        "answer": answer,
        "teams": metrics_teams_choice(scope),
        "no_teams": scope is not None and not scope,
        "error": error,
        "query": urlencode(filters),
        # The automation health review (revops.engine.admin.health) is for RevOps admins.
        "health_review_url": reverse("admin:revops_automation_health_review")
        if user_role(request.user) == ADMIN
        else "",
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/revops/dashboard.html", context)


def dashboard_csv(request, key: str):
    """One metric's numbers as CSV: a row per day and series, the same numbers as the API."""
    if metric(key) is None:
        raise Http404("No such metric.")
    params = request.GET.copy()
    params["metric"] = key
    try:
        answer = metrics_answer(user=request.user, params=params)
    except MetricsQueryError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"{key}_{answer['start'].isoformat()}_{answer['end'].isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(["day", "series", "value", "numerator", "denominator"])
    for series in answer["metrics"][0]["series"]:
        for point in series["points"]:
            writer.writerow(
                [
                    point["day"].isoformat(),
                    series["name"],
                    "" if point["value"] is None else point["value"],
                    "" if point["numerator"] is None else point["numerator"],
                    "" if point["denominator"] is None else point["denominator"],
                ]
            )
    return response
