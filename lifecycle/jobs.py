"""RQ entry points of the lifecycle app: thin, they call services."""

from __future__ import annotations

# Leads per re-score job: about a second of work, so no job holds the ``low`` lane long and every
# worker listening on it takes a share of a big re-score.
RANGE = 4000
RANGE_JOB = "lifecycle.jobs.lifecycle_rescore_range"


def lifecycle_rescore() -> dict:
    """Nightly and after a model change (``low`` queue): queue one ``lifecycle_rescore_range`` job per
    ``RANGE`` lead ids; returns how many. Each re-scores the leads of its range whose engagement points
    decay or leave a window, and every lead not yet scored under a model as it is now."""
    import django_rq

    from .selectors import lead_id_ranges

    ranges = lead_id_ranges(RANGE)
    queue = django_rq.get_queue("low")
    queue.enqueue_many(
        [
            queue.prepare_data(RANGE_JOB, args=(first, last), job_id=f"lifecycle-rescore-{first}-{last}")
            for first, last in ranges
        ]
    )
    return {"jobs": len(ranges)}


def lifecycle_rescore_range(first_id: int, last_id: int) -> dict:
    """Re-score the leads with ids ``first_id``…``last_id`` that need it; returns counts."""
    from django.utils import timezone

    from .selectors import leads_to_rescore
    from .services import active_specs, lead_scores_refresh

    now = timezone.now()
    specs = active_specs()
    counts = {"leads": 0, "changed": 0}
    for chunk in leads_to_rescore(specs=specs, now=now, first_id=first_id, last_id=last_id, size=RANGE):
        counts["leads"] += len(chunk)
        counts["changed"] += lead_scores_refresh(lead_ids=chunk, now=now, specs=specs)
    return counts


def lifecycle_stage_tick() -> dict:
    """Every 5 minutes: start the SLA of waiting MQLs that got an owner, and open one item per lead
    overdue in its stage (``lifecycle.stage_services.lead_stages_tick``); returns counts."""
    from .stage_services import lead_stages_tick

    return lead_stages_tick()
