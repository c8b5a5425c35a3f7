"""``POST /api/v1/runs/<id>/revert/``: revert one automation run, or with ``dry_run`` see what it would do.

Needs the ``runs:revert`` scope (RevOps admins signed in have it; a token must be given it). The
body is ``{"reason": "…", "force": false, "dry_run": false}``; ``reason`` is required unless
``dry_run``. The answer lists every action with its record, before, after and current value, and what
reverting does (or did) with it in a sentence. Wired in ``revops.urls``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from revops.api.serializers import ErrorSerializer
from revops.models import AutomationRun, Scope

from ..revert import OUTCOME_LABELS, plan_summary, run_revert, run_revert_plan

MAX_ID = 9223372036854775807


class RevertRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Why the run is reverted (required to revert)."
    )
    force = serializers.BooleanField(default=False, help_text="Also revert actions whose record changed since.")
    dry_run = serializers.BooleanField(default=False, help_text="Only say what reverting would do.")


class RevertLineSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The action's position in the run.")
    action = serializers.CharField(help_text="The action's key, e.g. assign_owner.")
    label = serializers.CharField(help_text="The action in words.")
    object_type = serializers.CharField()
    object_id = serializers.IntegerField(allow_null=True)
    record = serializers.CharField(help_text="The record in words.")
    before = serializers.CharField(help_text="What the record held before the run.")
    after = serializers.CharField(help_text="What the run set.")
    now = serializers.CharField(help_text="What the record holds now.")
    outcome = serializers.ChoiceField(list(OUTCOME_LABELS), help_text="What reverting does with this action.")
    outcome_label = serializers.CharField()
    note = serializers.CharField(help_text="Why, in a sentence.")


class RevertResultSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    reverted = serializers.IntegerField(help_text="How many actions were (or would be) reverted.")
    summary = serializers.CharField()
    revert_id = serializers.IntegerField(allow_null=True, help_text="The recorded revert (null for a dry run).")
    lines = RevertLineSerializer(many=True)


def _lines(lines: list[dict], *, done: bool) -> list[dict]:
    return [{**line, "outcome_label": OUTCOME_LABELS[line["outcome"]][1 if done else 0]} for line in lines]


class RunRevertView(APIView):
    """Revert one run (see the module docstring)."""

    required_scope = Scope.RUNS_REVERT.value
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["runs"],
        operation_id="runs_revert",
        summary="Revert an automation run",
        description=(
            "Undo what one automation run applied, newest action first, through each action's revert handler. "
            "An action whose record changed since the run is skipped with the reason, unless `force`. "
            "With `dry_run` nothing is written and the answer is the plan. Reverting twice changes nothing the "
            "second time (every line says `already_reverted`). An email that was sent cannot be unsent: its line "
            "says `not_revertible`.\n\nRequires the `runs:revert` scope."
        ),
        parameters=[
            OpenApiParameter(
                "run_id",
                {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                OpenApiParameter.PATH,
                description="The run's id.",
            )
        ],
        request=RevertRequestSerializer,
        responses={
            200: RevertResultSerializer,
            400: OpenApiResponse(ErrorSerializer, description="No reason given, or the run was in shadow mode."),
            403: OpenApiResponse(ErrorSerializer, description="The token lacks the `runs:revert` scope."),
            404: OpenApiResponse(ErrorSerializer, description="No run with this id."),
        },
        examples=[
            OpenApiExample("Plan first", value={"dry_run": True}, request_only=True),
            OpenApiExample(
                "Revert",
                value={"reason": "The US rule sent leads to the wrong pool.", "force": False},
                request_only=True,
            ),
        ],
    )
    def post(self, request, run_id):
        if not str(run_id).isdigit() or not 0 < int(run_id) <= MAX_ID:
            raise Http404(f"There is no automation run with id {run_id!r}.")
        run = AutomationRun.objects.select_related("automation").filter(pk=int(run_id)).first()
        if run is None:
            raise Http404(f"There is no automation run with id {run_id}.")
        body = RevertRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["dry_run"]:
            plan = run_revert_plan(run, force=data["force"])
            reverted = plan.counts.get("revert", 0)
            result = {"revert_id": None, "summary": plan.summary, "lines": _lines(plan.lines, done=False)}
        else:
            try:
                revert = run_revert(run=run, actor=request.user, reason=data.get("reason", ""), force=data["force"])
            except DjangoValidationError as exc:
                raise exceptions.ValidationError(as_serializer_error(exc)) from None
            reverted = revert.reverted
            result = {
                "revert_id": revert.pk,
                "summary": plan_summary(run, revert.lines, done=True),
                "lines": _lines(revert.lines, done=True),
            }
        payload = {"run": run.pk, "dry_run": data["dry_run"], "reverted": reverted, **result}
        return Response(RevertResultSerializer(payload).data)


app_name = "api-runs"

urlpatterns = [path("runs/<str:run_id>/revert/", RunRevertView.as_view(), name="revert")]
