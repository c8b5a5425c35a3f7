"""The metrics registry: what the dashboard and ``GET /api/v1/metrics/`` can show.

A metric is registered by the layer that owns its data (routing its speed to lead, the queue its
backlog, …); the core stores and reads the daily roll-ups and never imports those layers. The
dashboard lists what is registered and nothing else: a metric whose app is not installed is not
shown, never faked.

``compute_day(day, start, end)`` returns the ``Point`` values of one local day (``start`` and
``end`` are its aware bounds); ``changed_days(since)`` returns the times of the changes after
``since`` that touch a day's numbers (each is turned into its local day) — or, with
``since=None``, of every change ever (the first roll-up). The roll-up job recomputes those days.

A metric registered with ``per_automation=True`` counts something *per automation*: its points
carry the automation's id as their ``dimension`` (and no team), it is rolled up like the others
but is not a dashboard chart nor an API metric; the automation health pages
(``revops.engine.health``) read it. Its ``aggregate`` is ``sum``.

``aggregate`` says how days and teams add up:

- ``ratio`` — ``numerator / denominator`` over the rows (a percentage);
- ``mean`` — the same, for an average (``numerator`` is a sum, ``denominator`` a count);
- ``sum`` — a count per day, added up;
- ``level`` — a count at the end of each day (a backlog): teams add up, a range shows its last day;
- ``percentile`` — a ``value`` per day and team (and one over all teams), never added up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

AGGREGATES = ("ratio", "mean", "sum", "level", "percentile")
UNITS = {"percent": "%", "count": "", "minutes": "min", "hours": "h"}


@dataclass(frozen=True)
class Point:
    """One computed number: for ``team_id`` (None: no team) and series ``dimension``.

    ``all_teams`` is set on a percentile computed over every team at once.
    """

    team_id: int | None
    dimension: str = ""
    numerator: float = 0
    denominator: float | None = None
    value: float | None = None
    all_teams: bool = False


@dataclass(frozen=True)
class Metric:
    """A registered metric (see the module docstring)."""

    key: str
    label: str
    description: str
    unit: str
    group: str
    aggregate: str
    compute_day: Callable
    changed_days: Callable[..., Iterable] | None = None
    order: int = 100
    chart: str = "line"
    series_order: tuple[str, ...] = field(default_factory=tuple)
    per_automation: bool = False


_METRICS: dict[str, Metric] = {}


def register_metric(
    key: str,
    *,
    label: str,
    description: str,
    unit: str,
    group: str,
    aggregate: str,
    compute_day: Callable,
    changed_days: Callable[..., Iterable] | None = None,
    order: int = 100,
    chart: str = "line",
    series_order: Iterable[str] = (),
    per_automation: bool = False,
) -> Metric:
    """Add a metric to the dashboard and the API (idempotent by ``key``)."""
    if unit not in UNITS:
        raise ValueError(f"metric {key!r}: unit must be one of {', '.join(UNITS)}")
    if aggregate not in AGGREGATES:
        raise ValueError(f"metric {key!r}: aggregate must be one of {', '.join(AGGREGATES)}")
    if per_automation and aggregate != "sum":
        raise ValueError(f"metric {key!r}: a per-automation metric counts (aggregate sum)")
    if chart not in ("line", "bar"):
        raise ValueError(f"metric {key!r}: chart must be line or bar")
    metric = _METRICS[key] = Metric(
        key=key,
        label=label,
        description=description,
        unit=unit,
        group=group,
        aggregate=aggregate,
        compute_day=compute_day,
        changed_days=changed_days,
        order=order,
        chart=chart,
        series_order=tuple(series_order),
        per_automation=per_automation,
    )
    return metric


def unregister_metric(key: str) -> None:
    """Remove a metric (tests)."""
    _METRICS.pop(key, None)


def all_metrics() -> list[Metric]:
    """Every registered metric, the per-automation ones included (what the roll-up computes)."""
    return sorted(_METRICS.values(), key=lambda m: (m.order, m.key))


def metrics() -> list[Metric]:
    """The dashboard's and the API's metrics, in dashboard order (per-automation ones left out)."""
    return [m for m in all_metrics() if not m.per_automation]


def automation_metrics() -> list[Metric]:
    """The per-automation metrics (the automation health pages' counters)."""
    return [m for m in all_metrics() if m.per_automation]


def metric(key: str) -> Metric | None:
    """A dashboard metric by key (None for an unknown or per-automation key)."""
    found = _METRICS.get(key)
    return None if found is None or found.per_automation else found
