"""Checklists' versions in words: required fields by their dictionary label, with their condition as a sentence."""

from __future__ import annotations

from typing import Any

from revops.models import FieldDefinition
from revops.version_words import condition_text, json_lines
from revops.versions import register_versioned, restore_with_save

from .models import Checklist
from .services import checklist_save


def _required_fields_text(entries: Any) -> str | None:
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "field" in e for e in entries):
        return None  # not the usual shape: the default rendering shows it as data
    if not entries:
        return "none"
    labels = dict(
        FieldDefinition.objects.filter(
            key__in=[e["field"] for e in entries], object_type__in=("opportunity", "account")
        )
        .order_by("-object_type")  # opportunity first: deal checklists are the common case
        .values_list("key", "label")
    )
    lines = []
    for entry in entries:
        label = labels.get(entry["field"], entry["field"])
        when = entry.get("when")
        lines.append(f"• {label}" + (f", when {condition_text(when, None)}" if when else ""))
    return "\n".join(lines)


def describe(name: str, value: Any) -> str | None:
    if name == "required_fields":
        return _required_fields_text(value)
    if name in ("attestations", "tasks") and isinstance(value, list):
        return "\n".join(json_lines(value)) if value else "none"
    return None


def register() -> None:
    register_versioned(
        Checklist,
        label="checklist",
        restore=restore_with_save(lambda checklist, **kw: checklist_save(checklist=checklist, **kw)),
        conditions={"conditions": None},
        describe=describe,
    )
