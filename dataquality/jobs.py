"""RQ entry points of the data-quality app (low lane): thin, they call the scan."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

STEP_JOB = "dataquality.jobs.dataquality_scan_step"


def dataquality_scan(reason: str = "scheduled duplicate scan") -> int:
    """Start a full duplicate scan (or resume a running one whose worker died) and run its first step;
    the steps chain on the low lane. Returns the scan's id."""
    from django.utils import timezone

    from .scan import scan_is_stale, scan_start

    scan = scan_start(reason=reason)
    if scan.steps == 0 or scan_is_stale(scan, timezone.now()):
        dataquality_scan_step(scan.pk)
    return scan.pk


def dataquality_scan_step(scan_id: int) -> bool:
    """About a second of the scan's work; enqueues the next step while more is left."""
    import django_rq

    from .scan import scan_step

    more = scan_step(scan_id=scan_id)
    if more:
        django_rq.get_queue("low", commit_mode="auto").enqueue(STEP_JOB, scan_id)
    return more


def dataquality_auto_merge(set_ids: list[int] | None = None) -> dict:
    """Merge the simple sets of "merge without approval" rules among ``set_ids`` (None: all of them)."""
    from .auto_merge import duplicate_sets_auto_merge

    return duplicate_sets_auto_merge(set_ids=set_ids)


def dataquality_check_pending(pending_id: int) -> dict:
    """The duplicate check of a large sync batch, recorded by the sync (``dataquality.deferred``)."""
    from .deferred import duplicate_check_pending

    return duplicate_check_pending(pending_id=pending_id)


def dataquality_pending_sweep() -> list[int]:
    """Enqueue again the recorded duplicate checks whose job was lost."""
    from .deferred import duplicate_pending_sweep

    return duplicate_pending_sweep()
