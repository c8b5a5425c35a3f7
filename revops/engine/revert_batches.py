"""Reverting a bad hour: every run of one automation between two times, optionally of one version and
narrowed by a kind's run filter (routing: the rule that decided), in a background job.

``revert_batch_plan`` says what it would do (counts per action and outcome, conflicts, a sample);
``revert_batch_start`` records the batch (its one audit entry: who, why, the window) and enqueues
``revert_batch_process`` on the ``low`` queue after commit. The job reverts the runs in chunks, each
chunk one transaction with one changes-feed write, and counts progress as the runs that have a
``RunRevert`` of the batch — so a job killed mid-way and enqueued again resumes with the runs not done,
and a run is never reverted twice. When no run is left, it writes the final report.
"""

from __future__ import annotations

import datetime as dt
import logging

import django_rq
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from revops.audit import audited
from revops.feed import change_entries_record
from revops.models import Automation, AutomationRun, AutomationVersion, RunRevert, RunRevertBatch

from .registry import RUN_FILTERS
from .revert import OUTCOME_LABELS, UndoOutcome, reason_required, revert_one, run_revert_plan

logger = logging.getLogger(__name__)

QUEUE = "low"
CHUNK = 100
SAMPLE = 20
JOB = "revops.engine.jobs.revert_run_batch"


def window_runs(
    *, automation: Automation, started_from: dt.datetime, until: dt.datetime, version=None, run_filter="", value=""
):
    """The live, fired runs of ``automation`` created in ``[started_from, until)``, oldest first."""
    runs = AutomationRun.objects.filter(
        automation=automation,
        mode=Automation.Mode.LIVE,
        outcome=AutomationRun.Outcome.FIRED,
        created_at__gte=started_from,
        created_at__lt=until,
    )
    if version is not None:
        runs = runs.filter(version=version)
    if run_filter:
        runs = RUN_FILTERS[(automation.kind, run_filter)].apply(runs, value)
    return runs.order_by("pk")


def batch_runs(batch: RunRevertBatch):
    return window_runs(
        automation=batch.automation,
        started_from=batch.started_from,
        until=batch.until,
        version=batch.version,
        run_filter=batch.run_filter,
        value=batch.filter_value,
    )


def validate_window(
    *, automation: Automation, started_from, until, version=None, run_filter: str = "", value: str = ""
) -> None:
    """Raise ``ValidationError`` (sentences) unless the window, version and filter make sense together."""
    errors = {}
    if started_from is None or until is None:
        errors["until"] = "Give both times: from and until."
    elif until <= started_from:
        errors["until"] = "“Until” must be after “from”."
    if version is not None and version.automation_id != automation.pk:
        errors["version"] = f"Version {version.number} belongs to another automation."
    if run_filter and (automation.kind, run_filter) not in RUN_FILTERS:
        errors["run_filter"] = f"Runs of {automation.name} cannot be narrowed by {run_filter!r}."
    if errors:
        raise ValidationError(errors)


class Tally:
    """Counts per action and outcome, the conflicts and a sample of lines, over many runs' lines."""

    def __init__(self):
        self.runs = 0
        self.by_action: dict[str, dict[str, int]] = {}
        self.conflicts: list[dict] = []
        self.conflict_count = 0
        self.sample: list[dict] = []

    def add(self, run_id: int, lines: list[dict]) -> None:
        self.runs += 1
        for line in lines:
            row = self.by_action.setdefault(line["label"], {})
            row[line["outcome"]] = row.get(line["outcome"], 0) + 1
            shown = {**line, "run": run_id}
            if line["outcome"] == UndoOutcome.CONFLICT:
                self.conflict_count += 1
                if len(self.conflicts) < SAMPLE:
                    self.conflicts.append(shown)
            if len(self.sample) < SAMPLE:
                self.sample.append(shown)

    def as_dict(self) -> dict:
        return {
            "runs": self.runs,
            "by_action": self.by_action,
            "conflicts": self.conflicts,
            "conflict_count": self.conflict_count,
            "sample": self.sample,
        }


def revert_batch_plan(
    *, automation, started_from, until, version=None, run_filter: str = "", value: str = "", force: bool = False
) -> dict:
    """What reverting these runs would do: ``runs``, ``by_action`` (label → outcome → count), ``conflicts``
    (a sample, and ``conflict_count``) and ``sample`` lines. Writes nothing."""
    validate_window(
        automation=automation,
        started_from=started_from,
        until=until,
        version=version,
        run_filter=run_filter,
        value=value,
    )
    tally = Tally()
    runs = window_runs(
        automation=automation,
        started_from=started_from,
        until=until,
        version=version,
        run_filter=run_filter,
        value=value,
    ).select_related("automation")
    for run in runs.iterator(chunk_size=500):
        tally.add(run.pk, run_revert_plan(run, force=force).lines)
    return tally.as_dict()


def outcome_label(outcome: str, *, done: bool) -> str:
    return OUTCOME_LABELS.get(outcome, (outcome, outcome))[1 if done else 0]


