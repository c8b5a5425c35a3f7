"""The pipeline: outbox events → automations selected by trigger → kinds → runs → actions.

``engine_process_events`` is what the outbox jobs call. For each pending event it evaluates every
live or shadow automation whose trigger matches, one run per (automation version, trigger key).

Exactly-once effects, even when a job is delivered twice or a worker dies mid-batch:

1. The run row is created first (``get_or_create`` on the unique (version, trigger_key)).
2. Evaluation, actions and the run's result commit in ONE transaction that starts by locking
   the run row. A second worker on the same run waits for the lock, then finds it finished and
   skips it; a killed worker's transaction rolls back and leaves the run ``pending`` for the
   next delivery (the sweeper re-enqueues it).
3. Events are marked processed with a compare-and-swap once all their runs are finished.

Failures: a kind or action that raises rolls its run's transaction back; the run is then stored
as ``error`` with the traceback and its attempt count, the event stays pending and the job raises
``EngineRetry`` so RQ retries it with backoff. After ``MAX_ATTEMPTS`` the run is final: an
``automation_failed`` exception item goes to the automation's failure owner and the event is
marked ``failed``.

Changes an automation makes do not emit outbox events themselves, so automations cannot trigger
each other in loops; they reach the CRM through the changes feed.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from exceptions.services import exception_item_open
from revops import conditions
from revops.audit import audited
from revops.models import Automation, AutomationRun, AutomationVersion, OutboxEvent
from revops.selectors import record_model

from .actions import ActionExecutor
from .batch import MAX_ATTEMPTS, evaluation_context, rule_outcome, run_fields
from .context import SELECT_RELATED, BatchCache
from .hooks import run_event_hooks
from .kinds import get_kind
from .pause import Pause, automation_pause_state, hold_events, pause_all_state
from .types import Outcome

logger = logging.getLogger(__name__)

ACTIVE_MODES = (Automation.Mode.LIVE, Automation.Mode.SHADOW)
STAGE_KEYS = ("status", "stage")


class EngineRetry(Exception):
    """Raised at the end of a job whose runs failed and will be retried (RQ retries the job)."""


@dataclass
class EngineResult:
    """What one ``engine_process_events`` call did (counts by run status, events by final status)."""

    runs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)


@dataclass
class Rule:
    """An automation with its current version, kind and compiled predicate (loaded once per batch)."""

    automation: Automation
    version: AutomationVersion
    kind: object
    predicate: conditions.Predicate


def compiled_predicate(version: AutomationVersion, object_type: str, fields) -> conditions.Predicate:
    """The version's predicate, compiled once per process (and again only if the dictionary changes)."""
    return conditions.compile_cached(
        ("version", version.pk), version.conditions or {"all": []}, object_type=object_type, fields=fields
    )


def is_triggered(automation: Automation, event: OutboxEvent) -> bool:
    """Whether ``event`` matches ``automation``'s trigger."""
    trigger = automation.trigger
    if event.kind not in ("created", "updated"):
        return False
    if trigger == Automation.Trigger.CREATED:
        return event.kind == "created"
    if trigger == Automation.Trigger.UPDATED:
        return True
    if trigger == Automation.Trigger.FIELD_CHANGED:
        return bool(set(automation.trigger_fields or ()) & set(event.changed_fields or ()))
    if trigger == Automation.Trigger.STAGE_CHANGED_TO:
        for key in STAGE_KEYS:
            pair = (event.changes or {}).get(key)
            if pair and len(pair) == 2 and pair[1] == automation.trigger_value and pair[0] != pair[1]:
                return True
        return False
    return False


