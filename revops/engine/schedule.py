"""Scheduled automations and the registry's own chores (review reminders).

A scheduled automation runs every ``schedule_minutes`` over the records matching its conditions.
Time is cut into slots (``slot = floor(now / period)``) and each record's run is keyed
``schedule:<slot>:<object id>``, so the every-minute tick evaluates a record at most once per
slot however often it fires, and a tick that died half-way is finished by the next one.

Conditions with an ORM form select the records in SQL. Those without one (a computed field, or an
event operator) select in SQL by their SQL-able part (``conditions.candidates_q``); when they read
computed fields, the candidates are then checked in Python a chunk at a time (each computed field
computed once per chunk), so only matching records get a run, as with a pure SQL selection.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.core.cache import cache
from django.utils import timezone

from exceptions.services import exception_item_open
from revops import conditions
from revops.models import Automation, AutomationPass, AutomationRun

from .context import BatchCache
from .pause import automation_pause_state, pause_all_state
from .pipeline import ACTIVE_MODES, _finished, active_rules, load_records, run_rule

logger = logging.getLogger(__name__)

CHUNK = 500
MAX_RECORDS_PER_SLOT = 50_000


def schedule_slot(*, minutes: int, now: dt.datetime) -> int:
    """The slot ``now`` falls in for a period of ``minutes``."""
    return int(now.timestamp() // (minutes * 60))


def run_scheduled_automations(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Evaluate every live/shadow scheduled automation over its matching records for the current slot.

    Returns runs evaluated per automation name. Records already evaluated in this slot are skipped.
    """
    now = now or timezone.now()
    object_types = Automation.objects.filter(mode__in=ACTIVE_MODES, trigger=Automation.Trigger.SCHEDULE).values_list(
        "object_type", flat=True
    )
    rules = active_rules(set(object_types), schedule=True)
    switch = pause_all_state()
    done: dict[str, int] = {}
    for object_type, object_rules in rules.items():
        for rule in object_rules:
            if not rule.automation.schedule_minutes:
                continue
            if automation_pause_state(rule.automation, switch) is not None:
                continue  # paused: no pass now; the first pass after the resume covers the matching records
            try:
                done[rule.automation.name] = _run_slot(rule, object_type, now)
            except Exception:
                logger.exception("scheduled automation %s failed", rule.automation.name)
    return done


def _run_slot(rule, object_type: str, now: dt.datetime) -> int:
    slot = schedule_slot(minutes=rule.automation.schedule_minutes, now=now)
    marker = f"engine:schedule:{rule.version.pk}:{slot}:done"
    if cache.get(marker):
        return 0
    from revops.selectors import record_model

    model = record_model(object_type)
    tree = rule.version.conditions or {"all": []}
    in_python = False
    try:
        q = conditions.to_q(tree, object_type=object_type, now=now)
    except conditions.ConditionNotQueryable:
        q = conditions.candidates_q(tree, object_type=object_type, now=now)
        in_python = bool(getattr(rule.predicate, "computed", ()))
    selected = model.objects.all() if q is None else model.objects.filter(q)
    ids = list(selected.order_by("pk").values_list("pk", flat=True)[:MAX_RECORDS_PER_SLOT])
    prefix = f"schedule:{slot}:"
    finished = {
        run.object_id
        for run in AutomationRun.objects.filter(version=rule.version, trigger_key__startswith=prefix).only(
            "object_id", "outcome", "attempts"
        )
        if _finished(run)
    }
    todo = [pk for pk in ids if pk not in finished]
    count, pending = 0, False
    batch_cache = BatchCache()
    for start in range(0, len(todo), CHUNK):
        records = load_records(object_type, todo[start : start + CHUNK])
        contexts = {}
        if in_python:
            contexts = {
                ctx.record.pk: ctx
                for ctx in conditions.batch_contexts(records.values(), predicate=rule.predicate, now=now)
            }
        for pk in todo[start : start + CHUNK]:
            record = records.get(pk)
            if record is None:
                continue
            ctx = contexts.get(pk)
            if in_python and not rule.predicate(ctx):
                continue  # what a SQL selection would have left out
            status, _run = run_rule(
                rule, record, trigger_key=f"{prefix}{pk}", now=now, cache=batch_cache, condition_context=ctx
            )
            pending = pending or status == "retry"
            count += 1
    if not pending:
        period = rule.automation.schedule_minutes * 60
        cache.set(marker, 1, timeout=period + 60)
        AutomationPass.objects.update_or_create(automation_id=rule.automation.pk, defaults={"finished_at": now})
    return count


def automation_review_overdue_open(*, today: dt.date | None = None) -> int:
    """Open (or refresh) a ``review_overdue`` item for each active automation past its review date.

    Due means ``last_reviewed_at`` (or the creation date, if never reviewed) plus
    ``review_cadence_days`` is before ``today``. The rule owner gets the item.
    """
    today = today or timezone.localdate()
    count = 0
    for automation in Automation.objects.filter(mode__in=ACTIVE_MODES).select_related("rule_owner"):
        reviewed = automation.last_reviewed_at or timezone.localdate(automation.created_at)
        due = reviewed + dt.timedelta(days=automation.review_cadence_days)
        if due >= today:
            continue
        exception_item_open(
            dedupe_key=f"review_overdue:automation:{automation.pk}",
            kind="review_overdue",
            title=f"Review {automation.name} (due {due.isoformat()})",
            reason=(
                f"{automation.name} runs {automation.mode} and was last reviewed "
                f"{automation.last_reviewed_at.isoformat() if automation.last_reviewed_at else 'never'}; "
                f"its review cadence is {automation.review_cadence_days} days, so a review was due {due.isoformat()}."
            ),
            expected_action="Check the rule still matches the agreed process, then set 'last reviewed' to today.",
            owner=automation.rule_owner,
            severity="low",
            queue_name=automation.exception_queue,
            automation=automation,
            object_type="automation",
            object_id=automation.pk,
        )
        count += 1
    return count
