"""Duplicate rules compiled for matching: ``RuleSpec`` scores a pair of prepared records and says why.

``active_specs(object_type)`` compiles the active rules once and reuses them while they are
unchanged (one query per call when nothing changed). ``prepare_rows`` turns ``values()`` rows (or
instances' ``__dict__``) into ``Prepared`` records: every compared form and blocking key computed
once, so scoring a pair is a handful of string comparisons.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rapidfuzz.fuzz import ratio

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
        """The pair's points and, when they reach the threshold, the evidence of each matching field in
        the rule's order (below the threshold nobody reads it: an empty list)."""
        points, matched = 0, []
        forms_a, forms_b = a.forms, b.forms
        remaining = self.total
        for spec in self.fields:
            remaining -= spec.weight
            x = forms_a.get(spec.slot)
            y = forms_b.get(spec.slot) if x is not None else None
            if y is not None:
                if spec.method == Method.FUZZY:
                    similar = ratio(x[0], y[0], score_cutoff=spec.similarity)
                else:
                    similar = 100.0 if x[0] == y[0] else 0.0
                if similar:
                    points += spec.weight
                    matched.append((spec, x, y, similar))
            if points + remaining < self.threshold:
                return points, []  # the fields left cannot reach the threshold
        if points < self.threshold:
            return points, []
        lines = [matchers.evidence(s.method, s.label, x[0], y[0], sim, x[1], y[1]) for s, x, y, sim in matched]
        return points, lines

    @property
    def total(self) -> int:
        return self._total

    def __post_init__(self):
        object.__setattr__(self, "_total", sum(f.weight for f in self.fields))

    @property
    def blocking_slots(self) -> set[tuple[str, str]]:
        return {spec.slot for spec in self.fields if spec.blocking}


@dataclass(slots=True)
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
    """``Prepared`` records of ``rows`` (dicts holding ``needed_columns``) for ``specs``. Values repeat
    (company names, e-mail domains, first names): each distinct value is prepared once per call."""
    slots, blocking = slots_of(specs)
    plan = [
        (slot, entry.getter(f.key), f.method, f.normaliser, f.company, f.key, slot in blocking, f.normaliser == "phone")
        for slot, f in slots.items()
    ]
    prepare, keys = matchers.prepare, matchers.keys
    memo: dict = {}
    out = []
    for row in rows:
        record = Prepared(row.get("id"), row.get("external_id") or "", entry.name_of(row))
        region = row.get("country") or None
        forms, record_keys = record.forms, record.keys
        for slot, get, method, normaliser, company, key, is_blocking, by_region in plan:
            value = get(row)
            if not value:
                continue
            memo_key = (slot, value, region) if by_region else (slot, value)
            done = memo.get(memo_key)
            if done is None:
                form = prepare(method, value, normaliser=normaliser, company=company, region=region)
                found = keys(method, key, form) if is_blocking and form else None
                done = memo[memo_key] = ((form, str(value).strip()) if form else None, found)
            shown, found = done
            if shown is None:
                continue
            forms[slot] = shown
            if found:
                record_keys |= found
        out.append(record)
    return out


US, RS = "\x1f", "\x1e"  # unit and record separators: never in a form (prepare folds control characters away)


def prepared_rows(records: list[Prepared]) -> list[dict]:
    """``Prepared`` records as ``DuplicatePrepared`` rows (``prepared_from_rows`` reads them back): the
    forms as one text, cheap to write and to split again (a record is read back many times)."""
    out = []
    for r in records:
        parts = []
        for (key, method), (form, shown) in r.forms.items():
            parts.append(US.join((key, method, form, "" if shown == form else _clean(shown))))
        out.append(
            {"object_id": r.pk, "external_id": r.external_id[:64], "name": r.name[:200], "forms": RS.join(parts)}
        )
    return out


def _clean(text: str) -> str:
    return text.replace(US, " ").replace(RS, " ")


def prepared_from_rows(rows) -> list[Prepared]:
    """``(object_id, external_id, name, forms)`` rows of ``DuplicatePrepared`` as ``Prepared`` records."""
    out = []
    for pk, ext, name, text in rows:
        forms = {}
        if text:
            for part in text.split(RS):
                key, method, form, shown = part.split(US)
                forms[(key, method)] = (form, shown or form)
        out.append(Prepared(pk, ext, name, forms))
    return out


__all__ = ["Method", "Prepared", "RuleSpec", "active_specs", "compile_rule", "prepare_rows"]
