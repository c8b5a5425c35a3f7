"""The closed loop: from lead source, campaign, routing rule and rep to accepted, SQL, opportunity and won
revenue — conversion through the funnel stages, time in each stage, and speed to lead vs conversion.

A *cohort* is the leads created in a date range (and, optionally, owned in one team's tree) that the
reader may see. A lead *reached* a funnel stage when it ever entered that stage or a later one (funnel
stages only move forward), so a lead that was accepted and then recycled still counts as accepted. It is
*won* when the opportunity the CRM converted it into (``Lead.converted_opportunity``) is closed won; the
won revenue is that opportunity's amount. Speed to lead is the time from the lead's creation to its
first logged activity. Everything is read in a few grouped queries and summed in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Min
from django.db.models.fields.json import KeyTextTransform

from revops.access import team_subtree_ids
from revops.conditions.computed import compute_values, computed_fields
from revops.metrics.days import median
from revops.models import Activity, Opportunity

from .models import LeadStage, Stage, StageTransition
from .stage_selectors import visible_leads

NONE = "(none)"
SPEED_BUCKETS = (
    ("within 5 minutes", dt.timedelta(minutes=5)),
    ("5 to 60 minutes", dt.timedelta(hours=1)),
    ("1 to 24 hours", dt.timedelta(days=1)),
    ("over a day", None),
)
NO_TOUCH = "no touch yet"


def dimensions() -> dict[str, str]:
    """What a cohort can be grouped by: the lead's source, campaign and owner, and every text field an
    app computes for leads (routing: the routing rule)."""
    found = {"source": "Lead source", "campaign": "Campaign", "owner": "Rep"}
    for spec in computed_fields("lead"):
        if spec.field_type == "text":
            found[spec.key] = spec.label
    return found


@dataclass
class Step:
    key: str
    name: str
    position: int


@dataclass
class FunnelRow:
    label: str
    leads: int = 0
    reached: dict[str, int] = field(default_factory=dict)
    won: int = 0
    won_amount: Decimal = Decimal(0)

    def cells(self, steps: list[Step]) -> list[dict]:
        """Each step's count, its share of the leads and of the step before (None when nothing to divide)."""
        out, previous = [], self.leads
        for step in steps:
            count = self.reached.get(step.key, 0)
            out.append({"count": count, "of_leads": _pct(count, self.leads), "of_previous": _pct(count, previous)})
            previous = count
        return out

    @property
    def won_rate(self) -> float | None:
        return _pct(self.won, self.leads)


@dataclass
class ClosedLoop:
    dimension: str
    dimension_label: str
    since: dt.datetime
    until: dt.datetime
    steps: list[Step]
    rows: list[FunnelRow]
    total: FunnelRow
    time_in_stage: list[dict]
    speed: list[dict]


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def funnel_steps() -> list[Step]:
    """The funnel stages after the first (every lead starts in the first), in order."""
    stages = list(Stage.objects.filter(kind=Stage.Kind.FUNNEL).order_by("position", "pk"))
    return [Step(s.key, s.name, s.position) for s in stages[1:]]


def cohort(*, user, since: dt.datetime, until: dt.datetime, team_id: int | None = None):
    leads = visible_leads(user=user).filter(created_at__gte=since, created_at__lt=until)
    if team_id is not None:
        leads = leads.filter(owner__team_id__in=team_subtree_ids({team_id}))
    return leads


def _labels(leads, dimension: str, now: dt.datetime) -> dict[int, str]:
    if dimension == "source":
        rows = leads.values_list("pk", "source")
    elif dimension == "campaign":
        rows = leads.annotate(_campaign=KeyTextTransform(settings.LIFECYCLE_CAMPAIGN_FIELD, "attributes")).values_list(
            "pk", "_campaign"
        )
    elif dimension == "owner":
        rows = leads.values_list("pk", "owner__name")
    else:
        spec = next((s for s in computed_fields("lead") if s.key == dimension), None)
        if spec is None:
            raise ValueError(f"Unknown grouping {dimension!r}; one of {', '.join(dimensions())}.")
        records = list(leads.only("pk"))
        values = {}
        for start in range(0, len(records), 2000):
            values.update(compute_values(spec, records[start : start + 2000], now))
        return {lead.pk: values.get(lead.pk) or NONE for lead in records}
    return {pk: (value or NONE) for pk, value in rows}


