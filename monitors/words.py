"""Plain-language pieces shared by the Why panel and the hygiene policies: counts, durations, dates, money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from django.utils import timezone, translation
from django.utils.formats import date_format


def days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def ago(n: int) -> str:
    return {0: "today", 1: "yesterday"}.get(n, f"{days(n)} ago")


def day(value, today: dt.date | None = None) -> str:
    """A date (or a datetime, in the local time zone) as "30 Nov", with the year when not ``today``'s year."""
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value)
    today = today or timezone.localdate()
    return _formatted(value, "j M" if value.year == today.year else "j M Y", translation.get_language())


@lru_cache(maxsize=4096)
def _formatted(value: dt.date, fmt: str, language: str | None) -> str:
    """``date_format`` of a date, cached: the month's name depends on the active language, hence the key."""
    return date_format(value, fmt)


def money(value: Decimal | float | int) -> str:
    return f"{value:,.0f}"


def percent(value: float) -> str:
    value = abs(value)
    return f"{value:.0f}" if value >= 1 else f"{value:.1f}"


def joined(labels: list[str]) -> str:
    """ "A", "A and B", "A, B and C"."""
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def stage_stay(signals, stage_label: str, today: dt.date | None = None) -> str:
    """How long a deal has been in its stage, saying so when no stage change was ever recorded."""
    since = day(signals.stage_since, today)
    if signals.stage_recorded:
        return f"{days(signals.days_in_stage)} in {stage_label} (since {since})"
    return (
        f"{days(signals.days_in_stage)} in {stage_label} as far as the portal knows "
        f"(no stage change recorded since it first saw the deal on {since})"
    )
