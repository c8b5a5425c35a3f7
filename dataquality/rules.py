"""Duplicate rules compiled for matching: ``RuleSpec`` scores a pair of prepared records and says why.

``active_specs(object_type)`` compiles the active rules once and reuses them while they are
unchanged (one query per call when nothing changed). ``prepare_rows`` turns ``values()`` rows (or
instances' ``__dict__``) into ``Prepared`` records: every compared form and blocking key computed
once, so scoring a pair is a handful of string comparisons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from revops.models import FieldDefinition

from . import matchers
from .matchers import Method
from .models import DuplicateRule
from .objects import DuplicateObject, duplicate_object


@dataclass(frozen=True)
class FieldSpec:
    key: str
    method: str
    label: str
    weight: int
    similarity: int
    blocking: bool
    normaliser: str
    company: bool

    @property
    def slot(self) -> tuple[str, str]:
        return (self.key, self.method)


@dataclass(frozen=True)
class RuleSpec:
    pk: int
    name: str
    object_type: str
    action: str
    threshold: int
    fields: tuple[FieldSpec, ...]

    def score(self, a: Prepared, b: Prepared) -> tuple[int, list[str]]:
        """The pair's points and the evidence of each matching field, in the rule's order."""
        points, lines = 0, []
        for spec in self.fields:
            form_a, shown_a = a.forms.get(spec.slot, ("", ""))
            form_b, shown_b = b.forms.get(spec.slot, ("", ""))
            score = matchers.similarity(spec.method, form_a, form_b, spec.similarity)
            if score:
                points += spec.weight
                lines.append(matchers.evidence(spec.method, spec.label, form_a, form_b, score, shown_a, shown_b))
        return points, lines

    @property
    def blocking_slots(self) -> set[tuple[str, str]]:
        return {spec.slot for spec in self.fields if spec.blocking}


@dataclass
class Prepared:
    """A record ready to compare: its id, external id, name, compared forms and blocking keys."""

    pk: int | None
    external_id: str
    name: str
    forms: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # slot -> (form, as shown)
    keys: set[str] = field(default_factory=set)


def field_labels(object_type: str) -> dict[str, tuple[str, str]]:
    """Dictionary key → (label, normaliser) of the object's fields, plus the registry's virtual fields."""
    entry = duplicate_object(object_type)
    labels = {
        key: (label, normaliser)
        for key, label, normaliser in FieldDefinition.objects.filter(object_type=object_type).values_list(
            "key", "label", "normalise"
        )
    }
    for key, virtual in (entry.virtual if entry else {}).items():
        labels[key] = (virtual.label, "none")
    return labels


def compile_rule(rule: DuplicateRule, fields=None, labels=None) -> RuleSpec:
    entry = duplicate_object(rule.object_type)
    labels = labels if labels is not None else field_labels(rule.object_type)
    specs = []
    for row in fields if fields is not None else rule.fields.all():
        label, normaliser = labels.get(row.field, (row.field.replace("_", " "), "none"))
        specs.append(
            FieldSpec(
                key=row.field,
                method=row.method,
                label=label[:1].lower() + label[1:] if not label[1:2].isupper() else label,
                weight=row.weight,
                similarity=row.similarity,
                blocking=row.blocking,
                normaliser=normaliser or "none",
                company=bool(entry and row.field in entry.company_fields),
            )
        )
    return RuleSpec(rule.pk, rule.name, rule.object_type, rule.action, rule.threshold, tuple(specs))


_SPECS: dict[int, tuple[dt.datetime, RuleSpec]] = {}


def active_specs(object_type: str | None = None) -> list[RuleSpec]:
    """The active rules (of ``object_type``) compiled, reused while unchanged (keyed by ``updated_at``)."""
    rows = DuplicateRule.objects.filter(is_active=True)
    if object_type is not None:
        rows = rows.filter(object_type=object_type)
    current = dict(rows.order_by("object_type", "name").values_list("pk", "updated_at"))
    stale = [pk for pk, updated_at in current.items() if pk not in _SPECS or _SPECS[pk][0] != updated_at]
    for rule in DuplicateRule.objects.filter(pk__in=stale).prefetch_related("fields"):
        if duplicate_object(rule.object_type) is not None:
            _SPECS[rule.pk] = (rule.updated_at, compile_rule(rule))
    return [_SPECS[pk][1] for pk in current if pk in _SPECS]


def best_match(specs: list[RuleSpec], a: Prepared, b: Prepared) -> tuple[int, int, tuple[str, ...]] | None:
    """``(rule id, points, evidence)`` of the rule that finds ``a`` and ``b`` duplicates by the widest
    margin over its threshold (None: no rule does)."""
    found = None
    for spec in specs:
        score, lines = spec.score(a, b)
        if score >= spec.threshold and (found is None or score - spec.threshold > found[0]):
            found = (score - spec.threshold, (spec.pk, score, tuple(lines)))
    return found[1] if found else None


def forget_spec(pk: int) -> None:
    _SPECS.pop(pk, None)


def slots_of(specs: list[RuleSpec]) -> tuple[dict[tuple[str, str], FieldSpec], set[tuple[str, str]]]:
    """Every compared slot of ``specs`` (one ``FieldSpec`` each) and the blocking ones."""
    slots: dict[tuple[str, str], FieldSpec] = {}
    blocking: set[tuple[str, str]] = set()
    for spec in specs:
        for f in spec.fields:
            slots.setdefault(f.slot, f)
            if f.blocking:
                blocking.add(f.slot)
    return slots, blocking


def needed_columns(entry: DuplicateObject, specs: list[RuleSpec]) -> list[str]:
    """The columns to load to prepare records for ``specs``: ids, the display and every field's sources."""
    columns = {"id", "external_id", *entry.display_columns}
    for spec in specs:
        for f in spec.fields:
            columns.update(entry.sources(f.key))
            if f.normaliser == "phone" and "country" in entry.columns:
                columns.add("country")  # the region of national phone numbers
    return sorted(columns)


def prepare_rows(entry: DuplicateObject, specs: list[RuleSpec], rows) -> list[Prepared]:
    """``Prepared`` records of ``rows`` (dicts holding ``needed_columns``) for ``specs``."""
    slots, blocking = slots_of(specs)
    out = []
    for row in rows:
        record = Prepared(row.get("id"), row.get("external_id") or "", entry.name_of(row))
        region = row.get("country") or None
        for slot, f in slots.items():
            value = entry.value(row, f.key)
            form = matchers.prepare(f.method, value, normaliser=f.normaliser, company=f.company, region=region)
            if not form:
                continue
            record.forms[slot] = (form, str(value).strip())
            if slot in blocking:
                record.keys |= matchers.keys(f.method, f.key, form)
        out.append(record)
    return out


__all__ = ["Method", "Prepared", "RuleSpec", "active_specs", "compile_rule", "prepare_rows"]
