"""The CRM sync service: bulk upsert of mirrored records, keyed by ``external_id``.

``sync_batch_apply`` takes the already-parsed records of one ``POST /api/v1/sync/<object>/`` and,
in ONE transaction, writes the changed rows, one history row per real change (attributed to the
token's user with the batch as reason), one ``OutboxEvent`` per change, a ``SyncBatch`` with the
counts and a ``SyncFailure`` per rejected record. After commit one RQ job per batch is enqueued on
the "hot" queue to process the batch's events.

Rules (see ``docs/sync.md``-style notes in ``sync_batch_apply``'s docstring):

* Records are partial: keys that are absent keep their stored value; ``null`` clears a value
  (text columns become ``""``, a column that cannot be empty falls back to its default).
* ``source_updated_at`` is required on every record. An update older than the stored value is
  ``stale`` and not applied; an equal or newer one is applied.
* ``unchanged`` means no value differs: no history, no event. The stored ``source_updated_at``
  still moves forward (a single-column write), otherwise a later-delivered older update could
  win over a newer, identical one and out-of-order delivery would end in a different state.
* References name the other object's ``external_id``; they resolve against the portal and, for
  references to the same object type, against records created earlier or later in the batch.
* An ``external_id`` may appear once per batch: later copies are rejected, naming the first.
* ``source_updated_at`` more than ``SYNC_MAX_FUTURE_SKEW_SECONDS`` ahead of the portal's clock is
  rejected (it would make every later real update ``stale``).
* Values no column can store (NUL characters, lone surrogates, ``NaN``/``Infinity``) reject their
  record only, with the field named; nesting deeper than ``MAX_VALUE_DEPTH`` is a 400 for the batch.
* Event ``changes`` use dictionary keys (core and custom alike, they share one namespace per
  object) and JSON values: references as external ids, decimals as strings, dates in ISO 8601.

The hot path avoids per-record ORM work: one query for the batch's existing rows (locked, in
primary-key order, so concurrent batches touching the same records serialise instead of losing
an update), one query per referenced object type, then bulk inserts/updates.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from .bulk_writes import InArray
from .models import Account, Activity, Contact, Lead, Opportunity, OutboxEvent, Rep, SyncBatch, Task, Team
from .outbox import outbox_enqueue_batch
from .plugins import IngestRecord, ingest_checks, sync_rejection_handlers
from .sync_columns import InvalidColumnValue, column_jsonable, model_meta, record_instance
from .sync_failures import raise_gaps, record_failures
from .sync_writers import OrmWriter, PgWriter
from .validation import (
    MAX_VALUE_DEPTH,
    MISSING,
    REGION_REFERENCES,
    NestingTooDeep,
    NonFinite,
    RecordValidator,
    safe_text,
    unstorable_errors,
    validator_for,
)

# URL name -> dictionary object type.
SYNC_OBJECTS: dict[str, str] = {
    "teams": "team",
    "reps": "rep",
    "accounts": "account",
    "leads": "lead",
    "contacts": "contact",
    "opportunities": "opportunity",
    "activities": "activity",
}
MODELS: dict[str, type[models.Model]] = {
    "team": Team,
    "rep": Rep,
    "account": Account,
    "lead": Lead,
    "contact": Contact,
    "opportunity": Opportunity,
    "activity": Activity,
    "task": Task,
}
STATUSES = ("created", "updated", "unchanged", "stale", "rejected")
# Keys every record carries that are not "values" of the record.
_IDENTITY_KEYS = frozenset({"external_id", "source_updated_at"})
_MAX_ATTEMPTS = 3


class SyncInputError(Exception):
    """The request body cannot be processed at all; nothing is written."""

    def __init__(self, detail: str, *, status: int = 400):
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass
class SyncOutcome:
    """What one batch did: the per-record results in request order and the counts per status."""

    object_type: str
    results: list[dict[str, Any]]
    counts: dict[str, int]
    batch: SyncBatch | None = None
    applied: bool = True  # False when ?atomic=true and a record was rejected: nothing was written

    def as_response(self) -> dict[str, Any]:
        return {"batch": self.batch.pk if self.batch else None, "results": self.results, "counts": self.counts}


# --------------------------------------------------------------------------------------------
# Parsing


class ParsedRecords(list):
    """The records of a body; ``check_text`` is False when the body cannot hold a NUL character or a
    lone surrogate (no ``\\u0000``/``\\udXXX`` escape, no encoded surrogate), so strings need no scan."""

    check_text = True


# JSON escapes of NUL and of surrogates, and surrogates encoded as UTF-8 bytes (``json`` decodes
# those with "surrogatepass"). A match (even inside an escaped backslash) only means "scan strings".
_SUSPICIOUS_TEXT = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])|\xed[\xa0-\xbf]")


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


def sync_records_from_body(body: bytes, *, max_records: int) -> list[dict[str, Any]]:
    """Parse a request body into its list of records, or raise ``SyncInputError`` naming the problem.

    ``NaN``, ``Infinity`` and numbers too large for a float are kept as ``NonFinite`` markers, so
    that ``sync_batch_apply`` rejects only the records that hold them.
    """
    try:
        data = json.loads(body, parse_constant=NonFinite, parse_float=_parse_float)
    except UnicodeDecodeError:
        raise SyncInputError("The request body is not UTF-8 encoded JSON.") from None
    except json.JSONDecodeError as exc:
        raise SyncInputError(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except ValueError as exc:  # e.g. an integer of more than sys.get_int_max_str_digits() digits
        raise SyncInputError(f"The request body holds a value JSON cannot carry: {exc}.") from None
    except RecursionError:
        raise SyncInputError(
            f"The request body is nested too deeply; a field's value may be nested at most {MAX_VALUE_DEPTH} levels."
        ) from None
    if not isinstance(data, dict):
        raise SyncInputError(f'The request body must be a JSON object {{"records": [...]}}, not {_kind(data)}.')
    if "records" not in data:
        raise SyncInputError('The request body has no "records" key; send {"records": [...]}.')
    unknown = sorted(set(data) - {"records"})
    if unknown:
        raise SyncInputError(f'Unknown top-level key(s) {", ".join(map(repr, unknown))}; only "records" is allowed.')
    records = data["records"]
    if not isinstance(records, list):
        raise SyncInputError(f'"records" must be a list of objects, not {_kind(records)}.')
    if len(records) > max_records:
        raise SyncInputError(
            f'"records" holds {len(records)} records; at most {max_records} are accepted per batch. Split the batch.',
            status=413,
        )
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise SyncInputError(f"records[{index}] must be an object, not {_kind(record)}.")
        ext = record.get("external_id")
        if ext is None:
            raise SyncInputError(f"records[{index}] has no external_id; every record needs the CRM's id.")
        if isinstance(ext, bool) or not isinstance(ext, str | int) or str(ext).strip() == "":
            raise SyncInputError(f"records[{index}].external_id must be a non-empty string, not {ext!r}.")
    parsed = ParsedRecords(records)
    parsed.check_text = _SUSPICIOUS_TEXT.search(body) is not None
    return parsed


def _unstorable(records: Sequence[dict]) -> dict[int, dict[str, list[str]]]:
    """Per record index, the errors of values no column can store (see ``unstorable_errors``)."""
    check_text = getattr(records, "check_text", True)
    found = {}
    for index, record in enumerate(records):
        try:
            errors = unstorable_errors(record, check_text=check_text)
        except NestingTooDeep as exc:
            raise SyncInputError(
                f"records[{index}].{safe_text(str(exc.key))} is nested more than {MAX_VALUE_DEPTH} levels deep; "
                "nothing was written."
            ) from None
        if errors:
            found[index] = errors
    return found


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


# --------------------------------------------------------------------------------------------
# Planning: decide every record's outcome in memory, against the state earlier records left


@dataclass(slots=True)
class _State:
    """One external id's current in-memory row: the instance, its references by external id."""

    instance: models.Model
    refs: dict[str, str | None]
    is_new: bool
    changed_columns: set[str] = field(default_factory=set)
    touched: bool = False
    changes: int = 0