def active_rules(object_types, *, schedule: bool = False, automation_ids=None) -> dict[str, list[Rule]]:
    """Live and shadow automations for ``object_types`` with their current versions, by object type."""
    qs = Automation.objects.filter(mode__in=ACTIVE_MODES, object_type__in=list(object_types)).select_related(
        "identity", "failure_owner", "rule_owner", "paused_by"
    )
    qs = qs.filter(trigger=Automation.Trigger.SCHEDULE) if schedule else qs.exclude(trigger=Automation.Trigger.SCHEDULE)
    if automation_ids is not None:
        qs = qs.filter(pk__in=list(automation_ids))
    automations = list(qs.order_by("name"))
    versions = {
        v.automation_id: v
        for v in AutomationVersion.objects.filter(automation__in=automations, number=F("automation__version"))
    }
    fields = conditions.load_fields()
    rules: dict[str, list[Rule]] = defaultdict(list)
    for automation in automations:
        version = versions.get(automation.pk)
        if version is None:
            continue
        try:
            kind = get_kind(automation.kind)
            predicate = compiled_predicate(version, automation.object_type, fields)
        except Exception:
            logger.exception("automation %s cannot be loaded", automation.name)
            kind, predicate = None, None
        rules[automation.object_type].append(Rule(automation, version, kind, predicate))
    for listed in rules.values():
        listed.sort(key=lambda rule: (getattr(rule.kind, "run_order", 100), rule.automation.name))
    return rules


def load_records(object_type: str, ids) -> dict:
    """Records by pk with the relations conditions and kinds read already joined."""
    model = record_model(object_type)
    related = [name for name in SELECT_RELATED.get(object_type, ()) if _has_path(model, name)]
    return model.objects.select_related(*related).in_bulk(list(ids))


def _has_path(model, path: str) -> bool:
    for part in path.split("__"):
        try:
            model = model._meta.get_field(part).related_model
        except Exception:
            return False
        if model is None:
            return False
    return True


def _finished(run: AutomationRun) -> bool:
    if run.outcome in (AutomationRun.Outcome.FIRED, AutomationRun.Outcome.NOT_FIRED):
        return True
    return run.outcome == AutomationRun.Outcome.ERROR and run.attempts >= MAX_ATTEMPTS


def run_reason(automation: Automation, version: AutomationVersion, run: AutomationRun) -> str:
    """The history reason of everything a run changes."""
    return f"automation {automation.name} v{version.number}, run {run.pk}"


def run_rule(
    rule: Rule,
    record,
    *,
    trigger_key: str,
    now,
    event: OutboxEvent | None = None,
    cache: BatchCache | None = None,
    condition_context: conditions.Context | None = None,
    options: dict | None = None,
    evaluated: Outcome | None = None,
    fields=None,
    feed: list | None = None,
) -> tuple[str, AutomationRun]:
    """Evaluate one rule on one record and apply its outcome; return (status, run).

    ``evaluated``: the outcome the batch already computed for a kind without ``record_outcome``
    (``quiet_outcome``), applied instead of evaluating again.

    ``options`` reach the kind as ``context.options`` (direct calls such as a re-route use them).
    A kind with a ``record_outcome(run=, outcome=, applied=, context=)`` method gets it called
    after its actions, in the same transaction (routing writes its decision record there).

    Status is ``done`` (finished now or earlier), ``retry`` (failed, will be retried) or
    ``failed`` (failed for the last time; the failure owner has an exception item).
    """
    automation, version = rule.automation, rule.version
    object_type = automation.object_type
    named = run_fields(rule, record, event=event, trigger_key=trigger_key)
    run, _created = AutomationRun.objects.get_or_create(
        version=named.pop("version"), trigger_key=named.pop("trigger_key"), defaults=named
    )
    if _finished(run):
        return "done", run
    started = time.perf_counter()
    seen = {"owner_id": getattr(record, "owner_id", None)}
    try:
        with transaction.atomic():
            run = AutomationRun.objects.select_for_update().get(pk=run.pk)
            if _finished(run):
                return "done", run
            run.attempts += 1
            run.started_at = timezone.now()
            run.mode = automation.mode
            if rule.kind is None:
                raise RuntimeError(f"automation kind {automation.kind!r} is not available or its rule does not compile")
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
            outcome = evaluated or rule.kind.evaluate(
                record, version=version, predicate=rule.predicate, context=context
            )
            if not isinstance(outcome, Outcome):
                raise TypeError(f"{automation.kind} returned {type(outcome).__name__}, not an Outcome")
            run.outcome = AutomationRun.Outcome.FIRED if outcome.fired else AutomationRun.Outcome.NOT_FIRED
            run.summary = outcome.summary
            run.expected_next = outcome.expected_next
            run.explanation = outcome.explanation
            actions = outcome.actions if outcome.fired else []
            run.actions_planned = [{"type": a.type, "params": a.params} for a in actions]
            executor = ActionExecutor(
                run=run,
                automation=automation,
                version=version,
                record=record,
                object_type=object_type,
                mode=automation.mode,
                seen=seen,
            )
            applied, rows = [], []
            with audited(actor=automation.identity, reason=run_reason(automation, version, run)):
                for index, action in enumerate(actions):
                    row = executor.execute(index, action)
                    rows.append(row)
                    applied.append({"index": index, "type": row.action, "status": row.status, **_note(row)})
                run.actions_applied = applied
                record_outcome = getattr(rule.kind, "record_outcome", None)
                if record_outcome is not None:
                    record_outcome(run=run, outcome=outcome, applied=rows, context=context)
                run.error = ""
                run.finished_at = timezone.now()
                run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
                run.save()
                if feed is None:
                    executor.write_feed()
                else:  # a batch driver writes its chunk's feed last, in order
                    feed.extend({**entry, "reason": executor.reason} for entry in executor.feed)
        if executor.touched_record:
            record.refresh_from_db()
        return "done", run
    except Exception as exc:
        return _record_failure(rule, run, record, exc, started)


