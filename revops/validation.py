"""Record validation built from the revenue data dictionary.

``validator_for("lead").validate(payload)`` checks a record's values against the dictionary and
returns the coerced core values, custom attributes and references, or field-level errors in plain
language ("close_date: 'next tuesday' is not a date (expected YYYY-MM-DD)"). Validators are
compiled once per dictionary version and cached per process.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db.models import Count, Max
from django.utils.dateparse import parse_date, parse_datetime

from .models import Enforcement, FieldDefinition, FieldType, Normaliser, Required
from .normalise import InvalidValue, _show, normalise

# The field whose value decides "required from given stages/statuses on", per object.
STAGE_FIELDS = {"lead": "status", "opportunity": "stage"}
# Records without a country of their own read national phone numbers in the country of the record
# this reference points to (a contact's: its account's); the sync passes it as ``existing["country"]``.
REGION_REFERENCES = {"contact": "account"}
MISSING = object()


_SCALARS = (str, int, float)


def _text(value, spec):
    if type(value) is str:
        value = value.strip()
    elif isinstance(value, _SCALARS) and not isinstance(value, bool):
        value = str(value)
    else:
        raise InvalidValue(f"{_show(value)} is not text")
    if spec.max_length and len(value) > spec.max_length:
        expected = f": send {spec.format_hint}" if spec.format_hint else ""
        raise InvalidValue(
            f"{_show(value)} is {len(value)} characters long, but at most {spec.max_length} are allowed{expected}"
        )
    return value


def _integer(value, spec):
    if isinstance(value, bool):
        raise InvalidValue(f"{_show(value)} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidValue(f"{_show(value)} is not a whole number")


def _decimal(value, spec):
    if isinstance(value, bool) or not isinstance(value, _SCALARS):
        raise InvalidValue(f"{_show(value)} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidValue(f"{_show(value)} is not a number (expected e.g. 1250.50)") from None
    if not number.is_finite():
        raise InvalidValue(f"{_show(value)} is not a finite number")
    return number


def _date(value, spec):
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_date(value.strip())
        except ValueError:
            raise InvalidValue(f"{_show(value)} is not a valid calendar date") from None
    if parsed is None:
        raise InvalidValue(f"{_show(value)} is not a date (expected YYYY-MM-DD)")
    return parsed


def _datetime(value, spec):
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            raise InvalidValue(f"{_show(value)} is not a valid date and time") from None
    if parsed is None:
        raise InvalidValue(f"{_show(value)} is not a date and time (expected ISO 8601, e.g. 2026-03-01T09:30:00Z)")
    if parsed.tzinfo is None:
        raise InvalidValue(f"{_show(value)} has no time zone (add Z or an offset such as +01:00)")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidValue(f"{_show(value)} is out of range (years 0001 to 9999 in UTC)") from None


def _boolean(value, spec):
    if isinstance(value, bool):
        return value
    raise InvalidValue(f"{_show(value)} is not true or false")


def _choice(value, spec):
    if not isinstance(value, str) or value not in spec.allowed_values:
        raise InvalidValue(f"{_show(value)} is not an allowed value (allowed: {', '.join(spec.allowed_values)})")
    return value


def _multi_choice(value, spec):
    if not isinstance(value, list):
        raise InvalidValue(f"{_show(value)} is not a list of values")
    bad = [item for item in value if not isinstance(item, str) or item not in spec.allowed_values]
    if bad:
        raise InvalidValue(
            f"{', '.join(_show(b) for b in bad)} not allowed (allowed: {', '.join(spec.allowed_values)})"
        )
    return list(dict.fromkeys(value))


# Django's own email checks, resolved once: the common "user@domain.tld" case is accepted with
# two regex matches; anything else (IP literals, allow-listed domains, invalid) takes the full path.
_email_user_match = validate_email.user_regex.match
_email_domain_match = validate_email.domain_regex.match


def _email(value, spec):
    if not isinstance(value, str):
        raise InvalidValue(f"{_show(value)} is not an email address")
    value = value.strip()
    user, at, domain = value.rpartition("@")
    if at and len(value) <= 320 and _email_user_match(user) and _email_domain_match(domain):
        return value.lower()
    try:
        validate_email(value)
    except ValidationError:
        raise InvalidValue(f"{_show(value)} is not an email address") from None
    return value.lower()


_url_validator = URLValidator()


def _url(value, spec):
    if not isinstance(value, str):
        raise InvalidValue(f"{_show(value)} is not a URL")
    value = value.strip()
    try:
        _url_validator(value)
    except ValidationError:
        raise InvalidValue(f"{_show(value)} is not a URL (expected e.g. https://example.com)") from None
    return value


def _reference(value, spec):
    if type(value) is str and value.strip():
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{_show(value)} is not a {spec.reference_to} external id")
    return str(value)


_time_zones: frozenset[str] | None = None


def _time_zone(value: str) -> str:
    """``value`` if the tz database knows it (the names ``zoneinfo`` accepts), else ``InvalidValue``."""
    global _time_zones
    if _time_zones is None:
        _time_zones = frozenset(available_timezones())
    if value in _time_zones:
        return value
    if not _time_zones:  # no listing of the tz database here: ask zoneinfo itself
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidValue(
        f"{_show(value)} is not a time zone of the tz database (expected an IANA name such as Europe/Berlin, "
        "America/New_York or UTC)"
    )


# Checks that run after a key's coercer, by (object type, key): rules of a core column that the
# dictionary's field types cannot express.
EXTRA_CHECKS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("rep", "time_zone"): _time_zone,
}


COERCERS: dict[str, Callable[[Any, FieldSpec], Any]] = {
    FieldType.TEXT: _text,
    FieldType.INTEGER: _integer,
    FieldType.DECIMAL: _decimal,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.BOOLEAN: _boolean,
    FieldType.CHOICE: _choice,
    FieldType.MULTI_CHOICE: _multi_choice,
    FieldType.EMAIL: _email,
    FieldType.URL: _url,
    FieldType.REFERENCE: _reference,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A compiled dictionary entry."""

    key: str
    field_type: str
    is_core: bool
    required: str = Required.NEVER
    required_from: frozenset = frozenset()
    enforcement: str = Enforcement.REJECT
    allowed_values: tuple = ()
    reference_to: str = ""
    max_length: int | None = None
    format_hint: str = ""  # what a too-long value should have been (FORMAT_HINTS)
    normalise: str = Normaliser.NONE  # rewrites a text value before the type check (revops.normalise)

    def coerce(self, value):
        """``value`` normalised (without a record, so national phone numbers are refused) and type-checked,
        for writers outside the sync (automation field updates, their configuration)."""
        if self.normalise != Normaliser.NONE and type(value) is str and value.strip():
            value = normalise(self.normalise, value)
        return COERCERS[self.field_type](value, self)


