"""The "Why?" view: every automation run on a record, newest first, explained in plain language.

``/admin/revops/<object>/<pk>/why/`` is added to each record admin by ``WhyMixin``, which also
puts a "Why? Automation runs (N)" button on the record's change page and a "why?" link on its
list rows. The page runs a constant number of queries whatever the number of runs: the record,
the runs (with automation, version and owners joined), their applied actions (one prefetch),
the record's open exception items and, for a lead, its running SLA clock and its latest routing
decision (``routing.admin.lead_routing_panel``: the decision and its SLA clock).

The explanation helpers here (``explanation_rows``, ``action_rows``) are shared with the run admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Prefetch
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from revops.conditions.render import value_text
from revops.models import AppliedAction, AutomationRun

WHY_RUN_LIMIT = 200

MODE_TONES = {"live": "ok", "shadow": "info", "draft": "neutral", "paused": "warn", "retired": "neutral"}
OUTCOME_TONES = {"fired": "ok", "not_fired": "neutral", "error": "danger", "pending": "warn"}
ACTION_STATUS_TONES = {"applied": "ok", "shadow": "info", "approval": "warn", "skipped": "neutral", "reverted": "warn"}
ACTION_LABELS = {
    "assign_owner": "Assign owner",
    "create_task": "Create task",
    "update_field": "Update field",
    "open_exception": "Open exception",
    "request_approval": "Request approval",
    "notify": "Notify",
    "start_sla_clock": "Start SLA clock",
    "stop_sla_clock": "Stop SLA clock",
    "merge_records": "Merge records",
}


# --- Selectors -------------------------------------------------------------------------------


def record_runs(object_type: str, object_id: int, *, limit: int = WHY_RUN_LIMIT) -> list[AutomationRun]:
    """The runs on one record, newest first, with automation, version, owners and actions loaded.

    Uses the engine's selector (``revops.engine.selectors.record_runs``) when it is there; the
    local query is the fallback while the engine is being built.
    """
    try:
        from revops.engine.selectors import record_runs as engine_record_runs
    except ImportError:
        engine_record_runs = None
    if engine_record_runs is not None:
        return list(engine_record_runs(object_type=object_type, object_id=object_id, limit=limit))
    queryset = (
        AutomationRun.objects.filter(object_type=object_type, object_id=object_id)
        .select_related("automation", "version", "automation__rule_owner", "automation__failure_owner")
        .prefetch_related(Prefetch("applied", queryset=AppliedAction.objects.order_by("index")))
        .order_by("-created_at", "-pk")
    )
    return list(queryset[:limit])


def open_exceptions(object_type: str, object_id: int):
    from exceptions.models import ExceptionItem

    return list(
        ExceptionItem.objects.filter(
            object_type=object_type, object_id=object_id, status__in=ExceptionItem.OPEN_STATUSES
        )
        .select_related("owner", "automation")
        .order_by("due_at", "pk")
    )


def routing_panel(object_type: str, object_id: int) -> dict | None:
    """For a lead: its latest routing decision explained (outcome, rule, owner, match, candidates, SLA)."""
    if object_type != "lead":
        return None
    from routing.admin import lead_routing_panel

    return lead_routing_panel(object_id)


def running_sla_clock(object_type: str, object_id: int):
    if object_type != "lead":
        return None
    from routing.models import SlaClock

    return SlaClock.objects.filter(lead_id=object_id, status=SlaClock.Status.RUNNING).select_related("owner").first()


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
                }
            )
    return rows


EXPLANATION_STRUCTURE = {"conditions", "explain", "condition", "explanation", "steps", "checks", "reasons", "notes"}


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        if not value:
            return "—"
        return ", ".join(f"{key}: {_short(item)}" for key, item in value.items())
    return value_text(value)


def record_url(object_type: str, object_id) -> str | None:
    if not object_type or object_id is None:
        return None
    try:
        return reverse(f"admin:revops_{object_type}_change", args=[object_id])
    except NoReverseMatch:
        return None


def why_url(object_type: str, object_id) -> str | None:
    try:
        return reverse(f"admin:revops_{object_type}_why", args=[object_id])
    except NoReverseMatch:
        return None


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
                "label": ACTION_LABELS.get(action.action, action.action.replace("_", " ").capitalize()),
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
        rows.append({"label": ACTION_LABELS.get(kind, str(kind)), "params": _short(item.get("params") or {})})
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
    from django.template.loader import render_to_string

    rows = explanation_rows(explanation)
    if not rows:
        return "—"
    return format_html("{}", render_to_string("admin/revops/includes/explanation.html", {"rows": rows}))


# --- The view --------------------------------------------------------------------------------


def why_view(model_admin, request, object_id):
    """Every run on one record, newest first, with its explanation, actions and what comes next."""
    model = model_admin.model
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model._meta.verbose_name} with id {object_id}.")
    if not model_admin.has_view_or_change_permission(request, obj):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied
    object_type = model._meta.model_name
    runs = record_runs(object_type, obj.pk)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Why? Automation runs on {obj}",
        "subtitle": None,
        "opts": model._meta,
        "original": obj,
        "object_type": object_type,
        "record_url": reverse(f"admin:revops_{object_type}_change", args=[obj.pk]),
        "runs": [run_context(run) for run in runs],
        "truncated": len(runs) >= WHY_RUN_LIMIT,
        "limit": WHY_RUN_LIMIT,
        "exceptions": open_exceptions(object_type, obj.pk),
        "sla_clock": running_sla_clock(object_type, obj.pk),
        "routing": routing_panel(object_type, obj.pk),
        "has_view_permission": True,
        "now": timezone.now(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/revops/why.html", context)


class WhyMixin:
    """Adds the why page to a record admin, a button to its change page and a link to its rows."""

    change_form_template = "admin/revops/why_change_form.html"

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(
                "<path:object_id>/why/",
                self.admin_site.admin_view(lambda request, object_id: why_view(self, request, object_id)),
                name="{}_{}_why".format(*info),
            )
        ]
        return extra + super().get_urls()

    def get_list_display(self, request):
        return (*super().get_list_display(request), "why_link")

    @admin.display(description="why")
    def why_link(self, obj):
        return format_html(
            '<a class="rv-why-link" href="{}" title="Automation runs on this record">why?</a>',
            reverse(f"admin:revops_{self.model._meta.model_name}_why", args=[obj.pk]),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj_pk = unquote(object_id)
        try:
            count = AutomationRun.objects.filter(object_type=self.model._meta.model_name, object_id=int(obj_pk)).count()
        except (TypeError, ValueError):
            count = 0
        extra_context["why_url"] = reverse(f"admin:revops_{self.model._meta.model_name}_why", args=[obj_pk])
        extra_context["why_count"] = count
        return super().change_view(request, object_id, form_url, extra_context)
