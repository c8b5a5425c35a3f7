"""Reads over automation runs: what ran on a record (the "why" view) and what a run did."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from revops.models import AppliedAction, AutomationRun


def record_runs(*, object_type: str, object_id: int, limit: int | None = 50) -> QuerySet[AutomationRun]:
    """Runs that evaluated one record, newest first, ready to render without further queries.

    Each run carries ``automation`` (name, owners, mode), ``version`` (``number``, ``conditions``,
    ``config``, ``risk``), ``mode`` (live/shadow at the time), ``outcome`` (pending, fired,
    not_fired, error), ``explanation`` (``{"conditions": <explain tree>, "conditions_text": [...],
    ...kind details}``), ``summary``, ``expected_next``, ``actions_planned``, ``error``,
    ``attempts``, ``duration_ms``, ``trigger_key``, ``event`` and its ``applied`` actions
    (``AppliedAction`` rows in index order with ``action``, ``status``, ``params``, ``before``,
    ``after``).
    """
    qs = (
        AutomationRun.objects.filter(object_type=object_type, object_id=object_id)
        .select_related("automation", "automation__rule_owner", "automation__failure_owner", "version", "event")
        .prefetch_related(Prefetch("applied", queryset=AppliedAction.objects.order_by("index")))
        .order_by("-created_at", "-id")
    )
    return qs[:limit] if limit else qs


def automation_runs(*, automation, outcome: str | None = None, limit: int | None = 100) -> QuerySet[AutomationRun]:
    """An automation's runs, newest first, optionally only one outcome (e.g. ``"error"``)."""
    qs = AutomationRun.objects.filter(automation=automation).select_related("version").order_by("-created_at", "-id")
    if outcome:
        qs = qs.filter(outcome=outcome)
    return qs[:limit] if limit else qs


def automation_failing_runs(*, automation=None) -> QuerySet[AutomationRun]:
    """Runs in error (retrying or given up), newest first: what the failure owner must look at."""
    qs = AutomationRun.objects.filter(outcome=AutomationRun.Outcome.ERROR).select_related("automation", "version")
    if automation is not None:
        qs = qs.filter(automation=automation)
    return qs.order_by("-created_at", "-id")
