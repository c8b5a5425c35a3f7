"""What the hygiene and renewal scans share about findings: writing a chunk's findings against what is
stored, and which items people closed.

A finding is a policy (an automation) that a record breaks, with its sentence and values: at most one
unresolved row per record and policy automation (``HygieneFinding`` for deals, ``RenewalFinding`` for
accounts). ``findings_write`` creates what started firing, rewrites what changed (sentence, values or
mode) and resolves what stopped, with what fixed it in words — in three bulk statements.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Max

from exceptions.models import ExceptionItem
from revops.models import Automation

LIVE = Automation.Mode.LIVE


@dataclass
class FindingsWritten:
    """The outcome of ``findings_write``: the rows created, changed and resolved, and by record id the
    words of what fixed each resolved live finding."""

    created: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    resolved: list = field(default_factory=list)
    fixed: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def counts(self) -> dict[str, int]:
        return {
            "findings_created": len(self.created),
            "findings_changed": len(self.changed),
            "findings_resolved": len(self.resolved),
        }


def findings_write(
    *,
    model,
    subject: str,
    existing: dict,
    fired: dict,
    passing: dict,
    running: set[int],
    policies: dict,
    now: dt.datetime,
    noun: str,
) -> FindingsWritten:
    """Bring a chunk's findings up to date and write them.

    ``existing``, ``fired`` and ``passing`` are keyed ``(record id, automation id)``: the unresolved rows,
    and ``(automation, check)`` of the policies that fired or passed. ``running``: the ids of the policy
    automations that ran (a finding of another one is resolved as "no longer runs"). ``subject``: the
    model's foreign key to the record (``opportunity``, ``account``); ``policies``: the shipped policies by
    key (their ``fixed`` words); ``noun``: the record in words ("deal", "account").
    """
    out = FindingsWritten()
    for (record_pk, automation_pk), (automation, check) in fired.items():
        old = existing.get((record_pk, automation_pk))
        if old is None:
            out.created.append(
                model(
                    **{f"{subject}_id": record_pk},
                    automation=automation,
                    policy=automation.config["policy"],
                    mode=automation.mode,
                    text=check.text,
                    values=check.values,
                    first_seen_at=now,
                    last_changed_at=now,
                )
            )
        elif (old.text, old.values, old.mode) != (check.text, check.values, automation.mode):
            old.text, old.values, old.mode, old.last_changed_at = check.text, check.values, automation.mode, now
            out.changed.append(old)
    for key, old in existing.items():
        if key in fired:
            continue
        if key in passing:
            automation, check = passing[key]
            old.resolution = f"{policies[automation.config['policy']].fixed} ({check.text.rstrip('.')})"[:300]
        elif key[1] in running:
            old.resolution = f"the {noun} is no longer covered by the policy's conditions"
        else:
            old.resolution = "the policy no longer runs (paused, retired or removed)"
        old.resolved_at = now
        out.resolved.append(old)
        if old.mode == LIVE:
            out.fixed[key[0]].append(old.resolution)
    model.objects.bulk_create(out.created)
    model.objects.bulk_update(out.changed, ["text", "values", "mode", "last_changed_at"])
    model.objects.bulk_update(out.resolved, ["resolved_at", "resolution"])
    return out


def closed_by_people(keys: list[str], actor) -> dict[str, dt.datetime]:
    """The latest time a person (not the scan, ``actor``) closed each of these items, by dedupe key."""
    if not keys:
        return {}
    rows = (
        ExceptionItem.objects.filter(dedupe_key__in=keys, status__in=("resolved", "dismissed"))
        .exclude(resolved_by=actor)
        .values("dedupe_key")
        .annotate(at=Max("resolved_at"))
    )
    return {row["dedupe_key"]: row["at"] for row in rows if row["at"] is not None}