@dataclass(slots=True)
class _Change:
    ext: str
    kind: str
    changed_fields: list[str]
    changes: dict[str, list]
    snapshot: dict[str, Any]
    refs: dict[str, str | None]
    sequence: int  # how many earlier changes of the same record this batch made


@dataclass
class _Plan:
    results: list[dict[str, Any]]
    states: dict[str, _State]
    changes: list[_Change]
    failures: list[tuple[int, dict, dict]]
    counts: dict[str, int]
    normalised: dict[str, int]  # values a dictionary normaliser rewrote, per field key


class _Context:
    """Everything fetched once per batch: the validator, existing rows and reference maps."""

    def __init__(
        self,
        object_type: str,
        validator: RecordValidator,
        records: Sequence[dict],
        unstorable: dict[int, dict[str, list[str]]],
    ):
        self.object_type = object_type
        self.model = MODELS[object_type]
        self.meta = model_meta(self.model)
        self.validator = validator
        self.ref_specs = {k: s.reference_to for k, s in validator.specs.items() if s.field_type == "reference"}
        self.required_keys = [k for k, s in validator.specs.items() if s.required != "never"]
        # The region of national phone numbers: the record's own country, or its referenced record's.
        self.region_ref = REGION_REFERENCES.get(object_type) if validator.needs_region else None
        if validator.needs_region and not self.region_ref and "country" not in self.required_keys:
            self.required_keys.append("country")
        # Records rejected before planning (values no column can store): never looked up.
        self.unstorable = unstorable
        # Records an ingest check refused (``revops.plugins.register_ingest_check``), by index.
        self.blocked: dict[int, dict[str, list[str]]] = {}
        self.exts = [str(r["external_id"]).strip() for r in records]
        for index in unstorable:
            self.exts[index] = safe_text(self.exts[index])
        ordered = sorted({ext for i, ext in enumerate(self.exts) if i not in unstorable})
        # Stored rows as {attname: value}; every planning pass builds its own instances from them.
        self.attnames = [f.attname for f in self.model._meta.concrete_fields]
        rows = (
            self.model.objects.select_for_update()
            .filter(InArray("external_id", ordered))
            .order_by("pk")
            .values_list(*self.attnames)
        )
        self.existing = {row["external_id"]: row for row in (dict(zip(self.attnames, r, strict=True)) for r in rows)}
        # Reference maps per target type: external id -> pk and pk -> external id.
        wanted_exts: dict[str, set[str]] = {}
        wanted_ids: dict[str, set[int]] = {}
        for index, record in enumerate(records):
            if index in unstorable:
                continue
            for key, target in self.ref_specs.items():
                raw = record.get(key)
                if isinstance(raw, str | int) and not isinstance(raw, bool):
                    wanted_exts.setdefault(target, set()).add(str(raw).strip())
        for key, attname in self.meta.fks.items():
            target = self.ref_specs.get(key)
            if target:
                ids = {row[attname] for row in self.existing.values()} - {None}
                if ids:
                    wanted_ids.setdefault(target, set()).update(ids)
        self.ext_to_pk: dict[str, dict[str, int]] = {}
        self.pk_to_ext: dict[str, dict[int, str]] = {}
        for target in set(wanted_exts) | set(wanted_ids):
            exts, ids = wanted_exts.get(target, set()), wanted_ids.get(target, set())
            rows = (
                MODELS[target]
                .objects.filter(Q(InArray("external_id", exts)) | Q(InArray("pk", ids)))
                .values_list("pk", "external_id")
            )
            self.ext_to_pk[target] = {ext: pk for pk, ext in rows if ext is not None}
            self.pk_to_ext[target] = {pk: ext for pk, ext in rows}
        self.region_of: dict[str, str] = {}
        if self.region_ref:
            target = self.ref_specs.get(self.region_ref)
            exts = set(self.ext_to_pk.get(target, ()))
            if exts:
                rows = MODELS[target].objects.filter(InArray("external_id", exts)).values_list("external_id", "country")
                self.region_of = {ext: country for ext, country in rows if country}

    def state_for_existing(self, row: dict[str, Any]) -> _State:
        obj = record_instance(self.model, row, stored=True)  # planning changes it; the stored row stays as read
        refs = {}
        for key, attname in self.meta.fks.items():
            target = self.ref_specs.get(key)
            if target:
                pk = row[attname]
                refs[key] = None if pk is None else self.pk_to_ext[target].get(pk)
        return _State(instance=obj, refs=refs, is_new=False)

    def required_values(self, state: _State) -> dict[str, Any]:
        """The stored values of required keys, so required checks consider the stored record."""
        obj, values = state.instance, {}
        for key in self.required_keys:
            if key in state.refs:
                values[key] = state.refs[key]
            elif key in self.meta.columns:
                values[key] = getattr(obj, key)
            else:
                values[key] = (getattr(obj, "attributes", None) or {}).get(key)
        return values

    def existing_values(self, record: dict, state: _State | None) -> dict[str, Any] | None:
        """What the validator needs of the stored record: its required values and, for a record whose
        phone numbers are read in a referenced record's country, that country (sent or stored reference)."""
        values = self.required_values(state) if state else None
        if self.region_ref:
            ref = record.get(self.region_ref, MISSING)
            if ref is MISSING:
                ref = state.refs.get(self.region_ref) if state else None
            country = None
            if isinstance(ref, str | int) and not isinstance(ref, bool):
                country = self.region_of.get(str(ref).strip())
            values = {**(values or {}), "country": country}
        return values


