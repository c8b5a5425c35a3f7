"""What a kind receives besides the record: the rule, the event, the clock and per-batch lookups."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from revops import conditions

# Relations loaded with every record, so conditions one hop away and owner names cost no query.
SELECT_RELATED = {
    "lead": ("owner", "owner__manager", "owner__team", "owner__user", "matched_account", "matched_account__owner"),
    "account": ("owner", "owner__manager", "owner__user", "parent"),
    "contact": ("owner", "owner__manager", "owner__user", "account", "account__owner", "converted_from_lead"),
    "opportunity": ("owner", "owner__manager", "owner__user", "account", "account__owner"),
    "activity": ("rep", "lead", "opportunity", "account"),
    "task": ("owner", "lead", "opportunity", "account"),
    "rep": ("team", "manager", "user"),
    "team": ("manager", "parent"),
}


@dataclass
class BatchCache:
    """Lookups shared by every run of one batch (reps by external id, users…); kinds may add their own."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, load):
        if key not in self.values:
            self.values[key] = load()
        return self.values[key]


@dataclass(slots=True)
class EvalContext:
    """The context of one evaluation. ``ctx`` is the condition ``Context`` (record, changes, now)."""

    automation: Any
    version: Any
    object_type: str
    record: Any
    now: dt.datetime
    changes: dict = field(default_factory=dict)
    event: Any = None
    fields: dict | None = None
    cache: BatchCache = field(default_factory=BatchCache)
    condition_context: conditions.Context | None = None  # shared by every rule evaluating the same event
    options: dict = field(default_factory=dict)  # what a direct call asks of the kind (e.g. re-route, exclude reps)

    @property
    def ctx(self) -> conditions.Context:
        if self.condition_context is None:
            self.condition_context = conditions.Context(self.record, changes=self.changes, now=self.now)
        return self.condition_context

    @property
    def config(self) -> dict:
        return self.version.config or {}

    def conditions_explanation(self, predicate) -> tuple[bool, dict]:
        """(matched, {"conditions": explain tree, "conditions_text": lines}) for the rule's conditions."""
        ctx = self.ctx
        matched = bool(predicate(ctx))
        tree = predicate.explain(ctx)
        return matched, {"conditions": tree, "conditions_text": conditions.explain_text(tree)}