@dataclass
class ValidationResult:
    """What a record's payload turned into: values for columns, custom attributes, references by external id."""

    core: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    references: dict[str, str | None] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # Required fields in "prompt" mode that are missing: the record is stored, the gap raised.
    gaps: dict[str, list[str]] = field(default_factory=dict)
    # What the CRM sent for each field whose normaliser changed the value (beyond trimming).
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, []).append(message)

    def messages(self) -> list[str]:
        """Errors flattened as "key: message" lines."""
        return [f"{key}: {message}" for key, messages in self.errors.items() for message in messages]


# Where a coerced value goes in a ValidationResult.
_CORE, _ATTRIBUTE, _REFERENCE = 0, 1, 2


class RecordValidator:
    """Validates one object's payloads against its compiled dictionary entries.

    Compiling resolves, per key, everything ``validate`` would otherwise look up for every value:
    the coercer function, where the value goes and whether a blank string means "no value".
    """

    def __init__(self, object_type: str, specs: list[FieldSpec]):
        self.object_type = object_type
        self.specs = {spec.key: spec for spec in specs}
        self.required_specs = [spec for spec in specs if spec.required != Required.NEVER]
        self.stage_field = STAGE_FIELDS.get(object_type)
        self._compiled = {spec.key: _compile_spec(spec) for spec in specs}
        # key -> normaliser, for the fields whose values are rewritten before their type check
        self.normalising = {spec.key: spec.normalise for spec in specs if spec.normalise != Normaliser.NONE}
        self.needs_region = Normaliser.PHONE in self.normalising.values() and (
            "country" in self.specs or object_type in REGION_REFERENCES
        )
        for key, entry in self._compiled.items():
            check = EXTRA_CHECKS.get((object_type, key))
            if check is not None:
                coerce = entry[0]
                self._compiled[key] = (
                    lambda value, spec, coerce=coerce, check=check: check(coerce(value, spec)),
                    *entry[1:],
                )
        # (key, only from given stages?, those stages, store and raise instead of reject?) per required entry
        self._required = [
            (
                spec.key,
                spec.required == Required.FROM_STAGES,
                spec.required_from,
                spec.enforcement == Enforcement.PROMPT,
            )
            for spec in self.required_specs
        ]

    def validate(self, data: Mapping[str, Any], *, existing: Mapping[str, Any] | None = None) -> ValidationResult:
        """Check ``data`` (a full or partial record). ``existing`` holds current values for required checks."""
        result = ValidationResult()
        if not isinstance(data, Mapping):
            result.add_error("record", f"{_show(data)} is not an object")
            return result
        buckets = (result.core, result.attributes, result.references)
        errors = result.errors
        compiled = self._compiled
        normalising = self.normalising
        for key, raw in data.items():
            entry = compiled.get(key)
            if entry is None:
                errors.setdefault(key, []).append(
                    f"unknown field: the data dictionary defines no {self.object_type} field {key!r}"
                )
                continue
            coerce, spec, bucket, blank_is_none = entry
            kind = normalising.get(key) if normalising else None
            if kind is not None and type(raw) is str and raw.strip():
                sent = raw
                try:
                    raw = normalise(kind, raw, self._region(data, existing) if kind == Normaliser.PHONE else None)
                except InvalidValue as exc:
                    errors.setdefault(key, []).append(str(exc))
                    continue
                if raw != sent.strip():
                    result.raw[key] = sent
            if raw is None or (blank_is_none and type(raw) is str and not raw.strip()):
                value = None
            else:
                try:
                    value = coerce(raw, spec)
                except InvalidValue as exc:
                    errors.setdefault(key, []).append(str(exc))
                    continue
            buckets[bucket][key] = value
        if self._required:
            self._check_required(data, existing or {}, result)
        return result

    def _check_required(self, data, existing, result: ValidationResult) -> None:
        stage = self._current(self.stage_field, data, existing) if self.stage_field else None
        errors = result.errors
        for key, from_stages, stages, prompt in self._required:
            if key in errors:
                continue
            if from_stages and stage not in stages:
                continue
            value = self._current(key, data, existing)
            if value is None or value == "" or value == []:
                when = f" when {self.stage_field} is {stage}" if from_stages else ""
                if prompt:
                    result.gaps.setdefault(key, []).append(f"is required{when} but missing")
                else:
                    result.add_error(key, f"is required{when} but missing")

    def _region(self, data, existing) -> str | None:
        """The record's country (sent or stored) as an ISO code, the region of national phone numbers."""
        if not self.needs_region:
            return None
        country = data.get("country", MISSING)
        if country is MISSING:
            country = (existing or {}).get("country")
        if type(country) is not str or not country.strip():
            return None
        try:
            return normalise(Normaliser.COUNTRY, country)
        except InvalidValue:
            return None

    @staticmethod
    def _current(key, data, existing):
        value = data.get(key, MISSING)
        return existing.get(key) if value is MISSING else value


