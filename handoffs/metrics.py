"""The handoffs' dashboard metric: handoff completeness. Registered in ``HandoffsConfig.ready``.

A handoff belongs to the day it was opened and to the team of the deal's owner (the account's
owner for a renewal handoff): the team that owes the context.
"""

from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import Coalesce

from revops.metrics.days import ratio_points
from revops.plugins import register_metric

from .models import Handoff

COMPLETE = (Handoff.Status.READY, Handoff.Status.SENT, Handoff.Status.ACCEPTED)


def handoffs_changed(since):
    handoffs = Handoff.objects.all()
    if since is not None:
        handoffs = handoffs.filter(Q(created_at__gte=since) | Q(updated_at__gte=since))
    return handoffs.values_list("created_at", flat=True).iterator()


def completeness_day(day, start, end):
    """Of the handoffs opened on the day (cancelled ones left out), the share whose context is
    complete (ready, sent or accepted); waiting and sent-back handoffs are incomplete."""
    rows = (
        Handoff.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=Handoff.Status.CANCELLED)
        .annotate(team=Coalesce("opportunity__owner__team_id", "account__owner__team_id"))
        .values_list("team", "status")
    )
    return ratio_points((team, "", status in COMPLETE, 1) for team, status in rows)


def handoffs_metrics_register() -> None:
    register_metric(
        "handoff_completeness",
        label="Handoff completeness",
        description="Of the handoffs opened, the share with all their context (ready, sent or accepted).",
        unit="percent",
        group="Handoffs and monitors",
        aggregate="ratio",
        compute_day=completeness_day,
        changed_days=handoffs_changed,
        order=40,
    )
