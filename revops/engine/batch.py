"""Batch drivers: a kind that can run many records in one transaction (``run_batch``).

The pipeline runs one transaction per run (``pipeline.run_rule``). A kind may also offer
``run_batch(rule, items, *, now, cache) -> dict[event id, run outcome]``: the pipeline hands it the
(event, record) pairs of one batch that trigger one live automation, in chunks of at most
``ENGINE_BATCH_SIZE``, and skips the runs it reports. A driver may settle only the first records of
a chunk (it stops after ``ENGINE_BATCH_MS`` of work); the pipeline hands the rest over again. Routing uses it to route a backfill's leads
many per transaction under the pools' locks, with set-based writes (``routing.bulk``). A batch that
raises is rolled back as a whole and its events go through the one-run path, which records errors
with their attempts as usual.

This module holds what every batch driver needs from the engine: the run rows claimed in bulk
(created, locked, finished ones left out), the evaluation context, and the runs written back in one
statement.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.utils import timezone

from revops import conditions
from revops.bulk_writes import bulk_update_audited
from revops.models import AutomationRun

from .context import BatchCache, EvalContext

BATCH_MIN = 2  # fewer events than this take the one-run path
MAX_ATTEMPTS = 4  # a run's first try and three retries (the outbox jobs' rq.Retry(max=3))


def batch_size() -> int:
    """Records per batch transaction at most: a pool's lock is held for one chunk, so keep chunks short."""
    return max(int(getattr(settings, "ENGINE_BATCH_SIZE", 400)), BATCH_MIN)


def batch_seconds() -> float:
    """How long a batch driver may work in one transaction before it commits what it has done (the rest
    goes in the next chunk): bounds how long a lock the one-run path needs is held."""
    return int(getattr(settings, "ENGINE_BATCH_MS", 400)) / 1000


HOT_CHECK_SECONDS = 0.05  # how often a bulk chunk asks whether the hot lane needs it to commit


def _in_bulk_job() -> bool:
    """Whether this code runs in a job of a lane other than the hot one (a hot job, a test or a direct
    call never yields to the hot lane: it would see itself there)."""
    from rq import get_current_job

    from revops.outbox import QUEUE

    job = get_current_job()
    return job is not None and job.origin != QUEUE


class ChunkBudget:
    """When a batch driver commits what it has done: after ``ENGINE_BATCH_MS`` of work, or, in a bulk
    job, as soon as a job runs on the hot lane (it may wait for a lock the chunk holds).
    The hot lane is asked at most every ``HOT_CHECK_SECONDS``, so the question costs little."""

    def __init__(self):
        self.began = self.checked = time.perf_counter()
        self.budget = batch_seconds()
        self.yields = _in_bulk_job()
        self.reason = ""

    def spent(self) -> bool:
        """True once the chunk should stop and commit (``reason`` says why: "time" or "hot lane")."""
        now = time.perf_counter()
        if now - self.began > self.budget:
            self.reason = "time"
            return True
        if self.yields and now - self.checked >= HOT_CHECK_SECONDS:
            from revops.outbox import hot_lane_running

            self.checked = now
            if hot_lane_running():
                self.reason = "hot lane"
                return True
        return False


def yield_to_hot_lane() -> float:
    """Before a bulk chunk: wait while jobs a person is waiting for queue on the hot lane, up to
    ``ENGINE_BULK_YIELD_MS`` (so bulk work is slowed, never stopped); seconds waited. Only in a job
    of another lane: a hot job, a test or a direct call never waits."""
    from revops.outbox import hot_lane_waiting

    if not _in_bulk_job():
        return 0.0
    budget = int(getattr(settings, "ENGINE_BULK_YIELD_MS", 2000)) / 1000
    began = time.perf_counter()
    while time.perf_counter() - began < budget and hot_lane_waiting():
        time.sleep(0.02)
    return time.perf_counter() - began


@dataclass
class Claimed:
    """One (event, record) of a batch with its run row, locked by the batch's transaction."""

    event: object
    record: object
    run: AutomationRun
    rule: object = None
    started: float = field(default_factory=time.perf_counter)


def run_fields(rule, record, *, event, trigger_key: str) -> dict:
    """What names a run of ``rule`` on ``record``: its automation and version, event, trigger key, mode,
    and the record; every path that creates run rows starts from these."""
    automation = rule.automation
    return {
        "automation": automation,
        "version": rule.version,
        "event": event,
        "trigger_key": trigger_key,
        "mode": automation.mode,
        "object_type": automation.object_type,
        "object_id": record.pk,
        "external_id": getattr(record, "external_id", "") or "",
    }


def runs_claim(rule, items) -> tuple[list[Claimed], dict[int, str]]:
    """Create the runs of ``items`` ((event, record) pairs) that do not exist yet and lock them all; call
    inside the batch's transaction. Returns the runs to do, and the outcome by event id of those an
    earlier delivery finished (left out).

    The new rows come back from the insert itself (they are this transaction's until it commits);
    only the runs that already existed (an earlier delivery, a chunk cut short) are read and locked."""
    keys = {f"event:{event.pk}": (event, record) for event, record in items}
    new = {
        key: AutomationRun(**run_fields(rule, record, event=event, trigger_key=key))
        for key, (event, record) in keys.items()
    }
    inserted = _runs_insert(list(new.values()))
    claimed, finished = [], {}
    for key, pk in inserted.items():
        run = new[key]
        run.pk, run._state.adding, run._state.db = pk, False, DEFAULT_DB_ALIAS
        claimed.append(Claimed(event=keys[key][0], record=keys[key][1], run=run, rule=rule))
    existing = [key for key in keys if key not in inserted]
    if existing:
        runs = (
            AutomationRun.objects.select_for_update()
            .filter(Q(version=rule.version) & Q(trigger_key__in=existing))
            .order_by("pk")
        )
        for run in runs:
            event, record = keys[run.trigger_key]
            done = run.outcome in (AutomationRun.Outcome.FIRED, AutomationRun.Outcome.NOT_FIRED)
            if done or (run.outcome == AutomationRun.Outcome.ERROR and run.attempts >= MAX_ATTEMPTS):
                finished[event.pk] = run.outcome
                continue
            claimed.append(Claimed(event=event, record=record, run=run, rule=rule))
    claimed.sort(key=lambda c: c.event.pk)
    return claimed, finished