def revert_batch_start(
    *,
    actor,
    automation: Automation,
    started_from: dt.datetime,
    until: dt.datetime,
    reason: str,
    force: bool = False,
    version: AutomationVersion | None = None,
    run_filter: str = "",
    value: str = "",
) -> RunRevertBatch:
    """Record the batch with its plan and enqueue its job after commit (the batch's one audit entry)."""
    reason = reason_required(reason)
    plan = revert_batch_plan(
        automation=automation,
        started_from=started_from,
        until=until,
        version=version,
        run_filter=run_filter,
        value=value,
        force=force,
    )
    label = RUN_FILTERS[(automation.kind, run_filter)].describe(value) if run_filter else ""
    batch = RunRevertBatch(
        automation=automation,
        version=version,
        run_filter=run_filter,
        filter_value=str(value or "")[:120],
        filter_label=label[:200],
        started_from=started_from,
        until=until,
        reason=reason,
        force=force,
        status=RunRevertBatch.Status.QUEUED,
        total=plan["runs"],
        plan=plan,
        created_by=actor,
    )
    batch.full_clean()
    with transaction.atomic(), audited(actor=actor, reason=f"revert runs of {automation.name}: {reason}"):
        batch.save()
        transaction.on_commit(lambda: revert_batch_enqueue(batch_id=batch.pk))
    return batch


def revert_batch_enqueue(*, batch_id: int) -> bool:
    """Enqueue the batch's job on the ``low`` queue (also to resume one whose worker died); False if Redis fails."""
    try:
        django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
            JOB, batch_id, job_id=f"revert-batch-{batch_id}-{timezone.now():%H%M%S%f}", job_timeout=1800
        )
    except Exception:
        logger.exception("could not enqueue revert batch %s", batch_id)
        return False
    return True


def revert_batch_process(*, batch_id: int, max_chunks: int | None = None, chunk: int = CHUNK) -> RunRevertBatch:
    """Revert the batch's runs not reverted by it yet, ``chunk`` runs per transaction; write the report at
    the end. ``max_chunks`` stops early (what a killed worker leaves); calling again resumes."""
    batch = RunRevertBatch.objects.select_related("automation", "version", "created_by").get(pk=batch_id)
    if batch.status == RunRevertBatch.Status.FINISHED:
        return batch
    RunRevertBatch.objects.filter(pk=batch.pk).update(
        status=RunRevertBatch.Status.RUNNING, started_at=batch.started_at or timezone.now(), progress_at=timezone.now()
    )
    done_here = 0
    while max_chunks is None or done_here < max_chunks:
        pending = batch_runs(batch).exclude(Exists(RunRevert.objects.filter(batch=batch, run=OuterRef("pk"))))
        ids = list(pending.values_list("pk", flat=True)[:chunk])
        if not ids:
            _finish(batch)
            break
        _revert_chunk(batch, ids)
        done_here += 1
    batch.refresh_from_db()
    return batch


def _revert_chunk(batch: RunRevertBatch, run_ids: list[int]) -> None:
    with transaction.atomic():
        feed = []
        for run in AutomationRun.objects.select_for_update().filter(pk__in=run_ids).order_by("pk"):
            if RunRevert.objects.filter(batch=batch, run=run).exists():
                continue  # another job of this batch (resumed while this one ran) got there first
            _revert, entries = revert_one(
                run=run, actor=batch.created_by, reason=batch.reason, force=batch.force, batch=batch
            )
            feed.extend(entries)
        change_entries_record(feed)
        done = RunRevert.objects.filter(batch=batch).values("run").distinct().count()
        RunRevertBatch.objects.filter(pk=batch.pk).update(done=done, progress_at=timezone.now())


SWEEP_MINUTES = 10  # a chunk takes seconds: a batch silent this long lost its worker


def revert_batches_sweep(*, now: dt.datetime | None = None, minutes: int = SWEEP_MINUTES) -> list[int]:
    """Enqueue again the batches queued or running whose job has been silent for ``minutes`` (its worker
    died, or Redis lost the job); return their ids. Resuming twice is harmless: a run is reverted once
    per batch (its row is locked and checked), and progress counts what is done."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(minutes=minutes)
    stale = list(
        RunRevertBatch.objects.filter(status__in=(RunRevertBatch.Status.QUEUED, RunRevertBatch.Status.RUNNING))
        .filter(Q(progress_at__lt=cutoff) | Q(progress_at__isnull=True, created_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for batch_id in stale:
        if revert_batch_enqueue(batch_id=batch_id):
            RunRevertBatch.objects.filter(pk=batch_id).update(progress_at=now)
    return stale


def _finish(batch: RunRevertBatch) -> None:
    tally = Tally()
    for run_id, lines in RunRevert.objects.filter(batch=batch).order_by("run_id").values_list("run_id", "lines"):
        tally.add(run_id, lines or [])
    report = tally.as_dict()
    RunRevertBatch.objects.filter(pk=batch.pk).update(
        status=RunRevertBatch.Status.FINISHED,
        done=tally.runs,
        total=max(batch.total, tally.runs),
        report=report,
        finished_at=timezone.now(),
    )


def tally_rows(tally: dict, *, done: bool) -> list[dict]:
    """``by_action`` as rows for a table: the action's label and its outcomes in words with counts."""
    rows = []
    for label, outcomes in sorted((tally or {}).get("by_action", {}).items()):
        rows.append(
            {
                "label": label,
                "outcomes": [(outcome_label(k, done=done), n, k) for k, n in sorted(outcomes.items())],
                "total": sum(outcomes.values()),
            }
        )
    return rows
