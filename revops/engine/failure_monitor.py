"""Failure monitoring: the ways automation fails silently, each raised as an item for a person.

``automation_failures_check`` (every 15 minutes on the default lane) opens — or refreshes, one open
item per problem — an item when:

* a live or shadow **scheduled automation did not run on time**: its last finished pass
  (``AutomationPass``) is older than twice its period plus ``LATE_GRACE`` (or it never finished one
  that long after it was switched on) — for its failure owner;
* **the CRM has sent nothing** for ``CRM_SILENCE_HOURS`` (default 24; 0 switches it off) since its
  last sync batch, once it has sent any — for RevOps;
* an automation's **alert volume jumps**: the items it opened in the last 24 hours are at least
  ``SPIKE_FACTOR`` times its daily average over the 7 days before, and at least ``SPIKE_MIN`` — for
  its rule owner (an automation younger than those eight days has no baseline and is left alone);
* its **error rate jumps**: at least ``SPIKE_MIN`` failed runs in the last 24 hours and a share of
  failed runs at least ``SPIKE_FACTOR`` times the week before's (or a tenth when it had none);
* it **ran twice for one event**: two fired runs of one automation share a trigger (the database allows
  one per rule version, so this happens when the rule changed between two deliveries of one event,
  or a delivery bypassed the check) — for its failure owner, naming the record.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.services import exception_item_open
from revops.models import Automation, AutomationPass, AutomationRun, SyncBatch
from revops.values import datetime_text

ACTIVE = (Automation.Mode.LIVE, Automation.Mode.SHADOW)
LATE_GRACE = dt.timedelta(minutes=10)
SPIKE_FACTOR = 3
SPIKE_MIN = 10
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)

KINDS = (
    (
        "automation_late",
        "Scheduled automation did not run",
        "high",
        "Check the workers and the scheduler (admin → RQ, /healthz), then the automation.",
    ),
    ("crm_silent", "CRM sync silent", "high", "Check the CRM's integration: its job, its token, its errors."),
    (
        "automation_spike",
        "Automation alert or error spike",
        "medium",
        "Check what changed: the data, the rule or a broken integration.",
    ),
    (
        "automation_twice",
        "Automation ran twice for one event",
        "high",
        "Check the record for a double effect and undo it; tell the portal's maintainers.",
    ),
)


def _owner(automation: Automation, *, failure: bool):
    return (automation.failure_owner if failure else None) or automation.rule_owner


def _open(automation, kind: str, key: str, title: str, reason: str, *, failure: bool, **extra) -> None:
    exception_item_open(
        dedupe_key=f"{kind}:{key}",
        kind=kind,
        title=title[:200],
        reason=reason,
        owner=_owner(automation, failure=failure),
        automation=automation,
        **({"object_type": "automation", "object_id": automation.pk} | extra),
    )


def _late(now: dt.datetime) -> int:
    opened = 0
    passes = dict(AutomationPass.objects.values_list("automation_id", "finished_at"))
    for automation in Automation.objects.filter(
        mode__in=ACTIVE, trigger=Automation.Trigger.SCHEDULE, schedule_minutes__gt=0, paused_at__isnull=True
    ).select_related("rule_owner", "failure_owner"):
        allowed = 2 * dt.timedelta(minutes=automation.schedule_minutes) + LATE_GRACE
        last = passes.get(automation.pk)
        since = last or automation.updated_at
        if since >= now - allowed:
            continue
        when = datetime_text(last) if last else "never"
        _open(
            automation,
            "automation_late",
            str(automation.pk),
            f"{automation.name} did not run on time",
            f"{automation.name} runs every {automation.schedule_minutes} minutes; its last finished pass: {when}. "
            "The workers or the scheduler may be down, or a pass keeps failing.",
            failure=True,
        )
        opened += 1
    return opened


def _crm_silent(now: dt.datetime) -> int:
    hours = int(getattr(settings, "CRM_SILENCE_HOURS", 24))
    if hours <= 0:
        return 0
    last = SyncBatch.objects.aggregate(last=Max("received_at"))["last"]
    if last is None or last >= now - dt.timedelta(hours=hours):
        return 0
    exception_item_open(
        dedupe_key="crm_silent",
        kind="crm_silent",
        title=f"The CRM has sent nothing for {hours} hours",
        reason=(
            f"The last sync batch arrived {datetime_text(last)}; nothing since. "
            "Automations only see what the CRM sends: until it syncs again, new leads are not routed."
        ),
    )
    return 1


def _spikes(now: dt.datetime) -> int:
    opened = 0
    day_start, week_start = now - DAY, now - DAY - WEEK
    items = {
        row["automation"]: row
        for row in ExceptionItem.objects.filter(automation__isnull=False, first_seen_at__gte=week_start)
        .values("automation")
        .annotate(
            today=Count("pk", filter=Q(first_seen_at__gte=day_start)),
            before=Count("pk", filter=Q(first_seen_at__lt=day_start)),
        )
    }
    runs = {
        row["automation"]: row
        for row in AutomationRun.objects.filter(created_at__gte=week_start)
        .values("automation")
        .annotate(
            today=Count("pk", filter=Q(created_at__gte=day_start)),
            errors=Count("pk", filter=Q(created_at__gte=day_start, outcome=AutomationRun.Outcome.ERROR)),
            before=Count("pk", filter=Q(created_at__lt=day_start)),
            errors_before=Count("pk", filter=Q(created_at__lt=day_start, outcome=AutomationRun.Outcome.ERROR)),
        )
    }
    # A jump needs a baseline: an automation switched on less than eight days ago has none yet.
    for automation in Automation.objects.filter(
        pk__in=set(items) | set(runs), mode__in=ACTIVE, created_at__lte=week_start
    ).select_related("rule_owner", "failure_owner"):
        reasons = []
        row = items.get(automation.pk)
        if row:
            daily = row["before"] / 7
            if row["today"] >= SPIKE_MIN and row["today"] >= SPIKE_FACTOR * daily:
                reasons.append(
                    f"it opened {row['today']} items in the last 24 hours against {daily:.1f} a day the week before"
                )
        row = runs.get(automation.pk)
        if row and row["errors"] >= SPIKE_MIN:
            rate = row["errors"] / row["today"]
            before = row["errors_before"] / row["before"] if row["before"] else 0
            if rate >= max(SPIKE_FACTOR * before, 0.1):
                reasons.append(
                    f"{row['errors']} of its {row['today']} runs in the last 24 hours failed ({rate:.0%}; "
                    f"{before:.0%} the week before)"
                )
        if reasons:
            _open(
                automation,
                "automation_spike",
                str(automation.pk),
                f"{automation.name}: {'alerts' if 'opened' in reasons[0] else 'errors'} jumped",
                f"{automation.name} changed behaviour: " + "; ".join(reasons) + ".",
                failure=False,
            )
            opened += 1
    return opened


def _twice(now: dt.datetime) -> int:
    opened = 0
    doubles = (
        AutomationRun.objects.filter(created_at__gte=now - DAY - WEEK, outcome=AutomationRun.Outcome.FIRED)
        .values("automation", "trigger_key")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    for row in doubles:
        runs = list(
            AutomationRun.objects.filter(
                automation_id=row["automation"], trigger_key=row["trigger_key"], outcome=AutomationRun.Outcome.FIRED
            )
            .select_related("automation", "automation__rule_owner", "automation__failure_owner")
            .order_by("pk")
        )
        automation, first = runs[0].automation, runs[0]
        _open(
            automation,
            "automation_twice",
            f"{automation.pk}:{row['trigger_key']}",
            f"{automation.name} ran {len(runs)} times for one event",
            f"Runs {', '.join(f'#{r.pk} (rule version {r.version_id}, {r.get_outcome_display().lower()})' for r in runs)} "
            f"of {automation.name} share one trigger ({row['trigger_key']}) on {first.object_type} "
            f"{first.external_id or first.object_id}: the record may have been changed twice.",
            failure=True,
            object_type=first.object_type,
            object_id=first.object_id,
            external_id=first.external_id,
        )
        opened += 1
    return opened


def automation_failures_check(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Run every monitor (see the module docstring); the items opened or refreshed per monitor."""
    now = now or timezone.now()
    return {"late": _late(now), "crm_silent": _crm_silent(now), "spikes": _spikes(now), "twice": _twice(now)}
