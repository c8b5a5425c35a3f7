"""Releases: every configuration-as-code apply that changed something, numbered, with the whole result.

``release_record`` stores one (called by ``config_apply`` inside its transaction, with the export
taken right after the apply); ``release_compare`` says, section by section and entry by entry,
what differs between two releases' documents, in words. Rolling back to a release (applying its
document again) is ``revops.configuration.rollback``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from revops.models import ConfigRelease
from revops.version_words import EMPTY, condition_text, json_lines, scalar_text

from .base import Plan, Section, sections


def release_record(
    *, plan: Plan, document: dict[str, Any], actor, source: str, reason: str = "", rolled_back_to: int | None = None
) -> ConfigRelease:
    """Record an applied plan as the next release (call inside the apply's transaction)."""
    last = ConfigRelease.objects.select_for_update().order_by("-number").first()
    number = (last.number if last else 0) + 1
    return ConfigRelease.objects.create(
        number=number,
        created_by=actor if getattr(actor, "pk", None) else None,
        source=source[:200],
        reason=(reason or "")[:300],
        document=document,
        summary=plan.summary()[:300],
        changes=[change.as_dict() for change in plan.changes],
        rolled_back_to=rolled_back_to,
    )


def release_latest_number() -> int:
    return ConfigRelease.objects.aggregate(n=Max("number"))["n"] or 0


# --- comparing ------------------------------------------------------------------------------------

ACTIONS = {"added": "added", "removed": "removed", "changed": "changed"}


def _attr_text(name: str, value: Any) -> str:
    if name == "conditions" and isinstance(value, dict):
        return condition_text(value, None)
    if isinstance(value, dict | list) and value and not all(not isinstance(v, dict | list) for v in value):
        return "\n".join(json_lines(value))
    return scalar_text(value)


def _full(section: Section | None, entry: dict[str, Any]) -> dict[str, Any]:
    """An exported entry with its omitted keys filled with their defaults (omitted means default)."""
    if section is None:
        return dict(entry)
    return {attr.name: entry.get(attr.name, attr.empty()) for attr in section.attrs}


def _key(section: Section | None, entry: dict[str, Any], index: int) -> str:
    if section is None:
        return str(entry.get("name") or entry.get("key") or index)
    try:
        return section.describe(section.identity(_full(section, entry)))
    except (KeyError, TypeError, ValueError):
        return str(index)


def release_compare(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """What changes from document ``old`` to document ``new``: per section, the entries added, removed
    and changed (each changed attribute with its old and new value in words). Empty: identical."""
    known = {section.name: section for section in sections()}
    names = [name for name in known if name in old or name in new]
    names += sorted(n for n in {*old, *new} if n not in known and n not in ("version", "prune"))
    result = []
    for name in names:
        section = known.get(name)
        before = {_key(section, e, i): e for i, e in enumerate(old.get(name) or []) if isinstance(e, dict)}
        after = {_key(section, e, i): e for i, e in enumerate(new.get(name) or []) if isinstance(e, dict)}
        entries = []
        for key, entry in after.items():
            if key not in before:
                entries.append({"key": key, "action": "added", "fields": _fields(section, {}, entry, created=True)})
        for key, entry in before.items():
            if key not in after:
                entries.append({"key": key, "action": "removed", "fields": []})
            else:
                fields = _fields(section, entry, after[key])
                if fields:
                    entries.append({"key": key, "action": "changed", "fields": fields})
        if entries:
            result.append({"section": name, "label": name.replace("_", " ").capitalize(), "entries": entries})
    return result


def _fields(section, old: dict, new: dict, *, created: bool = False) -> list[dict[str, str]]:
    full_old = _full(section, old) if not created else {}
    full_new = _full(section, new)
    fields = []
    for name in full_new.keys() | full_old.keys():
        before, after = full_old.get(name), full_new.get(name)
        if before == after or (created and name not in new):
            continue
        fields.append(
            {
                "label": name.replace("_", " ").capitalize(),
                "old": EMPTY if created else _attr_text(name, before),
                "new": _attr_text(name, after),
            }
        )
    order = [a.name.replace("_", " ").capitalize() for a in section.attrs] if section else []
    return sorted(fields, key=lambda f: order.index(f["label"]) if f["label"] in order else len(order))


def release_compare_text(changes: list[dict[str, Any]]) -> str:
    """The comparison as plain text (the command line's output)."""
    if not changes:
        return "The two releases have the same configuration.\n"
    lines = []
    for section in changes:
        lines.append(f"{section['label']}:")
        for entry in section["entries"]:
            lines.append(f"  {entry['action']}: {entry['key']}")
            for f in entry["fields"]:
                old = f["old"].replace("\n", "; ")
                new = f["new"].replace("\n", "; ")
                lines.append(
                    f"      {f['label']}: {new}" if entry["action"] == "added" else f"      {f['label']}: {old} → {new}"
                )
    return "\n".join(lines) + "\n"
