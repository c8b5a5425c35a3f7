"""Reads of the monitors app: the forecast signals of many deals at once, as of a given ``now``.

Every signal comes from the portal's own records — ``DealMovement`` rows (what the portal applied),
``ForecastSnapshot`` rows and the opportunity itself — never from the CRM's counters. Two queries
per chunk of ``CHUNK`` deals, whatever the history's length.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from revops.models import Opportunity

from .models import DealMovement, ForecastSnapshot

CHUNK = 2000
_CLOSE = DealMovement.Field.CLOSE_DATE
_CATEGORY = DealMovement.Field.FORECAST_CATEGORY
_STAGE = DealMovement.Field.STAGE


def quarter_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s calendar quarter."""
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class DealSignals:
    """The forecast signals of one deal as of ``now``; the window is ``[window_start 00:00 local, now]``.

    * ``pushes`` — close-date changes in the window that moved the date **later** (a pull-in or a
      date set or cleared is not a push); ``days_slipped`` — the days those pushes added, summed
      (pull-ins are not subtracted).
    * ``snapshot_on`` / ``snapshot_amount`` — the deal's latest snapshot taken on or before
      ``snapshot_on_or_before`` (default: ``now``'s local date); ``amount_change`` — the amount now
      minus the snapshot's; ``amount_change_pct`` — that as a percentage of the snapshot's amount
      (None when either amount is empty or the snapshot's is zero).
    * ``stage_since`` — when the deal entered its current stage: the latest stage movement up to
      ``now``, else the record's creation in the portal (``stage_recorded`` False); ``days_in_stage`` — whole
      days since then.
    * ``category_changes`` — forecast-category changes in the window; ``last_category_change`` —
      the latest one up to ``now`` (in or before the window) as ``(when, old, new)``, or None.
    * ``days_since_activity`` — whole days since ``last_activity_at`` (None: no activity logged).
    * ``recent_changes`` — only when ``deal_signals`` is asked for ``recent_days``: the movements of
      each forecast field in ``[now - recent_days, now]``, by field (``{"close_date": 2}``; a field
      that did not move is absent).
    """

    opportunity_id: int
    now: dt.datetime
    window_start: dt.date
    stage: str
    forecast_category: str
    amount: Decimal | None
    close_date: dt.date | None
    pushes: int
    days_slipped: int
    snapshot_on: dt.date | None
    snapshot_amount: Decimal | None
    amount_change: Decimal | None
    amount_change_pct: float | None
    stage_since: dt.datetime
    days_in_stage: int
    category_changes: int
    last_category_change: tuple[dt.datetime, str, str] | None
    last_activity_at: dt.datetime | None
    days_since_activity: int | None
    recent_changes: dict[str, int] = dataclass_field(default_factory=dict, compare=False, hash=False)
    stage_recorded: bool = True  # False: no stage change recorded, ``stage_since`` is when the portal first saw it


class _Figures(NamedTuple):
    """The annotated figures of one deal, when its own fields come from an instance already loaded."""

    pk: int
    snapshot_on: dt.date | None
    snapshot_amount: Decimal | None
    stage_moved_at: dt.datetime | None
    category_moved_at: dt.datetime | None
    category_old: str | None
    category_new: str | None


def _latest(field: str, column: str, now: dt.datetime):
    return Subquery(
        DealMovement.objects.filter(opportunity_id=OuterRef("pk"), field=field, moved_at__lte=now)
        .order_by("-moved_at", "-id")
        .values(column)[:1]
    )


def _days(later: dt.datetime, earlier: dt.datetime) -> int:
    return max((later - earlier).days, 0)


_FIGURES = ("snapshot_on", "snapshot_amount", "stage_moved_at", "category_moved_at", "category_old", "category_new")