def _compile_spec(spec: FieldSpec) -> tuple[Callable[[Any, FieldSpec], Any], FieldSpec, int, bool]:
    """(coercer, spec, result bucket, blank string means None) for one dictionary entry."""
    if spec.field_type == FieldType.REFERENCE:
        bucket = _REFERENCE
    else:
        bucket = _CORE if spec.is_core else _ATTRIBUTE
    return COERCERS[spec.field_type], spec, bucket, spec.field_type != FieldType.TEXT


_cache: dict[str, tuple[tuple, RecordValidator]] = {}
_lock = threading.Lock()


def _max_length(object_type: str, key: str) -> int | None:
    from django.apps import apps

    model = apps.get_model("revops", object_type)
    try:
        return getattr(model._meta.get_field(key), "max_length", None)
    except Exception:
        return None


# What a core text column with a fixed format expects, named when a value is too long for it.
FORMAT_HINTS = {"country": "an ISO 3166-1 alpha-2 code such as GB or US"}


def compile_validator(object_type: str, definitions) -> RecordValidator:
    specs = [
        FieldSpec(
            key=d.key,
            field_type=d.field_type,
            is_core=d.is_core,
            required=d.required,
            required_from=frozenset(d.required_from or ()),
            enforcement=d.enforcement,
            allowed_values=tuple(d.allowed_values or ()),
            reference_to=d.reference_to,
            max_length=_max_length(object_type, d.key) if d.is_core and d.field_type == FieldType.TEXT else None,
            format_hint=FORMAT_HINTS.get(d.key, "") if d.is_core and d.field_type == FieldType.TEXT else "",
            normalise=getattr(d, "normalise", Normaliser.NONE) or Normaliser.NONE,
        )
        for d in definitions
    ]
    return RecordValidator(object_type, specs)


