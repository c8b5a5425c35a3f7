"""The pieces every configuration section shares: typed attributes, changes, problems, the plan.

A *section* is one top-level list of the configuration file (``dictionary``, ``automations``,
and later routing rules, pools, SLA policies, checklists, queues). It declares its attributes
and implements five small methods — list what is stored, serialize one object, create, update
and prune — and the base class does the rest: checking the file's entries, computing the
per-attribute diff, and recording changes and located problems on the ``Run``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from .document import jsonable

# --- attributes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attr:
    """One key of a section's entries: its type, default and whether the file must give it.

    Types: ``text``, ``bool``, ``int`` (≥ 0), ``float``, ``text_list``, ``map`` (a nested tree
    such as conditions), ``date`` (``YYYY-MM-DD``), ``user`` (a username), ``time`` (``HH:MM``,
    kept as that text), ``weekdays`` (numbers 0 = Monday … 6 = Sunday, kept sorted),
    ``date_list`` (``YYYY-MM-DD`` texts, kept sorted) and ``entries`` (a list of maps whose keys
    are the ``items`` attributes; each map is kept without the keys that equal their default).
    ``nullable`` allows null.
    """

    name: str
    type: str = "text"
    default: Any = ""
    required: bool = False
    nullable: bool = False
    items: tuple[Attr, ...] = ()

    def empty(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def parse(self, value: Any) -> Any:
        """The value in canonical Python form; raises ``ValueError`` with a plain message."""
        if value is None:
            if self.nullable:
                return None
            if self.required:
                raise ValueError("must not be empty")
            return self.empty()
        kind = self.type
        if kind in ("text", "user"):
            if not isinstance(value, str):
                raise ValueError(f"expected text, got {_describe(value)} (quote it in YAML: '{value}')")
            if self.required and not value.strip():
                raise ValueError("must not be empty")
            return value
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {_describe(value)}")
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"expected a whole number ≥ 0, got {_describe(value)}")
            return value
        if kind == "text_list":
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError(f"expected a list of texts, got {_describe(value)}")
            return list(value)
        if kind == "map":
            if not isinstance(value, dict):
                raise ValueError(f"expected a map, got {_describe(value)}")
            _check_json(value)
            return value
        if kind == "date":
            if isinstance(value, dt.datetime):
                raise ValueError("expected a date (YYYY-MM-DD), got a date and time")
            if isinstance(value, dt.date):
                return value
            if isinstance(value, str):
                try:
                    return dt.date.fromisoformat(value)
                except ValueError:
                    pass
            raise ValueError(f"expected a date (YYYY-MM-DD), got {_describe(value)}")
        if kind == "float":
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value != value
                or abs(value) == float("inf")
            ):
                raise ValueError(f"expected a number, got {_describe(value)}")
            return float(value)
        if kind == "time":
            return _parse_time(value)
        if kind == "weekdays":
            if not isinstance(value, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in value
            ):
                raise ValueError(f"expected a list of weekday numbers 0 (Monday) … 6 (Sunday), got {_describe(value)}")
            return sorted(set(value))
        if kind == "date_list":
            if not isinstance(value, list):
                raise ValueError(f"expected a list of dates (YYYY-MM-DD), got {_describe(value)}")
            dates = set()
            for index, item in enumerate(value):
                try:
                    dates.add(Attr(self.name, "date", required=True).parse(item).isoformat())
                except ValueError as exc:
                    raise AttrError(f"[{index}]", str(exc)) from None
            return sorted(dates)
        if kind == "entries":
            if not isinstance(value, list):
                raise ValueError(f"expected a list of maps, got {_describe(value)}")
            return [self._parse_item(index, item) for index, item in enumerate(value)]
        raise AssertionError(f"unknown attribute type {kind!r}")

    def _parse_item(self, index: int, item: Any) -> dict[str, Any]:
        """One map of an ``entries`` list, without the keys that equal their default."""
        if not isinstance(item, dict):
            raise AttrError(f"[{index}]", f"expected a map, got {_describe(item)}")
        known = [a.name for a in self.items]
        for name in item:
            if name not in known:
                raise AttrError(f"[{index}].{name}", f"unknown key; valid keys: {', '.join(known)}")
        parsed: dict[str, Any] = {}
        for attr in self.items:
            if attr.name not in item:
                if attr.required:
                    raise AttrError(f"[{index}].{attr.name}", "is required")
                continue
            try:
                value = attr.parse(item[attr.name])
            except ValueError as exc:
                raise AttrError(f"[{index}].{attr.name}{getattr(exc, 'path', '')}", str(exc)) from None
            if attr.required or value != attr.empty():
                parsed[attr.name] = value
        return parsed


class AttrError(ValueError):
    """A bad value inside a nested attribute; ``path`` (``[2].weight``) follows the attribute's name."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


