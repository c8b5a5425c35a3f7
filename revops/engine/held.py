"""Processing the events held while an automation was paused, once RevOps chose to process them on resume.

The RQ job (``revops.engine.jobs.process_held_events``) calls ``held_events_process``; decisions and
the enqueueing are in ``revops.engine.pause``.
"""

from __future__ import annotations

from django.utils import timezone

from revops.models import Automation, HeldEvent

from .pause import HELD_CHUNK
from .pipeline import EngineRetry, active_rules, load_records, run_rule


def held_events_process(*, automation_id: int, now=None) -> dict[str, int]:
    """Run the held events RevOps chose to process through the normal pipeline path; return counts.

    Safe to run again: rows already processed are left alone and runs are unique per (version, event).
    Raises ``EngineRetry`` when some runs failed and will be retried.
    """
    counts = {"processed": 0, "not_run": 0, "retry": 0}
    automation = Automation.objects.get(pk=automation_id)
    rules = active_rules([automation.object_type], automation_ids=[automation_id]).get(automation.object_type) or []
    rule = rules[0] if rules else None
    pending = HeldEvent.objects.filter(
        automation_id=automation_id, decision=HeldEvent.Decision.PROCESS, processed_at__isnull=True
    ).order_by("pk")
    last = 0
    while True:
        chunk = list(pending.filter(pk__gt=last).select_related("event")[:HELD_CHUNK])
        if not chunk:
            break
        last = chunk[-1].pk
        records = load_records(automation.object_type, {row.object_id for row in chunk}) if rule else {}
        for row in chunk:
            record = records.get(row.object_id)
            if rule is None:
                note = (
                    f"Not run: {automation.name!r} is {automation.get_mode_display().lower()}, not live or in shadow."
                )
                _held_done(row, note=note)
                counts["not_run"] += 1
                continue
            if record is None:
                _held_done(row, note=f"Not run: the {row.object_type} no longer exists.")
                counts["not_run"] += 1
                continue
            status, run = run_rule(
                rule, record, trigger_key=f"event:{row.event_id}", now=now or timezone.now(), event=row.event
            )
            if status == "retry":
                counts["retry"] += 1
                continue
            outcome = run.get_outcome_display().lower()
            _held_done(row, note=f"Processed after the resume: run {run.pk} ({outcome}).", run=run)
            counts["processed"] += 1
    if counts["retry"]:
        raise EngineRetry(f"{counts['retry']} held event(s) of automation {automation_id} failed; the job will retry")
    return counts


def _held_done(row: HeldEvent, *, note: str, run=None) -> None:
    HeldEvent.objects.filter(pk=row.pk, processed_at__isnull=True).update(
        processed_at=timezone.now(), note=note, run=run
    )
