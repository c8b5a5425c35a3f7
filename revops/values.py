"""Plain values for JSON columns: what a field value looks like once stored in a run or the feed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import models


def jsonable(value: Any) -> Any:
    """A JSON-serialisable form of a field value (decimals as strings, dates ISO 8601, rows by pk)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def loose_date(value) -> dt.date | None:
    """A date from what a custom attribute may hold: a date, a datetime (its date), an ISO string (its
    first ten characters); None when it is empty or not a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date) or value is None:
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
