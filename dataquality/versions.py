"""The duplicate rules are versioned (``revops.versions``): every save records a numbered snapshot
with its fields; a restore goes through ``duplicate_rule_save`` like an edit."""

from __future__ import annotations

from revops.versions import Child, apply_fields, register_versioned, versioned

from .models import DuplicateRule, MatchField
from .services import duplicate_rule_save

FIELDS = "match_fields"


def duplicate_rule_restore(rule: DuplicateRule, data: dict, *, actor, reason: str) -> None:
    apply_fields(rule, data.get("fields", {}), versioned(DuplicateRule))
    rows = [
        {key: row.get(key) for key in ("field", "method", "similarity", "weight", "blocking") if key in row}
        for row in data.get(FIELDS, [])
    ]
    duplicate_rule_save(rule=rule, fields=rows, actor=actor, reason=reason)


def register() -> None:
    register_versioned(
        DuplicateRule,
        label="duplicate rule",
        restore=duplicate_rule_restore,
        children=(Child(MatchField, "rule", FIELDS, order=("position", "pk")),),
    )
