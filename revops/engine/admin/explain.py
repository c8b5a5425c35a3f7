"""Runs explained in plain language: the run cards of the Why page, the run admin and an item's page.

``explanation_rows`` turns a kind's structured explanation into ✓/✗ rows with the actual values,
``action_rows`` the applied actions into label, target, status and before → after,
``run_context`` one run into what ``admin/revops/includes/run_card.html`` shows. Action labels
come from the action registry (``revops.engine.registry.action_label``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from revops.admin.links import record_url
from revops.conditions.render import value_text
from revops.models import AutomationRun

from ..registry import action_label

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


def action_changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """``(what, before, after)`` rows for an applied action's before/after values.

    Understands the engine's shapes: field updates ``{"key", "value"}``, owner changes
    ``{"owner_id", "owner"}`` (the CRM id is shown, not the database id), and after-only results
    (a created task, an opened exception).
    """
    before = before if isinstance(before, Mapping) else {}
    after = after if isinstance(after, Mapping) else {}
    if "key" in after and "value" in after:
        return [(str(after["key"]), value_text(before.get("value")), value_text(after.get("value")))]
    keys = list(dict.fromkeys([*before, *after]))
    keys = [key for key in keys if not (key.endswith("_id") and key[:-3] in keys)]
    changed = [key for key in keys if before.get(key) != after.get(key)] or keys
    return [(key, _short(before.get(key)) if key in before else "—", _short(after.get(key))) for key in changed]


def action_rows(actions) -> list[dict]:
    """Applied actions as rows: label, target, status, before → after."""
    rows = []
    for action in actions:
        rows.append(
            {
                "action": action,
                "label": action_label(action.action),
                "tone": ACTION_STATUS_TONES.get(action.status, "neutral"),
                "status": action.get_status_display(),
                "target": f"{action.object_type} #{action.object_id}" if action.object_type else "",
                "target_url": record_url(action.object_type, action.object_id),
                "params": _short(action.params),
                "changes": action_changes(action.before, action.after),
            }
        )
    return rows


def planned_rows(actions: Any) -> list[dict]:
    """``actions_planned`` JSON (``[{"type", "params"}]``) as label + parameters."""
    rows = []
    for item in actions or []:
        if not isinstance(item, Mapping):
            rows.append({"label": str(item), "params": ""})
            continue
        kind = item.get("type") or item.get("action") or "?"
        rows.append({"label": action_label(str(kind)), "params": _short(item.get("params") or {})})
    return rows


def run_context(run: AutomationRun) -> dict:
    """What the why page and the run page show about one run."""
    shadow = run.mode == "shadow"
    return {
        "run": run,
        "shadow": shadow,
        "mode_tone": MODE_TONES.get(run.mode, "neutral"),
        "outcome_tone": OUTCOME_TONES.get(run.outcome, "neutral"),
        "outcome_label": (
            "Would have fired (shadow)" if shadow and run.outcome == "fired" else run.get_outcome_display()
        ),
        "rows": explanation_rows(run.explanation),
        "actions": action_rows(run.applied.all()),
        "planned": planned_rows(run.actions_planned),
        "run_url": reverse("admin:revops_automationrun_change", args=[run.pk]),
        "automation_url": reverse("admin:revops_automation_change", args=[run.automation_id]),
    }


def explanation_html(explanation: Any):
    """The explanation as a ✓/✗ list (used by the run admin)."""

    rows = explanation_rows(explanation)
    if not rows:
        return "—"
    return format_html("{}", render_to_string("admin/revops/includes/explanation.html", {"rows": rows}))
