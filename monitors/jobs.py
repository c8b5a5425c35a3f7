"""RQ entry points of the monitors app: thin, they call services."""

from __future__ import annotations


def monitors_snapshot_forecast() -> int:
    """Snapshot every open deal's forecast fields for today (weekly by default); return the run's id."""
    from .services import forecast_snapshot_take

    return forecast_snapshot_take(reason="scheduled forecast snapshot").pk


def monitors_hygiene_scan() -> dict:
    """Run the hygiene policies over every open deal (hourly), then send the managers' digests for the
    forecast calls of the next 24 hours (once per manager and call); return the counts."""
    from django.utils import timezone

    from .digest import hygiene_digests_send
    from .hygiene import hygiene_scan

    now = timezone.now()
    counts = hygiene_scan(now=now, reason="scheduled hygiene scan")
    counts["digests_sent"] = hygiene_digests_send(now=now)
    return counts


def monitors_renewal_scan() -> dict:
    """Run the renewal policies over every customer account (daily): renewal tasks as windows open,
    renewal-risk items, save plans and finance notices; return the counts."""
    from .renewal_scan import renewal_scan

    return renewal_scan(reason="scheduled renewal scan")
