"""Versions in words: each field by its label, references by name, conditions as sentences, JSON as lines.

``version_rows`` shows one version; ``version_diff`` compares any two (of the same object), listing
only what differs: ``{"label", "old", "new"}`` per field, and for children (a pool's members) the
lines removed and added. Used by the version page; ``revops.configuration.releases`` words its
release comparisons with ``json_lines`` too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.utils import formats

from .conditions import ConditionError
from .conditions.render import render as render_conditions
from .versions import Child, Versioned, child_fields

EMPTY = "—"


def json_lines(value: Any, indent: str = "") -> list[str]:
    """A JSON value as readable lines: ``key: value`` for maps, one line per list entry."""
    if isinstance(value, dict):
        if not value:
            return [f"{indent}{EMPTY}"]
        lines = []
        for key, item in value.items():
            label = str(key).replace("_", " ")
            if isinstance(item, dict | list) and item and not _flat_list(item):
                lines.append(f"{indent}{label}:")
                lines.extend(json_lines(item, indent + "  "))
            else:
                lines.append(f"{indent}{label}: {scalar_text(item)}")
        return lines
    if isinstance(value, list):
        if not value:
            return [f"{indent}{EMPTY}"]
        if _flat_list(value):
            return [indent + scalar_text(value)]
        lines = []
        for item in value:
            if isinstance(item, dict):
                lines.append(
                    indent + "• " + "; ".join(f"{str(k).replace('_', ' ')}: {scalar_text(v)}" for k, v in item.items())
                )
            else:
                lines.append(indent + "• " + scalar_text(item))
        return lines
    return [indent + scalar_text(value)]


def _flat_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def scalar_text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(scalar_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {scalar_text(v)}" for k, v in value.items())
    return str(value)


def _label(f: models.Field) -> str:
    text = str(f.verbose_name)
    return text[:1].upper() + text[1:]


def value_text(f: models.Field, value: Any, *, conditions: dict[str, str] | None = None, describe=None) -> str:
    """One stored value of field ``f`` as people read it."""
    if describe is not None:
        custom = describe(f.name, value)
        if custom is not None:
            return custom
    if value is None or value == "":
        return EMPTY
    if f.is_relation:
        target = f.related_model._default_manager.filter(pk=value).first()
        return str(target) if target is not None else f"a deleted {f.related_model._meta.verbose_name} (id {value})"
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(f, models.BooleanField):
        return "yes" if value else "no"
    if conditions and f.name in conditions:
        return condition_text(value, conditions[f.name])
    if isinstance(f, models.TimeField):
        return formats.time_format(dt.time.fromisoformat(value), "H:i")
    if isinstance(f, models.DateTimeField):
        return formats.date_format(dt.datetime.fromisoformat(value), "DATETIME_FORMAT")
    if isinstance(f, models.DateField):
        return formats.date_format(dt.date.fromisoformat(value), "DATE_FORMAT")
    if isinstance(f, models.JSONField):
        if f.name == "working_days" and _flat_list(value):
            return weekdays_text(value)
        return "\n".join(json_lines(value))
    return str(value)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def weekdays_text(days: list) -> str:
    names = [WEEKDAYS[d] for d in days if isinstance(d, int) and 0 <= d <= 6]
    return ", ".join(names) if names else "no days"


def condition_text(tree: Any, object_type: str | None) -> str:
    """A condition tree in words ("Country is one of US, CA and Score ≥ 50"); empty means every record."""
    if not tree or tree in ({"all": []}, {"any": []}):
        return "always (no conditions)"
    try:
        return render_conditions(tree, object_type=object_type)
    except (ConditionError, ValueError, TypeError, KeyError):
        return "\n".join(json_lines(tree))  # a field since removed from the dictionary: show it as data


def _child_line(child: Child, row: dict[str, Any]) -> str:
    parts = []
    for f in child_fields(child):
        value = row.get(f.name)
        if value in (None, "", [], {}) or f.name == "position":
            continue
        if isinstance(f, models.BooleanField):
            parts.append(_label(f) if value else f"not {str(f.verbose_name)}")
            continue
        parts.append(f"{_label(f)}: {value_text(f, value)}")
    return "; ".join(parts) or EMPTY


def version_rows(spec: Versioned, data: dict[str, Any]) -> list[dict[str, str]]:
    """Every field of one version: ``[{"label", "value"}]``, children as one line each."""
    values = data.get("fields", {})
    rows = [
        {
            "label": _label(f),
            "value": value_text(f, values.get(f.name), conditions=spec.conditions, describe=spec.describe),
        }
        for f in spec.fields()
        if f.name in values
    ]
    for child in spec.children:
        lines = [_child_line(child, row) for row in data.get(child.label, [])]
        rows.append({"label": child.label.capitalize(), "value": "\n".join(lines) or EMPTY})
    return rows


def version_diff(spec: Versioned, old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What differs between two versions, field by field, in words (``[]``: nothing)."""
    diff = []
    old_values, new_values = old.get("fields", {}), new.get("fields", {})
    for f in spec.fields():
        before, after = old_values.get(f.name), new_values.get(f.name)
        if before == after:
            continue
        kwargs = {"conditions": spec.conditions, "describe": spec.describe}
        diff.append({"label": _label(f), "old": value_text(f, before, **kwargs), "new": value_text(f, after, **kwargs)})
    for child in spec.children:
        before_lines = [_child_line(child, row) for row in old.get(child.label, [])]
        after_lines = [_child_line(child, row) for row in new.get(child.label, [])]
        if before_lines == after_lines:
            continue
        removed = [line for line in before_lines if line not in after_lines]
        added = [line for line in after_lines if line not in before_lines]
        entry = {
            "label": child.label.capitalize(),
            "old": "\n".join(before_lines) or EMPTY,
            "new": "\n".join(after_lines) or EMPTY,
            "removed": removed,
            "added": added,
        }
        if not removed and not added:
            entry["note"] = "the same entries in another order"
        diff.append(entry)
    return diff


def diff_sentence(spec: Versioned, diff: list[dict[str, Any]]) -> str:
    """A one-line summary: "Changed: Status, Conditions." (or that nothing differs)."""
    if not diff:
        return "The two versions are the same."
    return "Changed: " + ", ".join(entry["label"] for entry in diff) + "."
