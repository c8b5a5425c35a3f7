"""The data-quality dashboard metric: the duplicate rate. Registered in ``DataQualityConfig.ready``.

A record belongs to the day it arrived in the portal and to its owner's team; it counts as a
duplicate once it is in a duplicate set that was not dismissed (found on ingest or by a later scan,
which changes the number of the day it arrived).
"""

from __future__ import annotations

from django.db.models import Count, Q

from revops.metrics.days import ratio_points
from revops.plugins import register_metric

from .models import DuplicateMember, DuplicateSet
from .objects import duplicate_objects


def duplicates_changed(since):
    """Arrival times of the records that arrived, or joined a set or saw it change, after ``since``."""
    for entry in duplicate_objects():
        records = entry.model.objects.all()
        if since is not None:
            touched = DuplicateMember.objects.filter(
                Q(added_at__gte=since) | Q(set__updated_at__gte=since), object_type=entry.object_type
            ).values("object_id")
            records = records.filter(Q(created_at__gte=since) | Q(pk__in=touched))
        yield from records.values_list("created_at", flat=True).iterator()


def _team_column(model) -> str | None:
    return "owner__team_id" if any(f.name == "owner" for f in model._meta.fields) else None


def duplicate_rate_day(day, start, end):
    """Of the leads, contacts and accounts that arrived on the day, the share in a duplicate set
    (one series per object, each record in its owner's team)."""
    rows = []
    for entry in duplicate_objects():
        label = f"{entry.label.capitalize()}s"
        members = (
            DuplicateMember.objects.filter(object_type=entry.object_type)
            .exclude(set__status=DuplicateSet.Status.DISMISSED)
            .values("object_id")
        )
        arrived = entry.model.objects.filter(created_at__gte=start, created_at__lt=end)
        team = _team_column(entry.model)
        counts = {"n": Count("pk"), "dup": Count("pk", filter=Q(pk__in=members))}
        if team is None:
            total = arrived.aggregate(**counts)
            rows.append((None, label, total["dup"], total["n"]))
            continue
        for row in arrived.values(team).annotate(**counts).order_by():
            rows.append((row[team], label, row["dup"], row["n"]))
    return ratio_points(rows)


def dataquality_metrics_register() -> None:
    register_metric(
        "duplicate_rate",
        label="Duplicate rate",
        description="Of the leads, contacts and accounts that arrived, the share found to duplicate another record.",
        unit="percent",
        group="Data quality",
        aggregate="ratio",
        compute_day=duplicate_rate_day,
        changed_days=duplicates_changed,
        order=60,
    )