def deal_signals(
    *,
    opportunity_ids=None,
    deals=None,
    now: dt.datetime | None = None,
    window_start: dt.date | None = None,
    snapshot_on_or_before: dt.date | None = None,
    recent_days: int | None = None,
) -> dict[int, DealSignals]:
    """The ``DealSignals`` of each existing opportunity in ``opportunity_ids``, by id.

    ``now`` defaults to the current time; ``window_start`` to the first day of ``now``'s calendar
    quarter (local time); ``snapshot_on_or_before`` to ``now``'s local date (pass an earlier day,
    e.g. a week ago, to compare with last week's snapshot). Movements after ``now`` are ignored.

    A caller that has already loaded the opportunities may pass them as ``deals`` (instead of
    ``opportunity_ids``): their own fields are read from those instances and only the movement and
    snapshot figures are queried. ``recent_days`` also counts each field's movements over the last
    that many days (``recent_changes``; one more query per chunk).
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    window_start = window_start or quarter_start(today)
    snapshot_day = snapshot_on_or_before or today
    since = timezone.make_aware(dt.datetime.combine(window_start, dt.time.min))
    loaded = None
    if deals is not None:
        loaded = {deal.pk: deal for deal in deals}
        opportunity_ids = loaded
    ids = sorted(set(opportunity_ids or ()))
    result: dict[int, DealSignals] = {}
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        snapshots = ForecastSnapshot.objects.filter(opportunity_id=OuterRef("pk"), taken_on__lte=snapshot_day)
        latest_snapshot = snapshots.order_by("-taken_on")
        annotated = Opportunity.objects.filter(pk__in=chunk).annotate(
            snapshot_on=Subquery(latest_snapshot.values("taken_on")[:1]),
            snapshot_amount=Subquery(latest_snapshot.values("amount")[:1]),
            stage_moved_at=_latest(_STAGE, "moved_at", now),
            category_moved_at=_latest(_CATEGORY, "moved_at", now),
            category_old=_latest(_CATEGORY, "old_value", now),
            category_new=_latest(_CATEGORY, "new_value", now),
        )
        if loaded is None:
            rows = ((deal, deal) for deal in annotated)
        else:
            rows = ((loaded[row[0]], _Figures(*row)) for row in annotated.values_list("pk", *_FIGURES))
        counts = {
            row["opportunity_id"]: row
            for row in DealMovement.objects.filter(
                opportunity_id__in=chunk, field__in=(_CLOSE, _CATEGORY), moved_at__gte=since, moved_at__lte=now
            )
            .values("opportunity_id")
            .annotate(
                pushes=Count("id", filter=Q(field=_CLOSE, days_moved__gt=0)),
                slipped=Sum("days_moved", filter=Q(field=_CLOSE, days_moved__gt=0)),
                categories=Count("id", filter=Q(field=_CATEGORY)),
            )
        }
        recent: dict[int, dict[str, int]] = {}
        if recent_days is not None:
            for moved in (
                DealMovement.objects.filter(
                    opportunity_id__in=chunk, moved_at__gte=now - dt.timedelta(days=recent_days), moved_at__lte=now
                )
                .order_by()
                .values("opportunity_id", "field")
                .annotate(n=Count("id"))
            ):
                recent.setdefault(moved["opportunity_id"], {})[moved["field"]] = moved["n"]
        for deal, fig in rows:
            row = counts.get(deal.pk, {})
            change = pct = None
            if deal.amount is not None and fig.snapshot_amount is not None:
                change = deal.amount - fig.snapshot_amount
                if fig.snapshot_amount:
                    pct = float(change / fig.snapshot_amount * 100)
            stage_since = fig.stage_moved_at or deal.created_at
            last_category = None
            if fig.category_moved_at is not None:
                last_category = (fig.category_moved_at, fig.category_old, fig.category_new)
            result[deal.pk] = DealSignals(
                opportunity_id=deal.pk,
                now=now,
                window_start=window_start,
                stage=deal.stage,
                forecast_category=deal.forecast_category,
                amount=deal.amount,
                close_date=deal.close_date,
                pushes=row.get("pushes", 0),
                days_slipped=row.get("slipped") or 0,
                snapshot_on=fig.snapshot_on,
                snapshot_amount=fig.snapshot_amount,
                amount_change=change,
                amount_change_pct=pct,
                stage_since=stage_since,
                days_in_stage=_days(now, stage_since),
                category_changes=row.get("categories", 0),
                last_category_change=last_category,
                last_activity_at=deal.last_activity_at,
                days_since_activity=_days(now, deal.last_activity_at) if deal.last_activity_at else None,
                recent_changes=recent.get(deal.pk, {}),
                stage_recorded=fig.stage_moved_at is not None,
            )
    return result


def evidence_labels() -> dict[str, str]:
    """The data dictionary's labels of opportunity fields, by key (the evidence fields' names in words)."""
    from revops.models import FieldDefinition

    return dict(FieldDefinition.objects.filter(object_type="opportunity").values_list("key", "label"))


def hygiene_policies():
    """The live and shadow ``forecast_hygiene`` automations not paused on their own (kill switch), by name."""
    from revops.models import Automation

    return list(
        Automation.objects.filter(
            kind="forecast_hygiene",
            object_type="opportunity",
            mode__in=(Automation.Mode.LIVE, Automation.Mode.SHADOW),
            paused_at__isnull=True,
        ).order_by("name")
    )


@dataclass(frozen=True)
class PolicyNoise:
    """How often a hygiene policy was called noise, over the hygiene items opened since ``since``.

    * ``items`` — the deal items on which the policy was listed (a live finding of it during the item's
      life, not suppressed when the item closed);
    * ``dismissed_noise`` — of those, closed by a person as noise (dismissed with "noise", or resolved
      with the code ``noise``);
    * ``suppressed_noise`` — suppressions of the policy with the reason "noise" made since ``since``;
      ``suppressions`` — every suppression of it since then, by reason label;
    * ``noisy_items`` — items dismissed as noise or from which the policy was suppressed as noise;
      ``rate`` — ``noisy_items / items`` (None without items): what issue 15's automation-health
      dashboard reads.
    """

    automation_id: int
    name: str
    policy: str
    mode: str
    items: int
    dismissed_noise: int
    suppressed_noise: int
    suppressions: dict[str, int]
    noisy_items: int
    rate: float | None


def policy_noise_rates(*, since: dt.datetime | None = None, now: dt.datetime | None = None) -> list[PolicyNoise]:
    """Per ``forecast_hygiene`` automation (any mode, by name): items, noise, suppressions and the noise
    rate since ``since`` (default: the last 90 days). Four queries."""
    from revops.models import Automation

    from .models import HygieneFinding

    automations = list(Automation.objects.filter(kind="forecast_hygiene").order_by("name"))
    return _noise_rates(
        automations, kind="forecast_hygiene", object_type="opportunity", model=HygieneFinding, since=since, now=now
    )


def renewal_noise_rates(*, since: dt.datetime | None = None, now: dt.datetime | None = None) -> list[PolicyNoise]:
    """The same for the renewal monitors' risk policies (``renewal_monitor`` automations whose policy is a
    risk, any mode, by name) over the ``renewal_risk`` items: tasks and notices are not items, so they
    have no noise rate. Four queries."""
    from revops.models import Automation

    from .models import RenewalFinding
    from .renewal_policies import POLICIES, RISK

    automations = [
        a
        for a in Automation.objects.filter(kind="renewal_monitor").order_by("name")
        if getattr(POLICIES.get((a.config or {}).get("policy")), "does", None) == RISK
    ]
    return _noise_rates(
        automations, kind="renewal_risk", object_type="account", model=RenewalFinding, since=since, now=now
    )


def _noise_rates(automations, *, kind: str, object_type: str, model, since, now) -> list[PolicyNoise]:
    """``PolicyNoise`` of ``automations`` over the items of ``kind`` about ``object_type`` records opened
    since ``since``, with the live findings in ``model`` (its record foreign key named after ``object_type``)."""
    from exceptions.codes import NOISE
    from exceptions.models import ExceptionItem, Suppression

    now = now or timezone.now()
    since = since or now - dt.timedelta(days=90)
    subject = f"{object_type}_id"
    items = list(
        ExceptionItem.objects.filter(kind=kind, object_type=object_type, first_seen_at__gte=since)
        .order_by()
        .values("pk", "object_id", "first_seen_at", "resolved_at", "resolution_code")
    )
    deal_ids = {item["object_id"] for item in items}
    findings: dict[int, list[tuple]] = {}
    for row in (
        model.objects.filter(**{f"{subject}__in": deal_ids}, mode="live")
        .order_by()
        .values_list(subject, "automation_id", "first_seen_at", "resolved_at")
    ):
        findings.setdefault(row[0], []).append(row[1:])
    suppressions = list(
        Suppression.objects.filter(kind=kind, object_type=object_type)
        .filter(Q(created_at__gte=since) | Q(object_id__in=deal_ids))
        .order_by()
        .values("object_id", "automation_id", "reason_code", "item_id", "created_at", "lifted_at", "until")
    )

    def suppressed_at(deal_id: int, automation_id: int, when: dt.datetime) -> bool:
        return any(
            s["object_id"] == deal_id
            and s["automation_id"] == automation_id
            and s["created_at"] <= when
            and (s["lifted_at"] is None or s["lifted_at"] > when)
            and (s["until"] is None or s["until"] > when)
            for s in by_deal.get(deal_id, ())
        )

    by_deal: dict[int, list[dict]] = {}
    for s in suppressions:
        by_deal.setdefault(s["object_id"], []).append(s)
    listed: dict[int, int] = {}
    dismissed: dict[int, int] = {}
    noisy: dict[int, set] = {}
    for item in items:
        end = item["resolved_at"] or now
        for automation_id, first, resolved in findings.get(item["object_id"], ()):
            if first > end or (resolved is not None and resolved < item["first_seen_at"]):
                continue
            off_at_close = item["resolved_at"] is not None and suppressed_at(item["object_id"], automation_id, end)
            if off_at_close and suppressed_at(item["object_id"], automation_id, item["first_seen_at"]):
                continue  # suppressed for the item's whole life: never on it
            listed[automation_id] = listed.get(automation_id, 0) + 1
            if item["resolution_code"] == NOISE and not off_at_close:
                dismissed[automation_id] = dismissed.get(automation_id, 0) + 1
                noisy.setdefault(automation_id, set()).add(item["pk"])
    suppressed_noise: dict[int, int] = {}
    reasons: dict[int, dict[str, int]] = {}
    labels = dict(Suppression.Reason.choices)
    for s in suppressions:
        if s["automation_id"] is None or s["created_at"] < since:
            continue
        label = labels.get(s["reason_code"], s["reason_code"])
        counts = reasons.setdefault(s["automation_id"], {})
        counts[label] = counts.get(label, 0) + 1
        if s["reason_code"] == NOISE:
            suppressed_noise[s["automation_id"]] = suppressed_noise.get(s["automation_id"], 0) + 1
            noisy.setdefault(s["automation_id"], set()).add(s["item_id"] or f"s{s['object_id']}")
    result = []
    for automation in automations:
        pk = automation.pk
        n = listed.get(pk, 0)
        noisy_n = len(noisy.get(pk, ()))
        result.append(
            PolicyNoise(
                automation_id=pk,
                name=automation.name,
                policy=(automation.config or {}).get("policy", ""),
                mode=automation.get_mode_display(),
                items=n,
                dismissed_noise=dismissed.get(pk, 0),
                suppressed_noise=suppressed_noise.get(pk, 0),
                suppressions=reasons.get(pk, {}),
                noisy_items=noisy_n,
                rate=min(1.0, noisy_n / n) if n else None,
            )
        )
    return result
