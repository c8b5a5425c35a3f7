"""The forecast signals as computed opportunity fields, usable in every automation's conditions.

Registered from ``MonitorsConfig.ready()`` (``revops.plugins.register_computed_field``), so an alert,
a hygiene policy or any other automation on opportunities can test e.g.
``{"field": "opportunity.close_date_pushes_this_quarter", "op": "gte", "value": 2}``. Every value
comes from ``deal_signals`` as of the evaluation's ``now`` (the portal's own movements and
snapshots, never the CRM's counters) and is computed for a whole batch of deals at once; the fields
of one evaluation share a single ``deal_signals`` read (``revops.conditions.computed.shared``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from .selectors import deal_signals

RECENT_DAYS = 30


def _signals(records, now: dt.datetime):
    """The deals' signals, read once for every signal field of the batch being evaluated."""
    from revops.conditions.computed import shared

    pks = tuple(sorted(record.pk for record in records))
    return shared(
        ("monitors.deal_signals", pks, now), lambda: deal_signals(deals=records, now=now, recent_days=RECENT_DAYS)
    )


def _from_signals(read: Callable) -> Callable:
    def compute(records, now):
        return {pk: read(signals) for pk, signals in _signals(records, now).items()}

    return compute


def _pct(signals):
    if signals.amount_change_pct is None:
        return None
    return Decimal(str(signals.amount_change_pct)).quantize(Decimal("0.01"))


def _recent(field: str) -> Callable:
    return _from_signals(lambda s: s.recent_changes.get(field, 0))


# (key, label, type, compute, description)
SIGNAL_FIELDS = (
    (
        "amount_change_since_snapshot",
        "Amount change since the last snapshot",
        "decimal",
        _from_signals(lambda s: s.amount_change),
        "The amount now minus the amount in the deal's latest weekly forecast snapshot (empty without a snapshot "
        "or an amount).",
    ),
    (
        "amount_change_pct_since_snapshot",
        "Amount change since the last snapshot (%)",
        "decimal",
        _from_signals(_pct),
        "That change as a percentage of the snapshot's amount, to two decimals (e.g. -20.00; empty when the "
        "snapshot's amount is empty or zero).",
    ),
    (
        "close_date_pushes_this_quarter",
        "Close-date pushes this quarter",
        "integer",
        _from_signals(lambda s: s.pushes),
        "Close-date changes since the start of the calendar quarter that moved the date later.",
    ),
    (
        "days_slipped_this_quarter",
        "Days slipped this quarter",
        "integer",
        _from_signals(lambda s: s.days_slipped),
        "The days those pushes added to the close date, summed (pull-ins are not subtracted).",
    ),
    (
        "days_in_stage",
        "Days in the current stage",
        "integer",
        _from_signals(lambda s: s.days_in_stage),
        "Whole days since the deal entered its current stage (or since the portal first saw it).",
    ),
    (
        "forecast_category_changes_this_quarter",
        "Forecast-category changes this quarter",
        "integer",
        _from_signals(lambda s: s.category_changes),
        "Forecast-category changes since the start of the calendar quarter.",
    ),
    (
        "days_since_activity",
        "Days since the last activity",
        "integer",
        _from_signals(lambda s: s.days_since_activity),
        "Whole days since the latest logged activity (empty when none was ever logged).",
    ),
    (
        "close_date_changes_30d",
        "Close-date changes in the last 30 days",
        "integer",
        _recent("close_date"),
        "Every change of the close date in the last 30 days (pushes, pull-ins, set or cleared).",
    ),
    (
        "amount_changes_30d",
        "Amount changes in the last 30 days",
        "integer",
        _recent("amount"),
        "Every change of the amount in the last 30 days.",
    ),
    (
        "stage_changes_30d",
        "Stage changes in the last 30 days",
        "integer",
        _recent("stage"),
        "Every stage change in the last 30 days.",
    ),
)


def monitors_register_signal_fields() -> None:
    """Offer the forecast signals to every automation's opportunity conditions."""
    from revops.plugins import register_computed_field

    for key, label, field_type, compute, description in SIGNAL_FIELDS:
        register_computed_field(
            "opportunity", key, label=label, field_type=field_type, compute=compute, description=description
        )