def _reached_positions(lead_ids) -> dict[int, int]:
    """The furthest funnel position each lead ever entered (its moves and its current stage)."""
    furthest: dict[int, int] = {}
    moves = (
        StageTransition.objects.filter(lead_id__in=lead_ids, to_stage__kind=Stage.Kind.FUNNEL)
        .values("lead_id")
        .annotate(top=Max("to_stage__position"))
        .values_list("lead_id", "top")
    )
    now_in = LeadStage.objects.filter(lead_id__in=lead_ids, stage__kind=Stage.Kind.FUNNEL).values_list(
        "lead_id", "stage__position"
    )
    for lead_id, position in [*moves, *now_in]:
        furthest[lead_id] = max(position, furthest.get(lead_id, position))
    return furthest


def closed_loop(
    *,
    user,
    dimension: str = "source",
    since: dt.datetime,
    until: dt.datetime,
    team_id: int | None = None,
    now: dt.datetime | None = None,
) -> ClosedLoop:
    """The cohort's funnel per ``dimension`` value (largest first), the total, time in stage and speed to lead."""
    now = now or dt.datetime.now(dt.UTC)
    names = dimensions()
    if dimension not in names:
        raise ValueError(f"Unknown grouping {dimension!r}; one of {', '.join(names)}.")
    leads = cohort(user=user, since=since, until=until, team_id=team_id)
    steps = funnel_steps()
    ids = leads.values("pk")
    labels = _labels(leads, dimension, now)
    furthest = _reached_positions(ids)
    won = dict(
        leads.filter(converted_opportunity__stage=Opportunity.Stage.CLOSED_WON).values_list(
            "pk", "converted_opportunity__amount"
        )
    )
    created = dict(leads.values_list("pk", "created_at"))
    first_touch = dict(
        Activity.objects.filter(lead_id__in=ids)
        .values("lead_id")
        .annotate(first=Min("occurred_at"))
        .values_list("lead_id", "first")
    )
    rows: dict[str, FunnelRow] = {}
    total = FunnelRow(label="All leads")
    speed = {label: {"label": label, "leads": 0, "sql": 0, "won": 0} for label, _ in SPEED_BUCKETS}
    speed[NO_TOUCH] = {"label": NO_TOUCH, "leads": 0, "sql": 0, "won": 0}
    sql_position = next((s.position for s in steps if s.key == "sql"), steps[-1].position if steps else None)
    for pk, label in labels.items():
        row = rows.setdefault(label, FunnelRow(label=label))
        position = furthest.get(pk, -1)
        for target in (row, total):
            target.leads += 1
            for step in steps:
                if position >= step.position:
                    target.reached[step.key] = target.reached.get(step.key, 0) + 1
            if pk in won:
                target.won += 1
                target.won_amount += won[pk] or Decimal(0)
        bucket = _speed_bucket(created.get(pk), first_touch.get(pk))
        speed[bucket]["leads"] += 1
        speed[bucket]["sql"] += sql_position is not None and position >= sql_position
        speed[bucket]["won"] += pk in won
    for entry in speed.values():
        entry["sql_rate"], entry["won_rate"] = _pct(entry["sql"], entry["leads"]), _pct(entry["won"], entry["leads"])
    ordered = sorted(rows.values(), key=lambda r: (r.label == NONE, -r.leads, r.label.lower()))
    return ClosedLoop(
        dimension=dimension,
        dimension_label=names[dimension],
        since=since,
        until=until,
        steps=steps,
        rows=ordered,
        total=total,
        time_in_stage=time_in_stage(ids, now=now),
        speed=list(speed.values()),
    )


def _speed_bucket(created, first) -> str:
    if created is None or first is None:
        return NO_TOUCH
    waited = max(first - created, dt.timedelta(0))
    for label, limit in SPEED_BUCKETS:
        if limit is None or waited < limit:
            return label
    return SPEED_BUCKETS[-1][0]


def time_in_stage(lead_ids, *, now: dt.datetime) -> list[dict]:
    """Per stage, the median time leads of the cohort spent in it before their next move (stays still
    going count up to ``now``), with how many stays were measured."""
    stays: dict[int, list[float]] = defaultdict(list)
    moves = StageTransition.objects.filter(lead_id__in=lead_ids).order_by("lead_id", "at", "pk")
    previous = None
    for lead_id, stage_id, at in moves.values_list("lead_id", "to_stage_id", "at"):
        if previous is not None and previous[0] == lead_id:
            stays[previous[1]].append((at - previous[2]).total_seconds())
        elif previous is not None:
            stays[previous[1]].append((now - previous[2]).total_seconds())
        previous = (lead_id, stage_id, at)
    if previous is not None:
        stays[previous[1]].append((now - previous[2]).total_seconds())
    out = []
    for stage in Stage.objects.filter(pk__in=list(stays)).order_by("position", "pk"):
        values = stays[stage.pk]
        out.append({"stage": stage.name, "median_seconds": median(values), "stays": len(values)})
    return out