def _plan(ctx: _Context, records: Sequence[dict], batch_exts: set[str], now: dt.datetime) -> _Plan:
    """Decide each record's status in order. ``batch_exts``: same-type ids assumed to exist by the end."""
    model, meta, validator = ctx.model, ctx.meta, ctx.validator
    has_attributes = "attributes" in meta.columns
    keeps_raw = "raw_values" in meta.columns and bool(validator.normalising)
    normalised: dict[str, int] = {}
    states: dict[str, _State] = {}
    results, changes, failures = [], [], []
    counts = dict.fromkeys(STATUSES, 0)
    first_index: dict[str, int] = {}
    unstorable = ctx.blocked | ctx.unstorable if ctx.blocked else ctx.unstorable
    latest = now + dt.timedelta(seconds=settings.SYNC_MAX_FUTURE_SKEW_SECONDS)

    for index, (record, ext) in enumerate(zip(records, ctx.exts, strict=True)):
        errors = unstorable.get(index)
        if errors is None:
            first = first_index.setdefault(ext, index)
            if first != index:
                errors = {
                    "external_id": [
                        f"external_id {ext!r} already appears at index {first} of this batch; "
                        "send each record once per batch (later copies are rejected)"
                    ]
                }
        if errors is not None:
            counts["rejected"] += 1
            results.append({"index": index, "external_id": ext, "status": "rejected", "errors": errors})
            failures.append((index, record, errors))
            continue
        state = states.get(ext)
        if state is None and ext in ctx.existing:
            state = states[ext] = ctx.state_for_existing(ctx.existing[ext])
        result = validator.validate(record, existing=ctx.existing_values(record, state))
        errors = result.errors
        if "source_updated_at" not in errors:
            source_updated_at = result.core.get("source_updated_at")
            if source_updated_at is None:
                errors.setdefault("source_updated_at", []).append(
                    "is required on every record (ISO 8601 with a time zone): it decides the order of updates"
                )
            elif source_updated_at > latest:
                errors.setdefault("source_updated_at", []).append(
                    f"{source_updated_at.isoformat()} is too far in the future; accepted: at most "
                    f"{settings.SYNC_MAX_FUTURE_SKEW_SECONDS} seconds ahead of the portal's clock "
                    f"(currently up to {latest.isoformat()})"
                )
        core: dict[str, Any] = {}
        for key, value in result.core.items():
            if key in _IDENTITY_KEYS:
                continue
            column = meta.columns.get(key)
            if column is None or key in ("attributes", "raw_values"):
                errors.setdefault(key, []).append(
                    f"is a core field in the data dictionary but {model._meta.verbose_name} has no such column"
                )
                continue
            try:
                core[key] = column.clean(value)
            except InvalidColumnValue as exc:
                errors.setdefault(key, []).append(str(exc))
        fk_refs: dict[str, str | None] = {}
        attributes = {key: column_jsonable(value) for key, value in result.attributes.items()}
        for key, ref in result.references.items():
            target = ctx.ref_specs[key]
            if ref is not None:
                if target == ctx.object_type and ref == ext:
                    errors.setdefault(key, []).append("a record cannot reference itself")
                    continue
                known = ref in ctx.ext_to_pk.get(target, ()) or (target == ctx.object_type and ref in batch_exts)
                if not known:
                    errors.setdefault(key, []).append(_unknown_reference(ctx, target, ref))
                    continue
            if key in meta.fks:
                fk_refs[key] = ref
            elif has_attributes:
                attributes[key] = ref
            else:
                errors.setdefault(key, []).append(f"{model._meta.verbose_name} cannot store custom fields")
        if attributes and not has_attributes:
            for key in attributes:
                errors.setdefault(key, []).append(f"{model._meta.verbose_name} cannot store custom fields")

        if errors:
            counts["rejected"] += 1
            results.append({"index": index, "external_id": ext, "status": "rejected", "errors": errors})
            failures.append((index, record, errors))
            continue

        source_updated_at = result.core["source_updated_at"]
        if state is None:
            obj = record_instance(
                model,
                {"external_id": ext, "source_updated_at": source_updated_at, "created_at": now, "updated_at": now},
            )
            obj.__dict__.update(core)  # core keys are non-relation columns: name == attname
            diff = {}
            for key, value in core.items():
                if value is not None and value != "":
                    diff[key] = [None, column_jsonable(value)]
            for key, ref in fk_refs.items():
                if ref is not None:
                    diff[key] = [None, ref]
            if has_attributes:
                obj.attributes = {k: v for k, v in attributes.items() if v is not None}
                for key, value in obj.attributes.items():
                    diff[key] = [None, value]
            if keeps_raw:
                obj.raw_values = dict(result.raw)
            state = states[ext] = _State(instance=obj, refs={k: None for k in meta.fks} | fk_refs, is_new=True)
            kind = "created"
        else:
            obj = state.instance
            if obj.source_updated_at is not None and source_updated_at < obj.source_updated_at:
                counts["stale"] += 1
                results.append({"index": index, "external_id": ext, "status": "stale"})
                continue
            diff, changed_columns = {}, []
            for key, value in core.items():
                old = getattr(obj, key)
                if old != value:
                    diff[key] = [column_jsonable(old), column_jsonable(value)]
                    changed_columns.append(key)
            for key, ref in fk_refs.items():
                old = state.refs.get(key)
                if old != ref:
                    diff[key] = [old, ref]
                    changed_columns.append(key)
            new_attributes = None
            if attributes:
                stored = obj.attributes or {}
                for key, value in attributes.items():
                    old = stored.get(key)
                    if old != value:
                        diff[key] = [old, value]
                        if new_attributes is None:
                            new_attributes = dict(stored)
                        if value is None:
                            new_attributes.pop(key, None)
                        else:
                            new_attributes[key] = value
            if keeps_raw:
                raw_values = _raw_values(obj.raw_values, record, validator.normalising, result.raw)
                if raw_values is not None:
                    # Kept quietly: a different spelling of the same value is not a change.
                    obj.raw_values = raw_values
                    state.changed_columns.add("raw_values")
            if not diff:
                if obj.source_updated_at is None or source_updated_at > obj.source_updated_at:
                    obj.source_updated_at = source_updated_at
                    state.touched = True
                counts["unchanged"] += 1
                for key in result.raw:
                    normalised[key] = normalised.get(key, 0) + 1
                entry = {"index": index, "external_id": ext, "status": "unchanged"}
                if result.gaps:
                    entry["missing"] = result.gaps
                results.append(entry)
                continue
            for key in changed_columns:
                if key in core:
                    setattr(obj, key, core[key])
                else:
                    state.refs[key] = fk_refs[key]
            if new_attributes is not None:
                obj.attributes = new_attributes
                changed_columns.append("attributes")
            obj.source_updated_at = source_updated_at
            obj.updated_at = now
            state.changed_columns.update(changed_columns)
            kind = "updated"

        values = obj.__dict__
        snapshot = {attname: values[attname] for attname in meta.tracked}
        changes.append(_Change(ext, kind, list(diff), diff, snapshot, dict(state.refs), state.changes))
        state.changes += 1
        counts[kind] += 1
        for key in result.raw:
            normalised[key] = normalised.get(key, 0) + 1
        entry = {"index": index, "external_id": ext, "status": kind}
        if kind == "updated":
            entry["changed_fields"] = list(diff)
        if result.gaps:
            entry["missing"] = result.gaps
        results.append(entry)
    return _Plan(results, states, changes, failures, counts, normalised)