def quiet_outcome(rule: Rule, record, *, now, event, cache, condition_context, fields=None) -> Outcome | None:
    """Evaluate ``rule`` without a run row first: the outcome, or None when the full path must run
    it (a kind with ``record_outcome``, which writes even when it does not fire; an error).

    Kinds never write (``revops.engine.kinds``), so an outcome that did not fire needs nothing but
    its run row, which the batch writes with the others in one statement (``_write_quiet``).
    """
    if rule.kind is None or getattr(rule.kind, "record_outcome", None) is not None:
        return None
    try:
        outcome = rule_outcome(
            rule, record, now=now, event=event, cache=cache, condition_context=condition_context, fields=fields
        )
    except Exception:
        return None  # the full path evaluates again and records the error with its attempts
    return outcome if isinstance(outcome, Outcome) else None


def _quiet_run(rule: Rule, record, event: OutboxEvent, outcome: Outcome, started: float) -> AutomationRun:
    moment = timezone.now()
    return AutomationRun(
        **run_fields(rule, record, event=event, trigger_key=f"event:{event.pk}"),
        outcome=AutomationRun.Outcome.NOT_FIRED,
        summary=outcome.summary,
        expected_next=outcome.expected_next,
        explanation=outcome.explanation,
        actions_planned=[],
        actions_applied=[],
        attempts=1,
        started_at=moment,
        finished_at=moment,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _write_quiet(runs: list[AutomationRun]) -> None:
    """The batch's did-not-fire runs in one statement; a run a duplicate delivery already wrote
    (same version and trigger key) is skipped by the unique constraint."""
    if runs:
        AutomationRun.objects.bulk_create(runs, batch_size=2000, ignore_conflicts=True)


def _note(row) -> dict:
    note = (row.after or {}).get("note")
    return {"note": note} if note else {}


def _record_failure(
    rule: Rule, run: AutomationRun, record, exc: Exception, started: float
) -> tuple[str, AutomationRun]:
    automation = rule.automation
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
    logger.warning("automation %s failed on %s %s: %s", automation.name, run.object_type, run.object_id, exc)
    with transaction.atomic():
        run = AutomationRun.objects.select_for_update().get(pk=run.pk)
        if _finished(run):
            return "done", run
        run.attempts += 1
        run.outcome = AutomationRun.Outcome.ERROR
        run.error = f"{type(exc).__name__}: {exc}\n\n{text}"
        run.actions_applied = []
        run.finished_at = timezone.now()
        run.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        run.save()
        if run.attempts < MAX_ATTEMPTS:
            return "retry", run
        automation_failure_open(run=run, automation=automation, error=f"{type(exc).__name__}: {exc}")
    return "failed", run


def automation_failure_open(*, run: AutomationRun, automation: Automation, error: str):
    """Tell the failure owner that ``run`` failed for good (one open item per automation and record)."""
    return exception_item_open(
        dedupe_key=f"automation_failed:{automation.pk}:{run.object_type}:{run.object_id}",
        kind="automation_failed",
        title=f"{automation.name} failed on {run.object_type} {run.external_id or run.object_id}",
        reason=(
            f"Automation {automation.name!r} v{run.version.number} failed {run.attempts} times on "
            f"{run.object_type} {run.external_id or run.object_id} (run {run.pk}): {error}"
        ),
        expected_action="Fix the automation's configuration or the record, then re-run or dismiss.",
        owner=automation.failure_owner,
        severity="high",
        queue_name=automation.exception_queue,
        automation=automation,
        run=run,
        object_type=run.object_type,
        object_id=run.object_id,
        external_id=run.external_id,
    )[0]


def engine_process_events(*, event_ids, now=None) -> EngineResult:
    """Run the automations triggered by the pending events ``event_ids``; raise ``EngineRetry`` to be retried.

    Safe to call any number of times with the same ids: finished runs are skipped and events are
    consumed with a compare-and-swap. Records are loaded once per batch with their relations.
    """
    result = EngineResult()
    events = list(OutboxEvent.objects.filter(pk__in=list(event_ids), status=OutboxEvent.Status.PENDING).order_by("pk"))
    if not events:
        return result
    OutboxEvent.objects.filter(pk__in=[e.pk for e in events], status=OutboxEvent.Status.PENDING).update(
        attempts=F("attempts") + 1
    )
    run_event_hooks(events, now=now)
    by_type: dict[str, set[int]] = defaultdict(set)
    for event in events:
        by_type[event.object_type].add(event.object_id)
    rules = active_rules(by_type)
    records = {ot: load_records(ot, ids) for ot, ids in by_type.items() if rules.get(ot)}
    paused = _paused_rules(rules)
    held = _hold_paused(events, rules, records, paused)
    cache = BatchCache()
    fields = conditions.load_fields()  # the dictionary, read once for the batch's runs
    batched = _run_batches(events, rules, records, paused, held, now=now, cache=cache, result=result)
    retry, finals, quiet = [], [], []
    for event in events:
        record = records.get(event.object_type, {}).get(event.object_id)
        statuses = []
        errors = []
        if record is not None:
            moment = now or timezone.now()
            shared = conditions.Context(record, changes=event.changes or {}, now=moment)
            for rule in rules.get(event.object_type, ()):
                if not is_triggered(rule.automation, event) or (rule.automation.pk, event.pk) in held:
                    continue
                if (rule.automation.pk, event.pk) in batched:
                    status = batched[(rule.automation.pk, event.pk)]
                    statuses.append(status)
                    if status != "done":
                        errors.append(f"{rule.automation.name}: the run failed (its error is on the run)")
                    continue
                pause = paused.get(rule.automation.pk)
                outcome = None
                # First delivery only: a redelivered event may have runs of an earlier attempt to finish.
                if pause is None and event.attempts == 0:
                    started = time.perf_counter()
                    outcome = quiet_outcome(
                        rule, record, now=moment, event=event, cache=cache, condition_context=shared, fields=fields
                    )
                    if outcome is not None and not outcome.fired:
                        quiet.append(_quiet_run(rule, record, event, outcome, started))
                        statuses.append("done")
                        result.runs[AutomationRun.Outcome.NOT_FIRED] += 1
                        continue
                status, run = run_rule(
                    rule,
                    record,
                    trigger_key=f"event:{event.pk}",
                    now=moment,
                    event=event,
                    cache=cache,
                    condition_context=shared,
                    options={"paused": pause} if pause is not None else None,
                    evaluated=outcome,
                    fields=fields,
                )
                statuses.append(status)
                result.runs[run.outcome if status == "done" else status] += 1
                if status != "done":
                    errors.append(f"{rule.automation.name}: {run.error.splitlines()[0] if run.error else '?'}")
        if "retry" in statuses:
            OutboxEvent.objects.filter(pk=event.pk).update(last_error="\n".join(errors)[:2000])
            retry.append(event.pk)
            result.events["retry"] += 1
            continue
        final = OutboxEvent.Status.FAILED if "failed" in statuses else OutboxEvent.Status.PROCESSED
        finals.append((event.pk, final, "\n".join(errors)[:2000]))
    _write_quiet(quiet)
    _finish_events(finals, result)
    result.errors = [str(pk) for pk in retry]
    if retry:
        raise EngineRetry(f"automation runs failed for event(s) {retry[:20]}; the job will be retried")
    return result


def _run_batches(events, rules, records, paused, held, *, now, cache, result) -> dict[tuple[int, int], str]:
    """Hand each live automation whose kind has ``run_batch`` its triggered records, a chunk per
    transaction (``revops.engine.batch``); the status (done, retry, failed) of each (automation, event)
    pair settled that way. A chunk that raises rolls back whole: its records are read again (the
    driver may have changed them in memory) and the one-run path takes them."""
    from .batch import BATCH_MIN, batch_size, yield_to_hot_lane

    settled: dict[tuple[int, int], str] = {}
    for object_type, listed in rules.items():
        for rule in listed:
            runner = getattr(rule.kind, "run_batch", None)
            automation = rule.automation
            if runner is None or automation.mode != Automation.Mode.LIVE or automation.pk in paused:
                continue
            items = []
            for event in events:
                record = records.get(object_type, {}).get(event.object_id)
                if event.object_type != object_type or record is None or (automation.pk, event.pk) in held:
                    continue
                if is_triggered(automation, event):
                    items.append((event, record))
            if len(items) < BATCH_MIN:
                continue
            size, remaining = batch_size(), items
            while remaining:
                chunk, remaining = remaining[:size], remaining[size:]
                yield_to_hot_lane()
                try:
                    outcomes = runner(rule, chunk, now=now or timezone.now(), cache=cache)
                except Exception:
                    logger.exception("%s: a batch of %s runs failed; they run one by one", automation.name, len(chunk))
                    fresh = load_records(object_type, [event.object_id for event, _record in chunk])
                    records.setdefault(object_type, {}).update(fresh)
                    continue
                for event, _record in chunk:
                    if event.pk in outcomes:
                        status = outcomes[event.pk]
                        settled[(automation.pk, event.pk)] = status if status in ("retry", "failed") else "done"
                for outcome in outcomes.values():
                    result.runs[outcome] += 1
                rest = [(event, record) for event, record in chunk if event.pk not in outcomes]
                if rest and len(rest) == len(chunk):
                    break  # no progress: the one-run path takes them
                remaining = rest + remaining
    return settled


def _finish_events(finals: list[tuple[int, str, str]], result: EngineResult) -> None:
    """Mark the events done with a compare-and-swap: the clean ones in one statement, the others
    (failed, or with errors to keep) one by one."""
    clean = [pk for pk, final, error in finals if final == OutboxEvent.Status.PROCESSED and not error]
    moment = timezone.now()
    pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
    if clean:
        result.events[OutboxEvent.Status.PROCESSED] += pending.filter(pk__in=clean).update(
            status=OutboxEvent.Status.PROCESSED, processed_at=moment, last_error=""
        )
    for pk, final, error in finals:
        if final == OutboxEvent.Status.PROCESSED and not error:
            continue
        if pending.filter(pk=pk).update(status=final, processed_at=moment, last_error=error):
            result.events[final] += 1


def _paused_rules(rules: dict[str, list[Rule]]) -> dict[int, Pause]:
    """The batch's paused automations by id: the pause-all switch is read once here, never per event."""
    switch = pause_all_state()
    paused = {}
    for listed in rules.values():
        for rule in listed:
            pause = automation_pause_state(rule.automation, switch)
            if pause is not None:
                paused[rule.automation.pk] = pause
    return paused


def _hold_paused(events, rules, records, paused: dict[int, Pause]) -> set[tuple[int, int]]:
    """Hold, in one insert before any run, every (paused automation, event) it would have run for.

    Kinds that act while paused (``runs_while_paused``, e.g. the router) run instead, with the pause.
    """
    if not paused:
        return set()
    holds = []
    for event in events:
        if records.get(event.object_type, {}).get(event.object_id) is None:
            continue
        for rule in rules.get(event.object_type, ()):
            pause = paused.get(rule.automation.pk)
            if pause is None or getattr(rule.kind, "runs_while_paused", False):
                continue
            if is_triggered(rule.automation, event):
                holds.append((rule.automation, event, pause))
    hold_events(holds)
    return {(automation.pk, event.pk) for automation, event, _pause in holds}