def validator_for(object_type: str) -> RecordValidator:
    """The validator for ``object_type``, rebuilt whenever its dictionary entries change."""
    stamp = tuple(
        FieldDefinition.objects.filter(object_type=object_type).aggregate(n=Count("id"), at=Max("updated_at")).values()
    )
    cached = _cache.get(object_type)
    if cached and cached[0] == stamp:
        return cached[1]
    with _lock:
        validator = compile_validator(object_type, FieldDefinition.objects.filter(object_type=object_type))
        _cache[object_type] = (stamp, validator)
    return validator


# --------------------------------------------------------------------------------------------
# Values no column can store: checked once per record before the dictionary's coercers run.

MAX_VALUE_DEPTH = 16  # nesting levels allowed inside one field's value


class NonFinite:
    """What the sync's JSON parser makes of a bare ``NaN``/``Infinity`` or a number that overflows a
    float: kept in the record so that only that record is rejected."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class NestingTooDeep(Exception):
    """A value is nested more than ``MAX_VALUE_DEPTH`` levels: a problem of the whole request."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


_NUL = "contains a NUL character (\\u0000), which cannot be stored; remove it"
_SURROGATE = "contains a lone surrogate (such as \\ud800), which is not valid Unicode; send UTF-8 text"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return _NUL
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return _SURROGATE
    return None


def safe_text(text: str) -> str:
    """``text`` with NUL characters and lone surrogates written as escapes, so it can be stored and shown."""
    return text.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")


def _number_problem(value) -> str | None:
    if type(value) is NonFinite or not math.isfinite(value):
        return f"{value!r} is not a finite number (JSON has no NaN or Infinity); send a number or null"
    return None


def _nested_problem(value, depth: int, check_text: bool, key: str) -> str | None:
    """The first problem inside ``value``; walks it all, so too deep a nesting is always noticed."""
    if depth > MAX_VALUE_DEPTH:
        raise NestingTooDeep(key)
    found = None
    items = value.items() if type(value) is dict else enumerate(value)
    for inner_key, inner in items:
        kind = type(inner)
        if not found and check_text and type(inner_key) is str and (problem := text_problem(inner_key)):
            found = f"has a key that {problem} (at {safe_text(repr(inner_key))})"
        if kind is dict or kind is list:
            problem = _nested_problem(inner, depth + 1, check_text, key)
            if problem and not found:
                found = problem
            continue
        if found:
            continue
        where = f"[{inner_key!r}]" if type(inner_key) is str else f"[{inner_key}]"
        if kind is str:
            problem = text_problem(inner) if check_text else None
        elif kind is float or kind is NonFinite:
            problem = _number_problem(inner)
        else:
            continue
        if problem:
            found = f"{problem} (at {safe_text(where)})"
    return found


def unstorable_errors(record: Mapping[str, Any], *, check_text: bool = True) -> dict[str, list[str]] | None:
    """Field errors for values that the database or JSON cannot carry, or None if there are none.

    NUL characters and lone surrogates in a string (a field's value, a key, anything nested; only
    when ``check_text``), ``NaN``/``Infinity``, and nesting deeper than ``MAX_VALUE_DEPTH`` (raises
    ``NestingTooDeep``). Errors are keyed by the field name, escaped if the name itself is the problem.
    """
    errors = None
    for key, value in record.items():
        kind = type(value)
        if kind is str:
            problem = text_problem(value) if check_text else None
        elif kind is dict or kind is list:
            problem = _nested_problem(value, 1, check_text, key)
        elif kind is float or kind is NonFinite:
            problem = _number_problem(value)
        else:
            problem = None
        if check_text and type(key) is str and (key_problem := text_problem(key)):
            errors = errors or {}
            errors.setdefault(safe_text(key), []).append(f"the field name {key_problem}")
            key = safe_text(key)
        if problem:
            errors = errors or {}
            errors.setdefault(key, []).append(problem)
    return errors


def storable(value):
    """``value`` with everything ``unstorable_errors`` objects to made storable (escaped text, numbers
    as their text), to keep a rejected record's payload."""
    kind = type(value)
    if kind is str:
        return safe_text(value)
    if kind is dict:
        return {safe_text(k) if type(k) is str else k: storable(v) for k, v in value.items()}
    if kind is list:
        return [storable(v) for v in value]
    if kind is NonFinite or (kind is float and not math.isfinite(value)):
        return repr(value)
    return value