def format_time(value: dt.time) -> str:
    """A time of day as configuration files write it: ``HH:MM`` (``HH:MM:SS`` when it has seconds)."""
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _parse_time(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        # YAML 1.1 reads an unquoted 17:30 as the base-60 number 1050.
        hours, minutes = divmod(value, 60)
        hint = f" (YAML reads an unquoted {hours}:{minutes:02d} as a number: quote it, '{hours:02d}:{minutes:02d}')"
        raise ValueError(f"expected a time of day in quotes (HH:MM), got {_describe(value)}{hint}")
    if isinstance(value, str):
        parts = value.strip().split(":")
        if len(parts) in (2, 3) and all(p.isdigit() and len(p) <= 2 for p in parts) and len(parts[1]) == 2:
            try:
                return format_time(dt.time(*(int(p) for p in parts)))
            except ValueError:
                pass
    raise ValueError(f"expected a time of day (HH:MM, 00:00 to 23:59), got {_describe(value)}")


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, str):
        return f"text ({value!r})"
    return type(value).__name__


def _check_json(value: Any, depth: int = 0) -> None:
    """Nested trees must be plain JSON (YAML dates or non-text keys are refused), at most 50 deep."""
    if depth > 50:
        raise ValueError("is nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"map keys must be text, not {_describe(key)}")
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, float) and value != value:  # NaN
        raise ValueError("NaN is not a value")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(f"{_describe(value)} is not a JSON value; quote it")


def is_empty(value: Any) -> bool:
    """Empty values are left out of exported entries (and mean the default when omitted)."""
    return value is None or value is False or value == "" or value == [] or value == {}


# --- the plan ------------------------------------------------------------------------------------


@dataclass
class Change:
    """One change a configuration file makes: create, update (per attribute old → new), delete or retire."""

    section: str
    action: str
    key: str
    location: str
    fields: list[tuple[str, Any, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "action": self.action,
            "key": self.key,
            "location": self.location,
            "changes": [{"field": n, "old": jsonable(old), "new": jsonable(new)} for n, old, new in self.fields],
        }


@dataclass
class Problem:
    """A reason the file cannot be applied, located in the file."""

    location: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.field + ': ' if self.field else ''}{self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "field": self.field, "message": self.message, "text": str(self)}


SYMBOLS = {"create": "+", "update": "~", "delete": "-", "retire": "-"}


