"""Reads of the lifecycle app: what to re-score, a lead's explained scores, a shadow model's report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import F, Func, IntegerField, Max, Min

from revops.models import Activity, Lead

from .models import LeadScore, ScoringModel
from .scoring import explanation_text

CHUNK = 1000
# The nightly job also re-scores leads whose last counted activity just left a window.
WINDOW_MARGIN_DAYS = 2


def lead_id_chunks(queryset, size: int = CHUNK) -> Iterator[list[int]]:
    """``queryset``'s distinct lead ids in ascending chunks (keyset pagination, no big list in memory)."""
    last = 0
    while True:
        ids = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def leads_to_rescore(
    *, specs, now: dt.datetime, size: int = CHUNK, first_id: int | None = None, last_id: int | None = None
) -> Iterator[list[int]]:
    """Chunks of lead ids the re-score covers (within ``first_id``…``last_id`` when given): leads with
    activities of a scored kind inside the longest window (plus a margin), then, per model, leads without
    a score computed since the model last changed. A lead may come twice; re-scoring it again changes nothing."""
    leads = Lead.objects.all()
    if first_id is not None:
        leads = leads.filter(pk__gte=first_id)
    if last_id is not None:
        leads = leads.filter(pk__lte=last_id)
    engaged = [s for s in specs if s.engagement]
    if engaged:
        window = max(s.longest_window for s in engaged) + WINDOW_MARGIN_DAYS
        kinds = set().union(*(s.activity_kinds for s in engaged))
        recent = Activity.objects.filter(kind__in=kinds, occurred_at__gte=now - dt.timedelta(days=window))
        if first_id is not None:
            recent = recent.filter(lead_id__gte=first_id)
        if last_id is not None:
            recent = recent.filter(lead_id__lte=last_id)
        yield from lead_id_chunks(leads.filter(pk__in=recent.values("lead_id")), size)
    changed = dict(ScoringModel.objects.filter(pk__in=[s.pk for s in specs]).values_list("pk", "updated_at"))
    for spec in specs:
        current = LeadScore.objects.filter(model_id=spec.pk, computed_at__gte=changed.get(spec.pk, now))
        if first_id is not None:
            current = current.filter(lead_id__gte=first_id)
        if last_id is not None:
            current = current.filter(lead_id__lte=last_id)
        yield from lead_id_chunks(leads.exclude(pk__in=current.values("lead_id")), size)


def lead_id_ranges(size: int) -> list[tuple[int, int]]:
    """The leads' ids cut into consecutive ranges of ``size`` ids (first, last), for jobs that share them."""
    bounds = Lead.objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        return []
    return [(lo, min(lo + size - 1, bounds["last"])) for lo in range(bounds["first"], bounds["last"] + 1, size)]


def _abs_difference():
    return Func(F("total") - F("lead__score"), function="ABS", output_field=IntegerField())


def agrees(total: int, crm_score: int | None, within: int) -> bool | None:
    """Whether a model's score agrees with the CRM's (within ``within`` points); None without a CRM score."""
    return None if crm_score is None else abs(total - crm_score) <= within


def why_scores(lead_id: int) -> list[dict]:
    """A lead's scores under the shadow and live models, live first, each explained line by line."""
    rows = (
        LeadScore.objects.filter(lead_id=lead_id)
        .exclude(model__status=ScoringModel.Status.DRAFT)
        .select_related("model", "lead")
        .order_by("-model__status", "model__name")
    )
    scores = []
    for row in rows:
        model = row.model
        crm = row.lead.score
        scores.append(
            {
                "model": model,
                "live": model.status == ScoringModel.Status.LIVE,
                "total": row.total,
                "computed_at": row.computed_at,
                "lines": [
                    {"text": text, "kind": line.get("kind"), "negative": line.get("points", 0) < 0}
                    for text, line in zip(explanation_text(row.explanation), row.explanation, strict=True)
                ],
                "crm_score": crm,
                "agrees": None
                if model.status == ScoringModel.Status.LIVE
                else agrees(row.total, crm, model.agreement_points),
            }
        )
    return scores


@dataclass
class ShadowReport:
    """How a model's scores compare with the CRM's: agreement within ``within`` points, the worst leads."""

    within: int
    scored: int = 0
    compared: int = 0
    agreed: int = 0
    differ_most: list[dict] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def shadow_report(model: ScoringModel, *, within: int | None = None, limit: int = 10) -> ShadowReport:
    """Agreement between ``model``'s scores and the leads' CRM scores (``within`` points, default the model's)."""
    within = model.agreement_points if within is None else within
    rows = LeadScore.objects.filter(model=model)
    report = ShadowReport(within=within, scored=rows.count())
    compared = rows.filter(lead__score__isnull=False).annotate(difference=_abs_difference())
    report.compared = compared.count()
    report.agreed = compared.filter(difference__lte=within).count()
    for row in compared.filter(difference__gt=within).select_related("lead").order_by("-difference", "lead_id")[:limit]:
        report.differ_most.append(
            {"lead": row.lead, "total": row.total, "crm_score": row.lead.score, "difference": row.difference}
        )
    return report
