"""The data-quality page (``admin:dataquality_duplicateset_report``): duplicate rate per object and
lead source, merges by outcome, normalisations applied and records rejected per field, for a period."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from .report import duplicate_rates, merge_counts, normalisations, open_sets, rejections

PERIODS = (7, 30, 90, 365)


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f} %"


def report_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    days = request.GET.get("days", "30")
    days = int(days) if days.isdigit() and int(days) in PERIODS else 30
    until = timezone.now()
    since = until - dt.timedelta(days=days)
    rates = duplicate_rates(since, until)
    totals: dict[str, dict] = {}
    for row in rates:
        total = totals.setdefault(row.object_type, {"label": row.label, "arrived": 0, "duplicates": 0})
        total["arrived"] += row.arrived
        total["duplicates"] += row.duplicates
    now_open = open_sets()
    changelist = reverse("admin:dataquality_duplicateset_changelist")
    objects = [
        {
            **total,
            "rate": _percent(total["duplicates"] / total["arrived"] if total["arrived"] else None),
            "open_sets": now_open.get(object_type, {}).get("sets", 0),
            "open_records": now_open.get(object_type, {}).get("records", 0),
            "sets_url": f"{changelist}?object_type__exact={object_type}&status__exact=open",
        }
        for object_type, total in totals.items()
    ]
    by_source = [
        {
            "label": row.label,
            "source": row.source,
            "arrived": row.arrived,
            "duplicates": row.duplicates,
            "rate": _percent(row.rate),
        }
        for row in rates
        if row.source
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Data quality",
        "subtitle": None,
        "opts": model_admin.model._meta,
        "has_view_permission": True,
        "days": days,
        "periods": PERIODS,
        "since": timezone.localtime(since),
        "objects": objects,
        "by_source": by_source,
        "merges": merge_counts(since, until),
        "merges_url": reverse("admin:dataquality_merge_changelist"),
        "normalisations": normalisations(since, until),
        "rejections": rejections(since, until),
        "failures_url": reverse("admin:revops_syncfailure_changelist"),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/dataquality/duplicateset/report.html", context)
