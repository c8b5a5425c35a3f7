"""The ``dictionary`` section: every data dictionary entry, core and custom, keyed by object and key."""

from __future__ import annotations

from typing import Any

from revops import services
from revops.models import Automation, FieldDefinition

from .base import Attr, Entry, Run, Section, register_section

# A core entry describes a table column: these mirror the column and cannot change from a file.
CORE_LOCKED = ("field_type", "is_core", "reference_to")


@register_section
class DictionarySection(Section):
    """Data dictionary entries through ``dictionary_field_create/update/delete``.

    Core entries (table columns) come from the database schema: a file may change their
    label, definition, requirement, source of truth, owning team, PII and deprecated flags
    (and narrow a choice column's allowed values), never their type, and prune never deletes
    them. Custom entries are created, updated and — with prune — deleted, unless records still
    hold a value or a non-retired automation reads them.
    """

    name = "dictionary"
    order = 10
    identity_attrs = ("object_type", "key")
    attrs = (
        Attr("object_type", required=True),
        Attr("key", required=True),
        Attr("label", required=True),
        Attr("field_type", required=True),
        Attr("is_core", "bool", default=False),
        Attr("definition", required=True),
        Attr("allowed_values", "text_list", default=list),
        Attr("reference_to"),
        Attr("required", default="never"),
        Attr("required_from", "text_list", default=list),
        Attr("enforcement", default="reject"),
        Attr("normalise", default="none"),
        Attr("source_of_truth", default="crm"),
        Attr("owning_team", required=True),
        Attr("is_pii", "bool", default=False),
        Attr("is_deprecated", "bool", default=False),
    )

    def identity(self, data: dict[str, Any]) -> str:
        return f"{data['object_type']}.{data['key']}"

    def stored(self) -> dict[str, FieldDefinition]:
        rows = FieldDefinition.objects.order_by("object_type", "-is_core", "key")
        return {f"{row.object_type}.{row.key}": row for row in rows}

    def serialize(self, obj: FieldDefinition) -> dict[str, Any]:
        return {
            a.name: list(getattr(obj, a.name) or []) if a.type == "text_list" else getattr(obj, a.name)
            for a in self.attrs
        }

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        run.call(entry.location, services.dictionary_field_create, actor=run.actor, reason=run.reason, **desired)

    def update(self, obj: FieldDefinition, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        if obj.is_core:
            locked = [name for name in CORE_LOCKED if name in changes]
            for name in locked:
                run.error(
                    entry.location,
                    name,
                    f"{obj} is a core column: its {name.replace('_', ' ')} mirrors the table and cannot change "
                    f"(stored: {getattr(obj, name)!r}).",
                )
            if locked:
                return
        run.call(
            entry.location, services.dictionary_field_update, field=obj, actor=run.actor, reason=run.reason, **changes
        )

    def remove(self, key: str, obj: FieldDefinition, run: Run) -> None:
        if obj.is_core:
            return  # core entries mirror table columns and are never deleted
        location = self.location(None, key)
        run.change(self.name, "delete", key, location)
        readers = sorted(
            a.name
            for a in Automation.objects.exclude(mode=Automation.Mode.RETIRED).only("name", "fields_used")
            if key in (a.fields_used or [])
        )
        if readers:
            run.error(
                location,
                "",
                f"automation(s) {', '.join(map(repr, readers))} still read {key}; change or retire them first, "
                "or keep the entry (mark it is_deprecated).",
            )
            return
        run.call(location, services.dictionary_field_delete, field=obj, actor=run.actor, reason=run.reason)
