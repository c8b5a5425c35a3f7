"""Services for the automation registry: create and edit rules (each change is a new version) and govern modes.

Governance (DESIGN §1): an automation cannot go live — or run in shadow — without a rule owner,
a failure owner and an exception path; the reasons are returned in plain language. ``fields_used``
is derived from the conditions; config is validated by the automation's kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from exceptions.queues import queue_require
from revops import conditions
from revops.audit import audited, system_user
from revops.models import Automation, AutomationVersion
from revops.versions import missing_references, versioned

from .kinds import get_kind
from .shadow import shadow_report

RULE_FIELDS = ("conditions", "config", "risk")
ACTIVE_MODES = (Automation.Mode.LIVE, Automation.Mode.SHADOW)


def automation_go_live_blockers(*, automation: Automation) -> list[str]:
    """Why ``automation`` may not run (live or shadow) yet; empty when its approval packet is complete."""
    missing = []
    if not automation.rule_owner_id:
        missing.append("it has no rule owner (who agrees the rule)")
    if not automation.failure_owner_id:
        missing.append("it has no failure owner (who is told when it fails)")
    if not automation.exception_queue.strip():
        missing.append("it has no exception path (where what it cannot finish goes)")
    if automation.trigger == Automation.Trigger.SCHEDULE and not automation.schedule_minutes:
        missing.append("a scheduled automation needs 'run every N minutes'")
    return missing


def shadow_period_gaps(automation: Automation, *, now=None) -> list[str]:
    """What a medium-risk automation still lacks to go live (empty: nothing): shadow runs of its current
    rule for at least ``AUTOMATION_SHADOW_DAYS`` days and ``AUTOMATION_SHADOW_MIN_RUNS`` runs, and — where
    its actions can be compared with what people did (owners, field values) — an agreement of at least
    ``AUTOMATION_SHADOW_AGREEMENT``."""
    days = int(getattr(settings, "AUTOMATION_SHADOW_DAYS", 7))
    min_runs = int(getattr(settings, "AUTOMATION_SHADOW_MIN_RUNS", 20))
    bar = float(getattr(settings, "AUTOMATION_SHADOW_AGREEMENT", 0.9))
    now = now or timezone.now()
    current = automation.versions.filter(number=automation.version).first() if automation.pk else None
    since = current.created_at if current is not None else None
    if since is None:
        return [f"it has not run in shadow yet (it needs {days} days and {min_runs} runs)"]
    report = shadow_report(automation=automation, since=since)  # agreement over its latest 200 comparisons
    runs = report["counts"].get("runs", 0)
    first = (
        automation.runs.filter(mode=Automation.Mode.SHADOW, created_at__gte=since)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    gaps = []
    if first is None or first > now - dt.timedelta(days=days):
        done = 0 if first is None else max(0, (now - first).days)
        gaps.append(f"its current rule ran in shadow for {done} of the {days} days needed")
    if runs < min_runs:
        gaps.append(f"{runs} of the {min_runs} shadow runs needed")
    rate = report.get("agreement_rate")
    if report.get("compared") and rate is not None and rate < bar:
        gaps.append(
            f"{report['agreed']} of {report['compared']} compared runs agreed with what people did "
            f"({rate:.0%}; {bar:.0%} needed)"
        )
    return gaps


def _references_to_check(automation: Automation, stored: Automation | None) -> bool:
    """Whether the names the automation refers to (its exception path, its kind's references) must exist
    now: always when it is new, runs (live/shadow) or changes them; not to pause or retire an old one
    whose path named no queue (its items keep landing in the default queue until someone fixes it)."""
    if stored is None or automation.mode in ACTIVE_MODES:
        return True
    return stored.exception_queue != automation.exception_queue or stored.config != automation.config


def automation_clean(*, automation: Automation, stored: Automation | None = None) -> None:
    """Validate trigger, conditions (against the dictionary) and config (against the kind); derive fields used.

    ``stored`` is the automation as saved (None for a new one); see ``_references_to_check``.
    """
    errors: dict[str, list[str]] = {}
    kind = None
    try:
        kind = get_kind(automation.kind)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if kind and kind.object_types and automation.object_type not in kind.object_types:
        errors.setdefault("object_type", []).append(
            f"{kind.label} works on {', '.join(kind.object_types)}, not {automation.object_type}."
        )
    trigger = automation.trigger
    if trigger == Automation.Trigger.FIELD_CHANGED and not automation.trigger_fields:
        errors.setdefault("trigger_fields", []).append("Name at least one field whose change triggers it.")
    if trigger == Automation.Trigger.STAGE_CHANGED_TO and not automation.trigger_value:
        errors.setdefault("trigger_value", []).append("Name the stage or status that triggers it.")
    if trigger == Automation.Trigger.SCHEDULE and not automation.schedule_minutes:
        errors.setdefault("schedule_minutes", []).append("A scheduled automation needs 'run every N minutes'.")
    try:
        automation.conditions = conditions.clean_condition(
            automation.conditions or {"all": []}, object_type=automation.object_type
        )
    except ValidationError as exc:
        errors.setdefault("conditions", []).extend(exc.messages)
    if kind and "config" not in errors:
        try:
            automation.config = kind.validate_config(automation.config or {}, object_type=automation.object_type)
        except ValidationError as exc:
            errors.setdefault("config", []).extend(exc.messages)
    if _references_to_check(automation, stored):
        if automation.exception_queue.strip():
            try:
                automation.exception_queue = queue_require(automation.exception_queue, field="exception_queue")
            except ValidationError as exc:
                errors.setdefault("exception_queue", []).extend(exc.message_dict["exception_queue"])
        if kind and "config" not in errors:
            errors.setdefault("config", []).extend(kind.reference_problems(automation.config or {}))
            if not errors["config"]:
                del errors["config"]
    if automation.mode in ACTIVE_MODES:
        blockers = automation_go_live_blockers(automation=automation)
        if blockers:
            errors.setdefault("mode", []).append(f"It cannot be {automation.mode} because " + "; ".join(blockers) + ".")
    # Going live is gated, not declaring a live automation riskier (that must stay cheap to do).
    entering_live = automation.mode == Automation.Mode.LIVE and (stored is None or stored.mode != Automation.Mode.LIVE)
    if entering_live and automation.risk == Automation.Risk.MEDIUM and "mode" not in errors:
        gaps = shadow_period_gaps(automation)
        if gaps:
            errors.setdefault("mode", []).append(
                "A medium-risk automation goes live after a shadow period that agrees with what people did: "
                + "; ".join(gaps)
                + ". Run it in shadow until then (a low-risk automation has no such period)."
            )
    if errors:
        raise ValidationError(errors)
    used = set(conditions.fields_used(automation.conditions))
    used.update(f"{automation.object_type}.{key}" for key in automation.trigger_fields or [])
    automation.fields_used = sorted(used)


def automation_queue_users(queue_name: str) -> list[str]:
    """The automations (not retired) whose exception path is ``queue_name``, in words."""
    names = (
        Automation.objects.filter(exception_queue=queue_name)
        .exclude(mode=Automation.Mode.RETIRED)
        .order_by("name")
        .values_list("name", flat=True)
    )
    return [f"automation {name!r} (its exception path)" for name in names]


def _snapshot(automation: Automation, actor) -> None:
    automation.version += 1
    automation.save()
    AutomationVersion.objects.create(
        automation=automation,
        number=automation.version,
        conditions=automation.conditions,
        config=automation.config,
        risk=automation.risk,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


@transaction.atomic
def automation_create(*, actor, reason: str | None = None, **fields: Any) -> Automation:
    """Create an automation (version 1) after validating it; its system identity is created with it."""
    automation = Automation(**fields)
    automation_clean(automation=automation)
    automation.full_clean(exclude=["conditions", "config", "trigger_fields", "fields_used"])
    automation.identity = system_user(f"automation:{automation.name}"[:150], first_name=automation.name)
    with audited(actor=actor, reason=reason or f"automation {automation.name!r} created"):
        _snapshot(automation, actor)
    return automation


@transaction.atomic
def automation_update(*, automation: Automation, actor, reason: str | None = None, **changes: Any) -> Automation:
    """Apply ``changes``; a change to the rule (conditions, config, risk) creates a new version."""
    stored = Automation.objects.select_for_update().get(pk=automation.pk)
    for name, value in changes.items():
        setattr(automation, name, value)
    automation_clean(automation=automation, stored=stored)
    automation.full_clean(exclude=["conditions", "config", "trigger_fields", "fields_used"])
    rule_changed = any(getattr(stored, name) != getattr(automation, name) for name in RULE_FIELDS)
    automation.version = stored.version
    with audited(actor=actor, reason=reason or f"automation {automation.name!r} changed"):
        if rule_changed:
            _snapshot(automation, actor)
        else:
            automation.save()
    return automation


def automation_set_mode(*, automation: Automation, mode: str, actor, reason: str | None = None) -> Automation:
    """Move an automation to ``mode``; going live or to shadow is refused while blockers remain."""
    return automation_update(automation=automation, actor=actor, reason=reason or f"mode set to {mode}", mode=mode)


def automation_current_version(*, automation: Automation) -> AutomationVersion:
    return automation.versions.get(number=automation.version)


def automation_restore(automation: Automation, data: dict[str, Any], *, actor, reason: str) -> None:
    """Put an automation's rule and governance back as an earlier version had them, through
    ``automation_update`` (a new rule version when the conditions, config or risk differ).

    The mode is kept: going live, pausing and retiring stay explicit decisions on the automation.
    """
    spec = versioned(Automation)
    values = {name: value for name, value in data.get("fields", {}).items() if name != "mode"}
    problems = missing_references(spec, values)
    if problems:
        raise ValidationError(problems)
    changes = {}
    for f in spec.fields():
        if f.name not in values or f.name == "mode":
            continue
        value = values[f.name]
        if value is not None and not f.is_relation:
            value = f.to_python(value)
        if f.value_from_object(automation) != value:
            changes[f.attname] = value
    if not changes:
        raise ValidationError(
            {
                "version": "This version differs from the current one only in its mode, which a restore keeps; "
                "change the mode on the automation's page."
            }
        )
    automation_update(automation=automation, actor=actor, reason=reason, **changes)