def _raw_values(stored, record, normalising, raw) -> dict | None:
    """The record's new ``raw_values`` after ``record`` (None if they stay the same): a normalised key
    the record sends keeps what was sent when the normaliser changed it, and drops it otherwise."""
    stored = stored or {}
    new = None
    for key in normalising:
        if key not in record:
            continue
        if key in raw:
            if stored.get(key) != raw[key]:
                new = new if new is not None else dict(stored)
                new[key] = raw[key]
        elif key in stored:
            new = new if new is not None else dict(stored)
            del new[key]
    return new


def _unknown_reference(ctx: _Context, target: str, ref: str) -> str:
    """Why a reference cannot be stored: nothing has that id, or its record in this batch was rejected."""
    if target == ctx.object_type and ref in ctx.exts:
        return (
            f"points at {target} {ref!r}, which is in this batch but was rejected; fix that record and send both again"
        )
    return f"points at {target} {ref!r}, but no {target} has that external id in the portal or in this batch"


def _plan_until_stable(ctx: _Context, records: Sequence[dict], now: dt.datetime) -> _Plan:
    """Plan, assuming every same-type id in the batch will exist; if some are never created (their
    records were rejected), plan again without them so records pointing at them are rejected too."""
    own = ctx.ext_to_pk.get(ctx.object_type, {})
    batch_exts = {ext for i, ext in enumerate(ctx.exts) if i not in ctx.unstorable and i not in ctx.blocked}
    batch_exts -= ctx.existing.keys() | own.keys()
    while True:
        plan = _plan(ctx, records, batch_exts, now)

        created = {ext for ext, state in plan.states.items() if state.is_new}
        if batch_exts <= created:
            return plan
        batch_exts &= created


