"""Daily roll-ups of the dashboard's metrics (see ``revops.metrics``)."""

from __future__ import annotations

from django.db import models


class MetricDaily(models.Model):
    """One number of one metric for one day, one team and one series ("dimension").

    Rows are written only by the roll-up job (``revops.metrics.rollup``), which recomputes the
    days that changed; the dashboard and ``GET /api/v1/metrics/`` read nothing else. Ratios keep
    their ``numerator`` and ``denominator`` so that days and teams add up; a percentile keeps its
    ``value`` and its sample count (``numerator``) and is never added up. ``all_teams`` marks the
    rows over every team at once — a percentile computed over all of them, or the teams' sum of a
    metric that adds up — which is what a RevOps admin reads unfiltered.
    """

    metric = models.CharField(max_length=60)
    day = models.DateField()
    team = models.ForeignKey("revops.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    all_teams = models.BooleanField(default=False)
    dimension = models.CharField(max_length=200, blank=True, default="")
    numerator = models.FloatField(default=0)
    denominator = models.FloatField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["metric", "day", "dimension"]
        indexes = [
            models.Index(fields=["metric", "day"], name="metric_daily_day"),
            models.Index(fields=["team", "metric", "day"], name="metric_daily_team"),
            models.Index(fields=["metric", "day"], name="metric_daily_all_teams", condition=models.Q(all_teams=True)),
        ]

    def __str__(self):
        return f"{self.metric} {self.day} {self.dimension or '-'}"


class MetricState(models.Model):
    """Where the roll-up job stopped: changes after ``watermark`` make their days dirty again."""

    name = models.CharField(max_length=40, unique=True)
    watermark = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name}: {self.watermark}"
