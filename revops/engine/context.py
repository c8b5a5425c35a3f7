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


class EvalContext:
    """The context of one evaluation. ``ctx`` is the condition ``Context`` (record, changes, now).

    Built for every (rule, record) the engine evaluates, so it is a plain slotted class whose
    ``changes``, ``cache`` and ``options`` are created only when a kind reads them.
    """

    __slots__ = (
        "automation",
        "version",
        "object_type",
        "record",
        "now",
        "event",
        "fields",
        "condition_context",  # shared by every rule evaluating the same event
        "_changes",
        "_cache",
        "_options",
        "judged",  # (predicate, checked): the rule's conditions, set by the engine when it found they hold
    )

    def __init__(
        self,
        automation: Any,
        version: Any,
        object_type: str,
        record: Any,
        now: dt.datetime,
        changes: dict | None = None,
        event: Any = None,
        fields: dict | None = None,
        cache: BatchCache | None = None,
        condition_context: conditions.Context | None = None,
        options: dict | None = None,  # what a direct call asks of the kind (e.g. re-route, exclude reps)
    ):
        self.automation = automation
        self.version = version
        self.object_type = object_type
        self.record = record
        self.now = now
        self._changes = changes
        self.event = event
        self.fields = fields
        self._cache = cache
        self.condition_context = condition_context
        self._options = options
        self.judged = None

    def __repr__(self) -> str:
        return f"EvalContext({self.object_type} {getattr(self.record, 'pk', None)}, {self.automation!r})"

    @property
    def changes(self) -> dict:
        if self._changes is None:
            self._changes = {}
        return self._changes

    @changes.setter
    def changes(self, value: dict) -> None:
        self._changes = value

    @property
    def cache(self) -> BatchCache:
        if self._cache is None:
            self._cache = BatchCache()
        return self._cache

    @cache.setter
    def cache(self, value: BatchCache) -> None:
        self._cache = value

    @property
    def options(self) -> dict:
        if self._options is None:
            self._options = {}
        return self._options

    @options.setter
    def options(self, value: dict) -> None:
        self._options = value

    @property
    def ctx(self) -> conditions.Context:
        if self.condition_context is None:
            self.condition_context = conditions.Context(self.record, changes=self._changes, now=self.now)
        return self.condition_context

    @property
    def config(self) -> dict:
        return self.version.config or {}

    def conditions_checked(self, predicate) -> tuple[bool, dict]:
        """(matched, {"checked": each condition's actual value and result}): the compact form a run
        stores, expanded into the tree and its lines when shown (``engine.selectors.run_explanation``)."""
        checked = self.judged_for(predicate)
        if checked is not None:
            return True, {"checked": checked}
        matched, checked = predicate.judge(self.ctx)
        return bool(matched), {"checked": checked}

    def judged_for(self, predicate) -> list | None:
        """``predicate``'s conditions as the engine checked them, when it found they hold (``judged``)."""
        judged = self.judged
        return judged[1] if judged is not None and judged[0] is predicate else None

    def conditions_explanation(self, predicate) -> tuple[bool, dict]:
        """(matched, {"conditions": explain tree, "conditions_text": lines}) for the rule's conditions."""
        ctx = self.ctx
        matched = bool(predicate(ctx))
        tree = predicate.explain(ctx)
        return matched, {"conditions": tree, "conditions_text": conditions.explain_text(tree)}