def _run_ingest_checks(checks, ctx: _Context, records, plan: _Plan, now: dt.datetime):
    """Show the records the plan stores (created or changed) to the registered ingest checks; plan again
    without the ones they refused (records pointing at those are then refused too). Returns the plan
    and the checks' callbacks for after the write."""
    changed = {change.ext: change.changed_fields for change in plan.changes}
    candidates = [
        IngestRecord(ext, state.instance, state.is_new, tuple(changed.get(ext, ())))
        for ext, state in plan.states.items()
        if state.is_new or ext in changed
    ]
    if not candidates:
        return plan, []
    rejected: dict[str, dict[str, list[str]]] = {}
    after = []
    for check in checks:
        verdict = check.check(object_type=ctx.object_type, records=candidates)
        if verdict is None:
            continue
        for ext, errors in verdict.rejected.items():
            for key, messages in errors.items():
                rejected.setdefault(ext, {}).setdefault(key, []).extend(messages)
        if verdict.stored is not None:
            after.append(verdict.stored)
    if rejected:
        for index, ext in enumerate(ctx.exts):
            if ext in rejected and index not in ctx.unstorable:
                ctx.blocked[index] = rejected[ext]
        plan = _plan_until_stable(ctx, records, now)
    return plan, after


# --------------------------------------------------------------------------------------------
# Writing


