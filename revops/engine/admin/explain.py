"""Runs explained in plain language: the run cards of the Why page, the run admin and an item's page.

``explanation_rows`` turns a kind's structured explanation into ✓/✗ rows with the actual values,
``action_rows`` the applied actions into label, target, status and before → after,
``run_context`` one run into what ``admin/revops/includes/run_card.html`` shows. Action labels
come from the action registry (``revops.engine.registry.action_label``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from exceptions.registry import item_kind_label
from exceptions.timing import human_duration
from revops.admin.links import record_url
from revops.conditions.render import value_text
from revops.display import FieldText
from revops.models import AutomationRun, Rep
from revops.selectors import RECORD_MODELS, record_model

from ..registry import action_label
from ..selectors import run_explanation, run_summary

MODE_TONES = {"live": "ok", "shadow": "info", "draft": "neutral", "paused": "warn", "retired": "neutral"}
OUTCOME_TONES = {"fired": "ok", "not_fired": "neutral", "error": "danger", "pending": "warn"}
ACTION_STATUS_TONES = {"applied": "ok", "shadow": "info", "approval": "warn", "skipped": "neutral", "reverted": "warn"}


# --- Explanations in plain language ----------------------------------------------------------


def _is_tree(value: Any) -> bool:
    return isinstance(value, Mapping) and "result" in value and ("field" in value or "op" in value)


def _tree_rows(item: Mapping, depth: int, rows: list[dict]) -> None:
    ok = bool(item.get("result"))
    if "field" in item:
        actual = item.get("actual")
        if item.get("op") in ("changed", "changed_to"):
            shown = "no change" if not actual else f"{value_text(actual[0])} → {value_text(actual[1])}"
        else:
            shown = value_text(actual)
        text = (
            item.get("text")
            or f"{item.get('label') or item['field']} {item.get('op')} {value_text(item.get('expected'))}"
        )
        rows.append({"depth": depth, "ok": ok, "text": text, "actual": shown})
    elif item.get("op") == "not":
        rows.append({"depth": depth, "ok": ok, "text": "not:", "actual": None})
        _tree_rows(item.get("condition") or {}, depth + 1, rows)
    else:
        word = "all of" if item.get("op") == "all" else "any of"
        children = item.get("conditions") or []
        if not children:
            rows.append(
                {
                    "depth": depth,
                    "ok": ok,
                    "text": "no conditions (always)" if word == "all of" else "never",
                    "actual": None,
                }
            )
            return
        rows.append({"depth": depth, "ok": ok, "text": f"{word}:", "actual": None})
        for child in children:
            _tree_rows(child, depth + 1, rows)


def _step_rows(steps: list, depth: int, rows: list[dict]) -> None:
    for step in steps:
        if _is_tree(step):
            _tree_rows(step, depth, rows)
        elif isinstance(step, Mapping):
            text = step.get("text") or step.get("label") or step.get("reason") or step.get("step")
            if not text:
                continue
            actual = step.get("actual", step.get("value"))
            rows.append(
                {
                    "depth": depth,
                    "ok": None if "result" not in step else bool(step["result"]),
                    "text": str(text),
                    "actual": None if actual is None else value_text(actual),
                }
            )
        elif isinstance(step, str):
            rows.append({"depth": depth, "ok": None, "text": step, "actual": None})


def explanation_rows(explanation: Any) -> list[dict]:
    """Rows ``{depth, ok, text, actual}`` for a stored explanation (✓/✗ with the actual value).

    Understands the condition explain tree (``revops.conditions.explain``), either as the whole
    explanation or under ``"conditions"``/``"explain"``, and lists of steps (``"steps"``,
    ``"checks"``, ``"reasons"``) whose items have a ``text`` (and optionally ``result`` and
    ``actual``). Anything else yields no rows; callers then show the summary and the raw JSON.
    """
    rows: list[dict] = []
    if _is_tree(explanation):
        _tree_rows(explanation, 0, rows)
        return rows
    if not isinstance(explanation, Mapping):
        if isinstance(explanation, list):
            _step_rows(explanation, 0, rows)
        return rows
    for key in ("conditions", "explain", "condition", "explanation"):
        if _is_tree(explanation.get(key)):
            _tree_rows(explanation[key], 0, rows)
            break
    for key in ("steps", "checks", "reasons", "notes"):
        if isinstance(explanation.get(key), list):
            _step_rows(explanation[key], 0, rows)
    # Kind details (e.g. the routing rule or pool that matched): simple values only.
    for key, value in explanation.items():
        if key in EXPLANATION_STRUCTURE or key.endswith("_text"):
            continue
        if isinstance(value, str | int | float | bool) or (
            isinstance(value, list) and value and all(isinstance(item, str | int | float) for item in value)
        ):
            rows.append(
                {
                    "depth": 0,
                    "ok": None,
                    "text": f"{key.replace('_', ' ').capitalize()}: {value_text(value)}",
                    "actual": None,
                    "detail": _internal(key),
                }
            )
    for row in rows:
        row.setdefault("detail", False)
    rows.sort(key=lambda row: row["detail"])  # stable: the internal keys last, for the template's toggle
    return rows


EXPLANATION_STRUCTURE = {"conditions", "explain", "condition", "explanation", "steps", "checks", "reasons", "notes"}
# Keys a kind stores for machines and for people who debug (the kind's code, a policy's key, the sentence
# already shown as the run's summary, ids and dedupe keys): shown only behind the "Details" toggle.
INTERNAL_KEYS = {"kind", "policy", "text"}


def _internal(key: str) -> bool:
    return key in INTERNAL_KEYS or key.endswith(("_id", "_key", "_ids"))


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "—"
        return ", ".join(f"{key}: {_short(item)}" for key, item in value.items())
    return value_text(value)


# What the engine's actions store besides record fields, as people read it. Keys in ACTION_DETAIL_KEYS
# (and ``*_id``) are for machines and debugging: shown behind the "Details" toggle.
ACTION_KEY_LABELS = {
    "owner": "Owner",
    "title": "Title",
    "due_at": "Due",
    "remind_at": "Reminder",
    "policy": "SLA policy",
    "target_minutes": "Target",
    "kind": "Item",
    "note": "Note",
    "status": "Status",
    "reason": "Reason",
    "to": "To",
    "subject": "Subject",
}
ACTION_DETAIL_KEYS = {"dedupe_key", "created", "occurrences", "cancelled_clocks", "proposals", "joined", "reverted"}


def _row(label: str, before: str, after: str, *, detail: bool = False) -> dict:
    return {"label": label, "before": before, "after": after, "detail": detail}


def _action_value(key: str, value: Any, object_type: str, text: FieldText) -> str:
    if key in ("owner", "to") and isinstance(value, str | int) and not isinstance(value, bool):
        return text.record(Rep, value) or value_text(value)
    if key == "target_minutes" and isinstance(value, int | float):
        return human_duration(dt.timedelta(minutes=value))
    if key == "kind" and isinstance(value, str):
        return item_kind_label(value)
    return text.value(object_type, key, value)


def action_changes(before: Any, after: Any, object_type: str = "", text: FieldText | None = None) -> list[dict]:
    """Rows ``{label, before, after, detail}`` for an applied action's before/after values.

    Understands the engine's shapes: field updates ``{"key", "value"}`` (the dictionary's label, the
    value with names and labels), owner changes ``{"owner_id", "owner"}`` (the rep's name),
    approvals (``{"proposal": …}``: what would change once approved), and after-only results (a
    created task, an opened exception). Ids and bookkeeping keys are marked ``detail``.
    """
    text = text or FieldText()
    before = before if isinstance(before, Mapping) else {}
    after = after if isinstance(after, Mapping) else {}
    if isinstance(after.get("proposal"), Mapping):
        proposal = after["proposal"]
        rows = [
            {**row, "after": f"{row['after']} (once approved)"}
            for row in action_changes(proposal.get("before"), proposal.get("after"), object_type, text)
            if not row["detail"]
        ]
        rest = {key: value for key, value in after.items() if key != "proposal"}
        return rows + [row for row in action_changes({}, rest, object_type, text) if row["label"] != "Key"]
    if "key" in after and "value" in after:
        key = str(after["key"])
        return [
            _row(
                text.label(object_type, key),
                text.value(object_type, key, before.get("value")),
                text.value(object_type, key, after.get("value")),
            )
        ]
    keys = list(dict.fromkeys([*before, *after]))
    keys = [key for key in keys if not (key.endswith("_id") and key[:-3] in keys)]
    changed = [key for key in keys if before.get(key) != after.get(key)] or keys
    rows = []
    for key in changed:
        detail = key in ACTION_DETAIL_KEYS or key.endswith(("_id", "_ids")) or isinstance(after.get(key), Mapping)
        label = ACTION_KEY_LABELS.get(key) or text.label(object_type, key)
        if detail:
            rows.append(
                _row(key, _short(before.get(key)) if key in before else "—", _short(after.get(key)), detail=True)
            )
        else:
            shown_before = _action_value(key, before.get(key), object_type, text) if key in before else "—"
            rows.append(_row(label, shown_before, _action_value(key, after.get(key), object_type, text)))
    rows.sort(key=lambda row: row["detail"])  # stable: the details last, for the template's toggle
    return rows


def action_rows(actions, text: FieldText | None = None) -> list[dict]:
    """Applied actions as rows: label, target (the record's name), status, before → after."""
    text = text or FieldText()
    rows = []
    for action in actions:
        target = ""
        if action.object_type:
            name = None
            if action.object_type in RECORD_MODELS and action.object_id is not None:
                name = text.record(record_model(action.object_type), int(action.object_id))
            target = name or f"{action.object_type} #{action.object_id}"
        rows.append(
            {
                "action": action,
                "label": action_label(action.action),
                "tone": ACTION_STATUS_TONES.get(action.status, "neutral"),
                "status": action.get_status_display(),
                "target": target,
                "target_url": record_url(action.object_type, action.object_id),
                "params": _short(action.params),
                "changes": action_changes(action.before, action.after, action.object_type or "", text),
            }
        )
    return rows


def _planned_params(params: Any, object_type: str, text: FieldText) -> str:
    """An action's parameters in words: "Title: Call the lead · Owner: Katherine Hernandez · Due: …"."""
    if not isinstance(params, Mapping):
        return _short(params)
    params = dict(params)
    if isinstance(params.get("owner_id"), int) and "owner" not in params:
        params["owner"] = params.pop("owner_id")
    rows = action_changes({}, params, object_type, text)
    return " · ".join(
        f"{row['label']}: {row['after']}" for row in rows if not row["detail"] and row["after"] != "empty"
    )


def planned_rows(actions: Any, object_type: str = "", text: FieldText | None = None) -> list[dict]:
    """``actions_planned`` JSON (``[{"type", "params"}]``) as label + parameters in words."""
    text = text or FieldText()
    rows = []
    for item in actions or []:
        if not isinstance(item, Mapping):
            rows.append({"label": str(item), "params": ""})
            continue
        kind = item.get("type") or item.get("action") or "?"
        rows.append(
            {"label": action_label(str(kind)), "params": _planned_params(item.get("params") or {}, object_type, text)}
        )
    return rows


def run_context(run: AutomationRun, text: FieldText | None = None) -> dict:
    """What the why page and the run page show about one run (``text`` shares name look-ups across runs)."""
    text = text or FieldText()
    shadow = run.mode == "shadow"
    explanation = run_explanation(run, text.condition_fields())
    return {
        "run": run,
        "shadow": shadow,
        "mode_tone": MODE_TONES.get(run.mode, "neutral"),
        "outcome_tone": OUTCOME_TONES.get(run.outcome, "neutral"),
        "outcome_label": (
            "Would have fired (shadow)" if shadow and run.outcome == "fired" else run.get_outcome_display()
        ),
        "summary": run_summary(run, explanation=explanation),
        "rows": explanation_rows(explanation),
        "actions": action_rows(run.applied.all(), text),
        "planned": planned_rows(run.actions_planned, run.object_type, text),
        "run_url": reverse("admin:revops_automationrun_change", args=[run.pk]),
        "automation_url": reverse("admin:revops_automation_change", args=[run.automation_id]),
    }


def explanation_html(explanation: Any):
    """The explanation as a ✓/✗ list (used by the run admin)."""

    rows = explanation_rows(explanation)
    if not rows:
        return "—"
    return format_html("{}", render_to_string("admin/revops/includes/explanation.html", {"rows": rows}))
