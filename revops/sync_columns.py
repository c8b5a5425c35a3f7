"""The sync's column rules the dictionary does not know about (NOT NULL, ranges, precision), and how a
record's values become a model instance or a raw row without the ORM's per-field overhead."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connection, models
from django.db.models.base import ModelState

# --------------------------------------------------------------------------------------------
# Column rules the dictionary does not know about (NOT NULL, ranges, precision)


class InvalidColumnValue(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    attname: str
    null: bool
    empty: Any  # what None becomes when the column is NOT NULL (or NO_EMPTY)
    max_length: int | None
    int_range: tuple[int | None, int | None] | None
    decimal: tuple[int, int] | None  # (max_digits, decimal_places)

    def clean(self, value):
        if value is None:
            if self.null:
                return None
            if self.empty is NO_EMPTY:
                raise InvalidColumnValue("cannot be empty")
            return self.empty() if callable(self.empty) else self.empty
        if type(value) is str:  # the common case: only the length can be wrong
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidColumnValue(self._too_long(value))
            return value
        if self.max_length is not None and isinstance(value, str) and len(value) > self.max_length:
            raise InvalidColumnValue(self._too_long(value))
        if self.int_range is not None and isinstance(value, int):
            low, high = self.int_range
            if (low is not None and value < low) or (high is not None and value > high):
                raise InvalidColumnValue(f"{value} is out of range ({low} to {high})")
        if self.decimal is not None and isinstance(value, Decimal):
            digits, places = self.decimal
            try:
                value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
            except InvalidOperation:
                raise InvalidColumnValue(f"{value} is too large") from None
            if len(value.as_tuple().digits) > digits:
                raise InvalidColumnValue(
                    f"{value} is too large (at most {digits - places} digits before the decimal point)"
                )
        return value

    def _too_long(self, value: str) -> str:
        shown = repr(value) if len(value) <= 58 else repr(value[:55] + "...")
        return f"{shown} is {len(value)} characters long, but at most {self.max_length} are allowed"


NO_EMPTY = object()


@dataclass(frozen=True)
class ModelMeta:
    model: type[models.Model]
    columns: dict[str, Column]  # non-FK concrete columns by name
    fks: dict[str, str]  # FK field name -> attname
    history_model: type[models.Model]
    tracked: tuple[str, ...]  # attnames the history model copies


@cache
def model_meta(model: type[models.Model]) -> ModelMeta:
    columns, fks = {}, {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.is_relation:
            fks[f.name] = f.attname
            continue
        if f.null:
            empty = None
        elif isinstance(f, models.CharField | models.TextField):
            empty = ""
        elif f.has_default():
            empty = f.default
        else:
            empty = NO_EMPTY
        int_range = None
        if isinstance(f, models.IntegerField):
            int_range = connection.ops.integer_field_range(f.get_internal_type())
        decimal = (f.max_digits, f.decimal_places) if isinstance(f, models.DecimalField) else None
        columns[f.name] = Column(f.name, f.attname, f.null, empty, getattr(f, "max_length", None), int_range, decimal)
    history_model = model.history.model
    tracked = tuple(f.attname for f in history_model.tracked_fields)
    return ModelMeta(model, columns, fks, history_model, tracked)


@cache
def blank_row(model: type[models.Model]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """Every concrete attname with its default, and the (attname, factory) of mutable defaults."""
    static, factories = {}, []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            factories.append((f.attname, f.default))
        else:
            static[f.attname] = f.get_default()
    return static, tuple(factories)


def record_instance(model: type[models.Model], values: dict[str, Any], *, stored: bool = False) -> models.Model:
    """A model instance holding ``values`` (by attname) over the field defaults.

    Equivalent to ``model(**values)`` for concrete fields, without ``Model.__init__``'s per-field
    work (a batch builds one instance per record; nothing here listens to ``pre_init``/``post_init``).
    """
    static, factories = blank_row(model)
    row = static.copy()
    for attname, factory in factories:
        row[attname] = factory()
    row.update(values)
    obj = model.__new__(model)
    obj.__dict__ = row
    obj._state = state = ModelState()
    if stored:
        state.adding = False
        state.db = DEFAULT_DB_ALIAS
    return obj


def values_getter(attnames) -> Any:
    """A function returning the tuple of ``attnames`` from a row dict (or an instance's ``__dict__``)."""
    attnames = tuple(attnames)
    if len(attnames) == 1:
        return lambda row: (row[attnames[0]],)
    return itemgetter(*attnames)


_ORJSON_AS_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value) -> str | None:
    """A JSON column's text; empty objects and lists (most ``attributes``) skip the encoder.

    orjson writes it (a 7.7 KB routing explanation in 7 µs against 57 µs); what orjson refuses goes to
    the standard encoder, which writes it or raises as it always did: keys that are not text, integers
    over 64 bits, texts that are not valid Unicode, and (passed through to it on purpose) dates and
    dataclasses. A few values that failed before are now stored: a UUID (as its text), an ``Enum``
    member (as its value), and NaN and ±Infinity (as null; PostgreSQL refuses the standard encoder's
    ``NaN`` and ``Infinity``)."""
    if value is None:
        return None
    if not value and type(value) in (dict, list):
        return "{}" if type(value) is dict else "[]"
    try:
        return orjson.dumps(value, option=_ORJSON_AS_JSON).decode()
    except TypeError:
        return json.dumps(value)


def column_jsonable(value):
    """``value`` as JSON can carry it: decimals as strings, dates and datetimes in ISO 8601."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool or kind is float:
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