def sync_batch_apply(
    *,
    object_name: str,
    records: Sequence[dict[str, Any]],
    actor,
    token=None,
    atomic: bool = False,
    idempotency_key: str = "",
) -> SyncOutcome:
    """Upsert ``records`` of ``object_name`` (``"leads"``…) as ``actor`` in one transaction.

    ``records`` come from ``sync_records_from_body`` (every one an object with an external id).
    With ``atomic=True`` any rejected record means nothing at all is written — no rows, no batch,
    no failures — and the outcome has ``applied=False``. Otherwise valid records are applied and
    each rejected one is kept as a ``SyncFailure``. Returns the per-record results in order.
    """
    if object_name not in SYNC_OBJECTS:
        raise SyncInputError(f"Unknown object {object_name!r}.", status=404)
    object_type = SYNC_OBJECTS[object_name]
    started = time.perf_counter()
    unstorable = _unstorable(records)
    validator = validator_for(object_type)
    for attempt in range(_MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                return _apply(
                    object_name,
                    object_type,
                    validator,
                    records,
                    unstorable,
                    actor,
                    token,
                    atomic,
                    idempotency_key,
                    started,
                )
        except IntegrityError:
            # Another batch created one of our new external ids between our read and our insert;
            # the savepoint is gone, so plan again: those records are now updates.
            if attempt == _MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _apply(object_name, object_type, validator, records, unstorable, actor, token, atomic, idempotency_key, started):
    now = timezone.now()
    ctx = _Context(object_type, validator, records, unstorable)
    plan = _plan_until_stable(ctx, records, now)
    after_store = []
    checks = ingest_checks(object_type)
    if checks:
        plan, after_store = _run_ingest_checks(checks, ctx, records, plan, now)
    outcome = SyncOutcome(object_type=object_type, results=plan.results, counts=plan.counts)
    if atomic and plan.counts["rejected"]:
        outcome.applied = False
        return outcome

    model, meta = ctx.model, ctx.meta
    actor_id = getattr(actor, "pk", None)
    batch = SyncBatch.objects.create(
        object_type=object_type,
        token=token,
        user_id=actor_id,
        idempotency_key=idempotency_key,
        record_count=len(records),
        counts=plan.counts,
        normalised=plan.normalised,
    )
    outcome.batch = batch
    who = f"token {token.name!r}" if token is not None else f"user {getattr(actor, 'username', '?')!r}"
    reason = f"sync {object_name} batch #{batch.pk} ({who})"[:100]

    writer = PgWriter() if connection.vendor == "postgresql" else OrmWriter()

    # 1. Insert new rows, with every reference set (same-type ones may point into this batch).
    own_map = ctx.ext_to_pk.setdefault(object_type, {})
    new_states = [s for s in plan.states.values() if s.is_new]
    if new_states:
        writer.insert_records(model, ctx, new_states, own_map)

    # 2. Update changed rows (only the columns some record changed) and move source_updated_at.
    updated = [s for s in plan.states.values() if not s.is_new and s.changed_columns]
    if updated:
        columns: set[str] = set()
        for state in updated:
            columns |= state.changed_columns
            for key in state.changed_columns & meta.fks.keys():
                ref = state.refs[key]
                setattr(state.instance, meta.fks[key], None if ref is None else ctx.ext_to_pk[ctx.ref_specs[key]][ref])
        writer.update(model, [s.instance for s in updated], sorted(columns) + ["source_updated_at", "updated_at"])
    touched = [s for s in plan.states.values() if s.touched and not s.is_new and not s.changed_columns]
    if touched:
        writer.update(model, [s.instance for s in touched], ["source_updated_at"])

    # 3. History and outbox: one row each per real change, as the record was right after it.
    history_rows, events = [], []
    step = dt.timedelta(microseconds=1)
    fk_attnames = {key: meta.fks[key] for key in meta.fks if key in ctx.ref_specs}
    for change in plan.changes:
        final = plan.states[change.ext].instance
        values = change.snapshot
        values["id"] = final.pk
        values["created_at"] = final.created_at
        if change.sequence == plan.states[change.ext].changes - 1:
            values["updated_at"] = final.updated_at
        for key, attname in fk_attnames.items():
            ref = change.refs.get(key)
            values[attname] = None if ref is None else ctx.ext_to_pk[ctx.ref_specs[key]][ref]
        values["history_date"] = now + step * change.sequence
        values["history_user_id"] = actor_id
        values["history_change_reason"] = reason
        values["history_type"] = "+" if change.kind == "created" else "~"
        history_rows.append(values)
        events.append(
            {
                "object_type": object_type,
                "object_id": final.pk,
                "external_id": change.ext,
                "kind": change.kind,
                "changed_fields": change.changed_fields,
                "changes": change.changes,
                "batch_id": batch.pk,
                "source_updated_at": values.get("source_updated_at"),
                "created_at": now,
            }
        )
    if history_rows:
        writer.insert_rows(meta.history_model, history_rows)
        writer.insert_rows(OutboxEvent, events)
    if plan.failures:
        failures = record_failures(plan.failures, ctx.exts, unstorable, object_type, batch, token, now)
        # The apps that raise rejected records to a person (the exception queue: one item per
        # rejected record, de-duplicated by type and external id) do so in this transaction.
        for handler in sync_rejection_handlers():
            handler(failures=failures, batch=batch, token=token, actor=actor)
    if after_store:
        stored = {ext: state.instance.pk for ext, state in plan.states.items() if state.is_new or state.changed_columns}
        for after in after_store:
            after(stored, batch=batch, actor=actor)
    raise_gaps(object_type, plan.results, plan.states, batch, actor)
    batch.duration_ms = int((time.perf_counter() - started) * 1000)
    SyncBatch.objects.filter(pk=batch.pk).update(duration_ms=batch.duration_ms)
    if events:
        batch_id, count = batch.pk, len(events)
        transaction.on_commit(lambda: outbox_enqueue_batch(batch_id=batch_id, object_type=object_type, events=count))
    return outcome
