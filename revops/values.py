"""Plain values for JSON columns: what a field value looks like once stored in a run or the feed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format


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


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def datetime_text(value: dt.datetime) -> str:
    """A time as people read it, in the viewer's time zone (the active one): "30 Dec 2026, 09:00 EST"."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    local = timezone.localtime(value)
    return f"{date_format(local, 'j M Y, H:i')} {local.tzname()}"


def date_text(value: dt.date) -> str:
    """A date as people read it: "30 Dec 2026"."""
    return date_format(value, "j M Y")


def moment_text(value: Any) -> str | None:
    """``datetime_text``/``date_text`` for a datetime, a date or an ISO 8601 string of one (as runs and
    the feed store them); None for anything else, so callers show it as it is."""
    if isinstance(value, dt.datetime):
        return datetime_text(value)
    if isinstance(value, dt.date):
        return date_text(value)
    if not isinstance(value, str) or len(value) < 10:
        return None
    if _ISO_DATE.match(value):
        parsed_date = parse_date(value)
        return date_text(parsed_date) if parsed_date else None
    if _ISO_DATETIME.match(value):
        try:
            parsed = parse_datetime(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return datetime_text(parsed) if parsed else None
    return None
