"""Reads over automation runs: what ran on a record (the "why" view) and what a run did."""

from __future__ import annotations

import logging

from django.db.models import Prefetch, QuerySet

from revops import conditions
from revops.conditions.compact import expand_stored
from revops.models import AppliedAction, AutomationRun

logger = logging.getLogger(__name__)


def record_runs(*, object_type: str, object_id: int, limit: int | None = 50) -> QuerySet[AutomationRun]:
    """Runs that evaluated one record, newest first, ready to render without further queries.

    Each run carries ``automation`` (name, owners, mode), ``version`` (``number``, ``conditions``,
    ``config``, ``risk``), ``mode`` (live/shadow at the time), ``outcome`` (pending, fired,
    not_fired, error), ``explanation`` (as stored: read it with ``run_explanation``), ``summary`` (empty
    for a gated kind's run that did not fire: read it with ``run_summary``),
    ``expected_next``, ``actions_planned``, ``error``,
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


# --- kill switches ------------------------------------------------------------------------------------

PAUSE_REASON_PREFIXES = ("paused: ", "resumed", "all automations paused: ", "all automations resumed")


def held_events_summary(*, automation_ids=None, sample: int = 10) -> dict:
    """Events held while paused and still waiting for a decision: ``{"count", "since", "sample": [...]}``.

    Each sample row says in words which record, what happened to it and when it arrived.
    """
    from revops.models import HeldEvent
    from revops.selectors import record_model

    qs = HeldEvent.objects.filter(decision=HeldEvent.Decision.PENDING)
    if automation_ids is not None:
        qs = qs.filter(automation_id__in=list(automation_ids))
    count = qs.count()
    rows = list(qs.select_related("event", "automation").order_by("arrived_at", "pk")[:sample]) if count else []
    names: dict[tuple[str, int], str] = {}
    for object_type in {row.object_type for row in rows}:
        ids = [row.object_id for row in rows if row.object_type == object_type]
        try:
            found = record_model(object_type).objects.in_bulk(ids)
        except Exception:  # an object type no longer registered: fall back to its external id
            found = {}
        names.update({(object_type, pk): str(record) for pk, record in found.items()})
    sample_rows = []
    for row in rows:
        event = row.event
        changed = ", ".join((event.changed_fields or [])[:5])
        what = "created in the CRM" if event.kind == "created" else f"updated ({changed})" if changed else "updated"
        record = names.get((row.object_type, row.object_id)) or f"{row.object_type} {row.external_id or row.object_id}"
        sample_rows.append(
            {
                "record": f"{row.object_type.capitalize()} {record}",
                "what": what,
                "arrived_at": row.arrived_at,
                "automation": row.automation.name,
                "held_because": row.get_held_because_display(),
            }
        )
    return {"count": count, "since": rows[0].arrived_at if rows else None, "sample": sample_rows}


def pause_history(obj, *, limit: int = 10) -> list[dict]:
    """Who paused and resumed ``obj`` (an automation, a routing rule or the pause-all switch), when and why."""
    from django.db.models import Q

    matches = Q()
    for prefix in PAUSE_REASON_PREFIXES:
        matches |= Q(history_change_reason__startswith=prefix)
    rows = obj.history.filter(matches).select_related("history_user").order_by("-history_date", "-history_id")
    entries = []
    for row in rows[:limit]:
        head, _sep, reason = row.history_change_reason.partition(": ")
        paused = "paused" in head
        detail = head[head.index("(") + 1 : head.rindex(")")] if "(" in head and ")" in head else ""
        entries.append(
            {
                "when": row.history_date,
                "who": (row.history_user.get_full_name() or row.history_user.get_username())
                if row.history_user
                else "—",
                "what": "Paused" if paused else "Resumed" + (f" ({detail})" if detail else ""),
                "reason": (getattr(row, "pause_reason", "") or reason) if paused else reason,
            }
        )
    return entries


def run_explanation(run: AutomationRun, fields=None) -> dict:
    """The run's explanation as people read it: ``{"conditions": <explain tree>, "conditions_text":
    [...], ...kind details}``.

    Kinds whose runs store the conditions in compact form (``"checked"``: each condition's actual value
    and result, ``revops.conditions.compact``) get them expanded from the run's version, with the
    dictionary's labels; a version that no longer reads with today's dictionary (a field or a choice
    removed since) is expanded from its stored conditions, each named by its path. ``fields``: the
    dictionary, when the caller already read it for a page of runs.
    """
    explanation = run.explanation
    if not isinstance(explanation, dict) or "checked" not in explanation:
        return explanation
    from .pipeline import compiled_predicate

    rest = {key: value for key, value in explanation.items() if key != "checked"}
    checked = explanation["checked"]
    if not isinstance(checked, list):
        return {**explanation, "note": "The conditions checked could not be shown in words: not a list of values."}
    try:
        fields = fields if fields is not None else conditions.load_fields()
        tree = compiled_predicate(run.version, run.object_type, fields).expand(checked)
    except (conditions.ConditionError, ValueError):
        try:  # the version no longer reads with today's dictionary: its stored conditions, by path
            tree = expand_stored(run.version.conditions or {"all": []}, checked)
        except ValueError as exc:
            return {**explanation, "note": f"The conditions checked could not be shown in words: {exc}"}
    return {"conditions": tree, "conditions_text": conditions.explain_text(tree), **rest}


def run_summary(run: AutomationRun, fields=None, explanation: dict | None = None) -> str:
    """The run's summary in plain language: as stored, or, for a gated kind's run that did not fire (it
    stores only the conditions it checked, ``explanation["checked"]``), its ✗ lines below the first as
    ``run_explanation`` words them from the run's version, in the viewer's language and time zone.
    ``fields``: the dictionary, when the caller already read it; ``explanation``: ``run_explanation``'s
    answer, when the caller already has it."""
    stored = run.explanation
    if (
        run.summary
        or run.outcome != AutomationRun.Outcome.NOT_FIRED
        or not isinstance(stored, dict)
        or not isinstance(stored.get("checked"), list)
    ):
        return run.summary
    try:
        lines = (explanation if explanation is not None else run_explanation(run, fields)).get("conditions_text")
    except Exception:  # a list of runs shows every other run whatever one of them stored
        logger.exception("run %s: its summary could not be said", run.pk)
        lines = None
    lines = lines if isinstance(lines, list) else []
    failed = [line.strip() for line in lines[1:] if isinstance(line, str) and line.lstrip().startswith("✗")]
    return "Conditions not met: " + "; ".join(failed) if failed else "Conditions not met."
