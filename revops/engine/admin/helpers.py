"""Plain-language helpers of the automation admin: modes, conditions, triggers, fields, the shadow report."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from revops import conditions
from revops.admin.base import (
    badge,
)
from revops.admin.links import record_url, why_url
from revops.conditions.computed import computed_field
from revops.conditions.render import value_text
from revops.models import Automation, FieldDefinition

from ..kinds import KINDS
from ..registry import action_label
from ..shadow import shadow_report as engine_shadow_report
from .explain import MODE_TONES

RISK_TONES = {"low": "neutral", "medium": "warn", "high": "danger"}
RUN_STATS_DAYS = 30
MODE_VERBS = {
    "live": "go live",
    "shadow": "run in shadow mode",
    "paused": "be switched off",
    "retired": "be retired",
    "draft": "go back to draft",
}
EDITABLE_FIELDS = (
    "name",
    "purpose",
    "kind",
    "object_type",
    "trigger",
    "trigger_fields",
    "trigger_value",
    "schedule_minutes",
    "conditions",
    "config",
    "rule_owner",
    "system_owner",
    "failure_owner",
    "risk",
    "mode",
    "exception_queue",
    "downstream_effect",
    "rollback_notes",
    "last_reviewed_at",
    "review_cadence_days",
    "minutes_saved_per_run",
)


# --- Plain-language helpers ------------------------------------------------------------------


def refusal(automation: Automation, mode: str, reasons: list[str]) -> str:
    """``'Hot lead follow-up' cannot go live because it has no failure owner (…)``."""
    return f"{automation.name!r} cannot {MODE_VERBS.get(mode, mode)} because {'; '.join(reasons)}."


def conditions_text(automation) -> str:
    """The automation's conditions in plain language (or why they cannot be rendered)."""
    return tree_text(automation.conditions, automation.object_type)


def tree_text(tree, object_type: str) -> str:
    try:
        return conditions.render(tree or {"all": []}, object_type=object_type)
    except ValidationError as exc:
        return "cannot be rendered: " + "; ".join(exc.messages)


def trigger_summary(automation) -> str:
    trigger = automation.trigger
    if trigger == Automation.Trigger.FIELD_CHANGED:
        return f"when {', '.join(automation.trigger_fields or []) or '?'} changes"
    if trigger == Automation.Trigger.STAGE_CHANGED_TO:
        return f"when changed to {automation.trigger_value or '?'}"
    if trigger == Automation.Trigger.SCHEDULE:
        return f"every {automation.schedule_minutes or '?'} min"
    if trigger == Automation.Trigger.CREATED:
        return "when created"
    return "when created or updated"


def kind_label(key: str) -> str:
    cls = KINDS.get(key)
    return cls.label if cls else key


def fields_used_links(fields_used: list[str]):
    """Each ``object.key`` as a link to its data dictionary entry (one query for all of them)."""
    if not fields_used:
        return "—"
    pairs = [tuple(item.split(".", 1)) for item in fields_used if "." in item]
    entries = {}
    if pairs:
        from django.db.models import Q

        query = Q()
        for object_type, key in pairs:
            query |= Q(object_type=object_type, key=key)
        entries = {
            (e.object_type, e.key): e
            for e in FieldDefinition.objects.filter(query).only("pk", "object_type", "key", "label")
        }
    links = []
    for item in fields_used:
        entry = entries.get(tuple(item.split(".", 1)))
        computed = computed_field(*item.split(".", 1)) if entry is None and item.count(".") == 1 else None
        if computed is not None:
            links.append(
                format_html(
                    '<code title="{}: {}">{}</code> {}',
                    computed.label,
                    computed.description,
                    item,
                    badge("computed", "info", "Computed by an app from its own data; not a dictionary field"),
                )
            )
        elif entry is None:
            links.append(
                format_html('<code title="not in the data dictionary">{}</code> {}', item, badge("missing", "danger"))
            )
        else:
            url = reverse("admin:revops_fielddefinition_change", args=[entry.pk])
            links.append(format_html('<a href="{}" title="{}"><code>{}</code></a>', url, entry.label, item))
    return format_html('<span class="rv-fields">{}</span>', format_html_join(" ", "{}", ((link,) for link in links)))


def mode_badge(mode: str, label: str):
    return badge(label.split(" (")[0], MODE_TONES.get(mode, "neutral"), label)


# --- Forms -----------------------------------------------------------------------------------


def shadow_report(automation: Automation, *, since=None) -> dict:
    """The engine's would-vs-did report, shaped for the template."""
    return normalise_report(engine_shadow_report(automation=automation, since=since))


COUNT_LABELS = {
    "runs": "shadow runs",
    "fired": "would have fired",
    "not_fired": "would not fire",
    "error": "errors",
    "pending": "pending",
}


def normalise_report(report: dict) -> dict:
    """Shape the engine's report (see ``revops.engine.shadow.shadow_report``) for the template."""
    counts = {
        COUNT_LABELS.get(key, key.replace("_", " ")): value for key, value in (report.get("counts") or {}).items()
    }
    counts["compared with what happened"] = report.get("compared", 0)
    counts["agreed"] = report.get("agreed", 0)
    rows = []
    for row in report.get("records") or []:
        object_type, object_id = row.get("object_type"), row.get("object_id")
        when = row.get("run_at")
        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        field = row.get("field") or ""
        source = row.get("did_source")
        rows.append(
            {
                "when": when,
                "record": f"{object_type} #{object_id}"
                + (f" ({row['external_id']})" if row.get("external_id") else ""),
                "record_url": record_url(object_type, object_id),
                "why_url": why_url(object_type, object_id),
                "outcome": action_label(row.get("action") or ""),
                "would": f"{field} = {value_text(row.get('would'))}",
                "did": f"{field} = {value_text(row.get('did'))}"
                + (" (its next change)" if source == "history" else " (its value now)" if source == "current" else ""),
                "agrees": row.get("agrees"),
                "run_url": reverse("admin:revops_automationrun_change", args=[row["run_id"]])
                if row.get("run_id")
                else None,
            }
        )
    would_apply = {action_label(key): value for key, value in (report.get("would_apply") or {}).items()}
    return {
        "counts": counts,
        "agreement_rate": report.get("agreement_rate"),
        "would_apply": would_apply,
        "rows": rows,
        "truncated": False,
    }


# --- Runs ------------------------------------------------------------------------------------
