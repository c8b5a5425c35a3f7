"""The shadow report: what an automation in shadow mode would have done, against what really happened."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from revops.models import AppliedAction, AutomationRun, Rep
from revops.selectors import record_model
from revops.values import jsonable

COMPARABLE = ("assign_owner", "update_field")


def shadow_report(*, automation, since: dt.datetime | None = None, limit: int = 200) -> dict[str, Any]:
    """Would-vs-did for ``automation``'s shadow runs (since ``since``), as plain data.

    Returns::

        {"automation": {"id", "name", "mode", "version"}, "since": iso | None,
         "counts": {"runs", "fired", "not_fired", "error", "pending"},
         "would_apply": {"<action type>": n, ...},
         "compared": n, "agreed": n, "agreement_rate": 0..1 | None,
         "records": [{"run_id", "run_at", "object_type", "object_id", "external_id", "action",
                      "field", "would", "did", "did_source": "history" | "current", "agrees"}, ...]}

    For owner assignments and field updates, ``would`` is the value the run would have set and
    ``did`` the value the record actually got next (the first later change in its history), or
    its current value when nobody changed it since. ``records`` is newest first, at most ``limit``.
    """
    runs = AutomationRun.objects.filter(automation=automation, mode="shadow")
    if since is not None:
        runs = runs.filter(created_at__gte=since)
    counts = Counter(runs.values_list("outcome", flat=True))
    actions = AppliedAction.objects.filter(run__in=runs, status=AppliedAction.Status.SHADOW)
    would = Counter(actions.values_list("action", flat=True))
    rows = []
    compared = agreed = 0
    reps: dict[int, str | None] = {}
    for applied in (
        actions.filter(action__in=COMPARABLE).select_related("run").order_by("-run__created_at", "-id")[:limit]
    ):
        run = applied.run
        model = record_model(applied.object_type)
        record = model.objects.filter(pk=applied.object_id).first()
        if record is None:
            continue
        if applied.action == "assign_owner":
            field, attname = "owner", "owner_id"
            would_value = applied.after.get("owner")
        else:
            field = applied.after.get("key")
            attname = field
            would_value = applied.after.get("value")
        before = applied.before.get("owner_id") if applied.action == "assign_owner" else applied.before.get("value")
        did_raw, source = _did(model, record, attname, before, run.created_at)
        if applied.action == "assign_owner":
            if did_raw is not None and did_raw not in reps:
                reps[did_raw] = Rep.objects.filter(pk=did_raw).values_list("external_id", flat=True).first()
            did = reps.get(did_raw) if did_raw is not None else None
        else:
            did = jsonable(did_raw)
        agrees = did == would_value
        compared += 1
        agreed += agrees
        rows.append(
            {
                "run_id": run.pk,
                "run_at": run.created_at.isoformat(),
                "object_type": applied.object_type,
                "object_id": applied.object_id,
                "external_id": getattr(record, "external_id", "") or "",
                "action": applied.action,
                "field": field,
                "would": would_value,
                "did": did,
                "did_source": source,
                "agrees": agrees,
            }
        )
    return {
        "automation": {
            "id": automation.pk,
            "name": automation.name,
            "mode": automation.mode,
            "version": automation.version,
        },
        "since": since.isoformat() if since else None,
        "counts": {
            "runs": sum(counts.values()),
            "fired": counts.get("fired", 0),
            "not_fired": counts.get("not_fired", 0),
            "error": counts.get("error", 0),
            "pending": counts.get("pending", 0),
        },
        "would_apply": dict(sorted(would.items())),
        "compared": compared,
        "agreed": agreed,
        "agreement_rate": round(agreed / compared, 4) if compared else None,
        "records": rows,
    }


def _value(row, attname: str):
    if hasattr(row, attname) and attname != "attributes":
        try:
            row._meta.get_field(attname)
            return getattr(row, attname)
        except Exception:
            pass
    return (getattr(row, "attributes", None) or {}).get(attname)


def _did(model, record, attname: str, before, after: dt.datetime):
    """The first value the field took after ``after`` that differs from ``before``, else the current one."""
    history = getattr(model, "history", None)
    if history is not None:
        for row in history.filter(id=record.pk, history_date__gt=after).order_by("history_date")[:50]:
            value = _value(row, attname)
            if jsonable(value) != before:
                return value, "history"
    return _value(record, attname), "current"