def _show(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


@dataclass
class Plan:
    """What applying a file changes (``changes``) or why it cannot be applied (``problems``)."""

    source: str
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False
    release: int | None = None  # the release an apply that changed something recorded

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SYMBOLS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return counts

    def summary(self) -> str:
        if self.problems:
            return f"{len(self.problems)} error(s); nothing can be applied."
        if not self.changes:
            return "No changes: the configuration matches the file."
        c = self.counts()
        return f"{c['create']} to create, {c['update']} to update, {c['delete']} to delete, {c['retire']} to retire."

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "valid": self.ok,
            "applied": self.applied,
            "release": self.release,
            "summary": self.summary(),
            "counts": self.counts(),
            "changes": [change.as_dict() for change in self.changes],
            "errors": [problem.as_dict() for problem in self.problems],
        }

    def render(self) -> str:
        """A terraform-like text: ``+ create``, ``~ update`` with ``field: old → new``, ``- delete``."""
        lines: list[str] = []
        section = None
        for change in self.changes:
            if change.section != section:
                section = change.section
                lines.append(f"{section}:")
            lines.append(f"  {SYMBOLS[change.action]} {change.action} {change.key}")
            for name, old, new in change.fields:
                if change.action == "create":
                    lines.append(f"      {name}: {_show(new)}")
                else:
                    lines.append(f"      {name}: {_show(old)} → {_show(new)}")
        if self.problems:
            if lines:
                lines.append("")
            lines.append("Errors:")
            lines.extend(f"  ! {problem}" for problem in self.problems)
        if lines:
            lines.append("")
        lines.append(f"Plan for {self.source}: {self.summary()}")
        return "\n".join(lines) + "\n"


# --- a run: one plan or apply inside one transaction ----------------------------------------------