def _runs_insert(runs: list[AutomationRun]) -> dict[str, int]:
    """Insert ``runs``, skipping those whose (version, trigger key) exists; the new rows' ids by trigger
    key; none where the database cannot return the rows of such an insert (SQLite before 3.35): the
    caller then reads them all back, as runs that existed."""
    if not connection.features.can_return_rows_from_bulk_insert:
        AutomationRun.objects.bulk_create(runs, ignore_conflicts=True)
        return {}
    if not runs:
        return {}
    meta = AutomationRun._meta
    fields = [f for f in meta.concrete_fields if not f.generated and f is not meta.pk]
    returning = [meta.pk, meta.get_field("trigger_key")]
    size = connection.ops.bulk_batch_size(fields, runs) or len(runs)
    inserted: dict[str, int] = {}
    for start in range(0, len(runs), size):
        rows = AutomationRun.objects._insert(
            runs[start : start + size], fields=fields, returning_fields=returning, on_conflict=OnConflict.IGNORE
        )
        # A statement of one row that already existed returns nothing, which Django reads as [None].
        inserted.update((row[1], row[0]) for row in rows if row is not None)
    return inserted


def evaluation_context(
    rule, record, *, now, event, cache: BatchCache | None, condition_context=None, options=None, fields=None
) -> EvalContext:
    """The context a kind's ``evaluate`` gets (the one-run path builds it here too); ``fields``: the
    data dictionary a batch read once."""
    return EvalContext(
        rule.automation,
        rule.version,
        rule.automation.object_type,
        record,
        now,
        event.changes if event is not None else None,
        event,
        fields if fields is not None else conditions.load_fields(),
        cache,
        condition_context,
        options,
    )


def rule_outcome(rule, record, *, now, event=None, cache=None, condition_context=None, options=None, fields=None):
    """What ``rule``'s kind decides for ``record``: its ``Outcome`` (kinds never write).

    A kind that is ``gated`` fires only when the rule's conditions hold: the engine decides with the
    compiled predicate on the event's shared condition context, checking every condition in the same
    pass (``predicate.judge``), and, when it does not fire, asks the kind's ``not_fired`` for the
    outcome, with no evaluation context built; when it fires, a kind that says its outcome from the
    conditions checked (``fire_checked``) does so, again with no context. Anything else goes through the kind's
    ``evaluate`` (a gated one with the conditions already checked, ``EvalContext.judged``).
    """
    kind = rule.kind
    checked = None
    if kind.gated:
        if condition_context is None:
            changes = event.changes if event is not None else None
            condition_context = conditions.Context(record, changes=changes, now=now)
        matched, checked = rule.predicate.judge(condition_context)
        if not matched:
            if kind.not_fired_takes_checked:
                return kind.not_fired(rule.predicate, condition_context, checked)
            return kind.not_fired(rule.predicate, condition_context)
        if kind.fires_checked:
            return kind.fire_checked(
                rule, record, checked, fields=fields if fields is not None else conditions.load_fields()
            )
    context = evaluation_context(
        rule,
        record,
        now=now,
        event=event,
        cache=cache,
        condition_context=condition_context,
        options=options,
        fields=fields,
    )
    if checked is not None:
        context.judged = (rule.predicate, checked)
    return kind.evaluate(record, version=rule.version, predicate=rule.predicate, context=context)


def run_reason(rule, run) -> str:
    """The history reason of what a run changes (as ``pipeline.run_reason``)."""
    return f"automation {rule.automation.name} v{rule.version.number}, run {run.pk}"


def run_finish(claimed: Claimed, outcome, *, applied: list[dict]) -> None:
    """Fill ``claimed.run`` with ``outcome`` and what was applied (written by ``runs_write``)."""
    run = claimed.run
    run.attempts += 1
    run.started_at = timezone.now()
    run.mode = claimed.rule.automation.mode
    run.outcome = AutomationRun.Outcome.FIRED if outcome.fired else AutomationRun.Outcome.NOT_FIRED
    run.summary = outcome.summary
    run.expected_next = outcome.expected_next
    run.explanation = outcome.explanation
    actions = outcome.actions if outcome.fired else []
    run.actions_planned = [{"type": a.type, "params": a.params} for a in actions]
    run.actions_applied = applied
    run.error = ""
    run.finished_at = timezone.now()
    run.duration_ms = round((time.perf_counter() - claimed.started) * 1000, 3)


RUN_FIELDS = [
    "attempts",
    "started_at",
    "outcome",
    "summary",
    "expected_next",
    "explanation",
    "actions_planned",
    "actions_applied",
    "error",
    "finished_at",
    "duration_ms",
    "mode",
]


def runs_write(runs: list[AutomationRun]) -> None:
    """Write the finished runs of a batch in one statement (runs have no history)."""
    bulk_update_audited(model=AutomationRun, objs=runs, fields=RUN_FIELDS)
