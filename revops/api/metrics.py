"""``GET /api/v1/metrics/``: the dashboard's numbers, from the daily roll-ups (scope ``read``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from revops.metrics.query import MetricsQueryError, metrics_answer
from revops.models import Scope


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day (YYYY-MM-DD); default: 29 days before `end`.")
    end = serializers.DateField(required=False, help_text="Last day (YYYY-MM-DD), included; default: today.")
    team = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A team's external id: that team and its sub-teams only. Default: every team you may read.",
    )
    metric = serializers.CharField(
        required=False, allow_blank=True, help_text="Comma-separated metric keys; default: every metric."
    )


class MetricPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    value = serializers.FloatField(allow_null=True, help_text="The day's number in the metric's unit (null: no data).")
    numerator = serializers.FloatField(
        allow_null=True, help_text="Ratios: what met the condition; sums: the count; percentiles: the sample size."
    )
    denominator = serializers.FloatField(allow_null=True, help_text="Ratios and averages: how many were counted.")


class MetricSeriesSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The series, in words (a rule, a rep, an age band, …).")
    total = serializers.FloatField(
        allow_null=True,
        help_text="Over the range: ratios from the summed counts, sums added, levels at the last day; null for percentiles.",
    )
    points = MetricPointSerializer(many=True)


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    group = serializers.CharField()
    unit = serializers.ChoiceField(choices=["percent", "count", "minutes", "hours"])
    aggregate = serializers.ChoiceField(choices=["ratio", "mean", "sum", "level", "percentile"])
    chart = serializers.ChoiceField(choices=["line", "bar"])
    series = MetricSeriesSerializer(many=True)


class MetricTeamSerializer(serializers.Serializer):
    external_id = serializers.CharField()
    name = serializers.CharField()


class MetricsPageSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    team = MetricTeamSerializer(allow_null=True)
    metrics = MetricSerializer(many=True)


class MetricsView(APIView):
    """The dashboard's metrics over a date range, per day and series, for the teams the caller may read."""

    required_scope = Scope.READ.value

    @extend_schema(
        tags=["metrics"],
        operation_id="metrics_list",
        summary="Dashboard metrics",
        description=(
            "Every registered metric (speed to lead, SLA met, exception backlog, automation success, …) "
            "per day from `start` to `end`, one series per dimension, read from the daily roll-ups the "
            "workers maintain. A manager reads their teams and sub-teams only; `team` narrows to one team "
            "and its sub-teams. Ratios are percentages of `numerator / denominator`; see docs/dashboard.md."
        ),
        parameters=[MetricsQuerySerializer],
        responses=MetricsPageSerializer,
    )
    def get(self, request):
        MetricsQuerySerializer(data=request.query_params).is_valid(raise_exception=True)
        for name in ("start", "end"):  # DRF reads a blank query value as absent; the schema says a date
            if name in request.query_params and not request.query_params[name].strip():
                raise exceptions.ValidationError({name: [f"Give {name} as a date (YYYY-MM-DD), or leave it out."]})
        try:
            payload = metrics_answer(user=request.user, params=request.query_params)
        except MetricsQueryError as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        # The payload already has the documented shape (MetricsPageSerializer, for the schema);
        # serialising a year of per-rep points field by field would cost seconds.
        return Response(payload)
