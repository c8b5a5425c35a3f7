"""Configuration as code for the duplicate rules: the ``duplicate_rules`` section.

Imported from ``DataQualityConfig.ready`` so the section joins ``revops.configuration`` (export,
plan, apply, prune; docs/dataquality.md has an example). A rule is identified by its name; its
fields are a list in order. Applied after the dictionary (order 44): fields name dictionary keys.
Writes go through ``duplicate_rule_save``.
"""

from __future__ import annotations

from typing import Any

from revops.configuration.base import Attr, Entry, Run, Section, register_section

from .models import DuplicateRule
from .services import duplicate_rule_delete, duplicate_rule_save

FIELD_ATTRS = (
    Attr("field", required=True),
    Attr("method", default="normalised"),
    Attr("similarity", "int", default=90),
    Attr("weight", "int", default=50),
    Attr("blocking", "bool", default=True),
)
FIELDS = Attr("fields", "entries", default=list, items=FIELD_ATTRS)


@register_section
class DuplicateRuleSection(Section):
    """Duplicate rules: the object, what ingest does (report or block), the points needed and the fields."""

    name = "duplicate_rules"
    order = 44
    identity_attrs = ("name",)
    attrs = (
        Attr("name", required=True),
        Attr("object_type", required=True),
        Attr("description"),
        Attr("is_active", "bool", default=True),
        Attr("action", default="report"),
        Attr("auto_merge", "bool", default=False),
        Attr("threshold", "int", default=100),
        FIELDS,
    )

    def identity(self, data: dict[str, Any]) -> str:
        return data["name"]

    def describe(self, key: str) -> str:
        return repr(key)

    def stored(self) -> dict[str, DuplicateRule]:
        return {rule.name: rule for rule in DuplicateRule.objects.prefetch_related("fields").order_by("name")}

    def serialize(self, obj: DuplicateRule) -> dict[str, Any]:
        fields = [
            {
                "field": f.field,
                "method": f.method,
                "similarity": f.similarity,
                "weight": f.weight,
                "blocking": f.blocking,
            }
            for f in obj.fields.all()
        ]
        return {
            "name": obj.name,
            "object_type": obj.object_type,
            "description": obj.description,
            "is_active": obj.is_active,
            "action": obj.action,
            "auto_merge": obj.auto_merge,
            "threshold": obj.threshold,
            "fields": FIELDS.parse(fields),
        }

    def _save(self, rule: DuplicateRule, entry: Entry, values: dict[str, Any], run: Run) -> None:
        for name in ("object_type", "description", "is_active", "action", "auto_merge", "threshold"):
            if name in values:
                setattr(rule, name, values[name])
        run.call(
            entry.location,
            duplicate_rule_save,
            rule=rule,
            fields=values.get("fields"),
            actor=run.actor,
            reason=run.reason,
        )

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        self._save(DuplicateRule(name=desired["name"]), entry, desired, run)

    def update(self, obj: DuplicateRule, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        self._save(obj, entry, changes, run)

    def remove(self, key: str, obj: DuplicateRule, run: Run) -> None:
        location = self.location(None, key)
        run.change(self.name, "delete", self.describe(key), location)
        run.call(location, duplicate_rule_delete, rule=obj, actor=run.actor, reason=run.reason)