@dataclass
class Run:
    """The state of one plan/apply: who, why, which sections prune, and what was found."""

    plan: Plan
    actor: Any
    reason: str
    prune: set[str]

    def change(self, section: str, action: str, key: str, location: str, fields=()) -> None:
        self.plan.changes.append(Change(section, action, key, location, list(fields)))

    def error(self, location: str, field_name: str, message: str) -> None:
        self.plan.problems.append(Problem(location, field_name, message))

    def call(self, location: str, service: Callable[..., Any], **kwargs: Any) -> Any:
        """Call a service in its own savepoint; its ``ValidationError`` becomes located problems."""
        try:
            with transaction.atomic():
                return service(**kwargs)
        except ValidationError as exc:
            self.validation_error(location, exc)
        except DatabaseError as exc:  # e.g. a concurrent apply created the same entry
            self.error(location, "", f"the database refused the change: {exc}".strip())
        return None

    def validation_error(self, location: str, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for name, messages in exc.message_dict.items():
                for message in messages:
                    self.error(location, "" if name == "__all__" else name, message)
        else:
            for message in exc.messages:
                self.error(location, "", message)


# --- sections ------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One entry of a section in the file: its index, identity, location and parsed attributes."""

    index: int
    key: str
    location: str
    data: dict[str, Any]
    implied: bool = False  # not in the file: implied by other sections (created if missing, never changed)


class Section:
    """Base class of a configuration section (one top-level list of the file).

    Subclasses set ``name`` (the key in the file), ``order`` (applied in ascending order,
    pruned in descending order, so what others depend on is created first and removed last),
    ``attrs`` (in export order; the identity attributes first) and implement ``stored``,
    ``serialize``, ``create``, ``update`` and ``remove``. ``normalize`` may canonicalize an
    entry (e.g. conditions) against what earlier sections already applied.
    """

    name: ClassVar[str]
    order: ClassVar[int]
    attrs: ClassVar[tuple[Attr, ...]]

    # -- to implement ---------------------------------------------------------------------------

    def identity(self, data: dict[str, Any]) -> str:
        raise NotImplementedError

    def stored(self) -> dict[str, Any]:
        """The stored objects by identity, in export order."""
        raise NotImplementedError

    def serialize(self, obj: Any) -> dict[str, Any]:
        """Every attribute of ``obj``, in the canonical form ``Attr.parse`` produces."""
        raise NotImplementedError

    def create(self, entry: Entry, desired: dict[str, Any], run: Run) -> None:
        raise NotImplementedError

    def update(self, obj: Any, entry: Entry, changes: dict[str, Any], run: Run) -> None:
        raise NotImplementedError

    def remove(self, key: str, obj: Any, run: Run) -> None:
        """Prune ``obj`` (absent from the file): record the change and call the service, or do nothing."""
        raise NotImplementedError

    def normalize(self, entry: Entry, run: Run) -> dict[str, Any]:
        return dict(entry.data)

    def describe(self, key: str) -> str:
        return key

    def implied(self, document: dict[str, Any]) -> list[dict[str, Any]]:
        """Entries a file *without* this section implies (e.g. the queues its automations name), so a
        file written before the section existed still applies; they are only created, never changed or
        pruned. Default: none."""
        return []

    # -- shared ---------------------------------------------------------------------------------

    def location(self, index: int | None, key: str | None) -> str:
        where = self.name if index is None else f"{self.name}[{index}]"
        return f"{where} {self.describe(key)}" if key else where

    def export(self) -> list[dict[str, Any]]:
        return [self.compact(self.serialize(obj)) for obj in self.stored().values()]

    def compact(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` without the keys that are empty and equal to their default (an omitted key means its default)."""
        identity = {a.name for a in self.attrs if a.required}
        return {
            a.name: data[a.name]
            for a in self.attrs
            if a.name in identity or not (is_empty(data[a.name]) and data[a.name] == a.empty())
        }

    def parse(self, raw: Any, problems: list[Problem]) -> list[Entry] | None:
        """Check the file's list for this section; return its entries (None when it is not a list)."""
        if not isinstance(raw, list):
            problems.append(Problem(self.name, "", f"expected a list of entries, got {_describe(raw)}"))
            return None
        known = {a.name: a for a in self.attrs}
        entries: list[Entry] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                problems.append(Problem(self.location(index, None), "", f"expected a map, got {_describe(item)}"))
                continue
            data: dict[str, Any] = {}
            local: list[tuple[str, str]] = []
            for name in item:
                if name not in known:
                    local.append((str(name), f"unknown key; valid keys: {', '.join(known)}"))
            for attr in self.attrs:
                if attr.name not in item:
                    if attr.required:
                        local.append((attr.name, "is required"))
                    data[attr.name] = attr.empty()
                    continue
                try:
                    data[attr.name] = attr.parse(item[attr.name])
                except ValueError as exc:
                    local.append((attr.name + getattr(exc, "path", ""), str(exc)))
                    data[attr.name] = attr.empty()
            key = None if any(name in self.identity_attrs for name, _ in local) else self.identity(data)
            location = self.location(index, key)
            problems.extend(Problem(location, name, message) for name, message in local)
            if key is None:
                continue
            if key in seen:
                problems.append(Problem(location, "", f"duplicate of {self.name}[{seen[key]}]"))
                continue
            seen[key] = index
            entries.append(Entry(index=index, key=key, location=location, data=data))
        return entries

    identity_attrs: ClassVar[tuple[str, ...]] = ()

    def upsert(self, entries: Iterable[Entry], run: Run) -> None:
        """Create what is missing and update what differs, in file order."""
        stored = self.stored()
        for entry in entries:
            desired = self.normalize(entry, run)
            obj = stored.get(entry.key)
            if obj is not None and entry.implied:
                continue
            if obj is None:
                fields = [(name, None, value) for name, value in self.compact(desired).items()]
                run.change(self.name, "create", self.describe(entry.key), entry.location, fields)
                self.create(entry, desired, run)
                continue
            before = self.serialize(obj)
            diff = [(a.name, before[a.name], desired[a.name]) for a in self.attrs if before[a.name] != desired[a.name]]
            if diff:
                run.change(self.name, "update", self.describe(entry.key), entry.location, diff)
                self.update(obj, entry, {name: new for name, _old, new in diff}, run)

    def prune(self, keep: set[str], run: Run) -> None:
        """Remove (or retire) what the file no longer lists."""
        for key, obj in self.stored().items():
            if key not in keep:
                self.remove(key, obj, run)


SECTIONS: dict[str, type[Section]] = {}


def register_section(cls: type[Section]) -> type[Section]:
    """Class decorator adding a section to configuration files (export, plan and apply)."""
    SECTIONS[cls.name] = cls
    return cls


def sections() -> list[Section]:
    """Instances of the registered sections, in apply order."""
    return [cls() for cls in sorted(SECTIONS.values(), key=lambda cls: (cls.order, cls.name))]
