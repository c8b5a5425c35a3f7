"""RQ entry points of the monitors app: thin, they call services."""

from __future__ import annotations


def monitors_snapshot_forecast() -> int:
    """Snapshot every open deal's forecast fields for today (weekly by default); return the run's id."""
    from .services import forecast_snapshot_take

    return forecast_snapshot_take(reason="scheduled forecast snapshot").pk


def monitors_hygiene_scan() -> dict:
    """Run the hygiene policies over every open deal (hourly); return the scan's counts."""
    from .hygiene import hygiene_scan

    return hygiene_scan(reason="scheduled hygiene scan")
