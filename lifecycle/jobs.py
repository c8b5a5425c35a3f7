"""RQ entry points of the lifecycle app: thin, they call services."""

from __future__ import annotations


def lifecycle_rescore() -> dict:
    """Nightly (``low`` queue): re-score the leads whose engagement points decay or leave a window, and
    every lead not yet scored under a model as it is now (a new or changed model); returns counts."""
    from django.utils import timezone

    from .selectors import leads_to_rescore
    from .services import active_specs, lead_scores_refresh

    now = timezone.now()
    specs = active_specs()
    counts = {"leads": 0, "changed": 0}
    for chunk in leads_to_rescore(specs=specs, now=now):
        counts["leads"] += len(chunk)
        counts["changed"] += lead_scores_refresh(lead_ids=chunk, now=now, specs=specs)
    return counts


def lifecycle_stage_tick() -> dict:
    """Every 5 minutes: start the SLA of waiting MQLs that got an owner, and open one item per lead
    overdue in its stage (``lifecycle.stage_services.lead_stages_tick``); returns counts."""
    from .stage_services import lead_stages_tick

    return lead_stages_tick()
