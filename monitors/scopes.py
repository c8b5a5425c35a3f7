"""Which records a monitor policy covers: its automation's conditions, checked for a whole chunk at once.

Shared by the hygiene scan (deals) and the renewal scan (accounts). A condition over the record's own
columns is evaluated in memory on the chunk's loaded records with the engine's compiled predicate; one
that follows a relation or reads custom attributes is one query per chunk; one that has no query form
(event operators, computed fields) is evaluated in memory, computed fields once per chunk.
"""

from __future__ import annotations

import datetime as dt
import json

from revops import conditions
from revops.conditions.schema import iter_leaves
from revops.selectors import record_model

# Operators whose Python evaluation over a loaded row is exactly the SQL filter's (text matching that
# ignores case is left to the database: PostgreSQL and Python fold some non-ASCII letters differently).
IN_MEMORY_OPS = frozenset(
    {"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "older_than_days", "within_days"}
    | {"in_past", "in_future", "within_next_days", "within_last_days", "is_empty", "is_not_empty"}
)


def in_memory(node) -> bool:
    """Whether every comparison reads a core column of the record itself (no relation, no custom attribute)."""
    for leaf in iter_leaves(node):
        field = leaf.field
        if leaf.relation is not None or not field.is_core or field.field_type == "multi_choice":
            return False
        if leaf.op not in IN_MEMORY_OPS:
            return False
        if field.field_type == "reference" and leaf.op not in ("is_empty", "is_not_empty"):
            return False  # compares the related record's external id: a join
    return True


class PolicyScope:
    """The records of a chunk that one condition tree covers (``ids``: None means all of them)."""

    def __init__(self, tree, now: dt.datetime, *, object_type: str):
        tree = tree or {"all": []}
        # A tree is "everything" only when it is an empty group: a single comparison has a "field".
        self.everything = (
            not any(tree.get(k) for k in ("all", "any", "not", "field")) if isinstance(tree, dict) else False
        )
        self.q = self.predicate = None
        self.now = now
        self.model = record_model(object_type)
        if self.everything:
            return
        predicate = conditions.compile_condition(tree, object_type=object_type)
        if in_memory(predicate.node):
            self.predicate = predicate
            return
        try:
            self.q = conditions.to_q(tree, object_type=object_type, now=now)
        except conditions.ConditionNotQueryable:
            self.predicate = predicate

    def ids(self, records: list) -> set[int] | None:
        if self.everything:
            return None
        if self.q is not None:
            pks = [record.pk for record in records]
            return set(self.model.objects.filter(pk__in=pks).filter(self.q).values_list("pk", flat=True))
        contexts = conditions.batch_contexts(records, predicate=self.predicate, now=self.now)
        return {ctx.record.pk for ctx in contexts if self.predicate(ctx)}


def policy_scopes(policies: list, now: dt.datetime, *, object_type: str) -> dict[int, PolicyScope]:
    """Each policy's scope by automation id; policies with the same conditions share one."""
    shared: dict[str, PolicyScope] = {}
    scopes = {}
    for automation in policies:
        key = json.dumps(automation.conditions, sort_keys=True, default=str)
        if key not in shared:
            shared[key] = PolicyScope(automation.conditions, now, object_type=object_type)
        scopes[automation.pk] = shared[key]
    return scopes
