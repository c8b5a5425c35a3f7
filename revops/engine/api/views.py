"""Kill switches over the API: pause and resume one automation, or all of them (scope ``config:write``).

``POST /api/v1/automations/<id>/pause/`` ``{"reason": …}``, ``…/resume/`` ``{"reason": …, "held":
"process"|"skip"}``, ``POST /api/v1/automations/pause-all/`` and ``…/resume-all/`` (same bodies), and
``GET /api/v1/automations/paused/`` (scope ``read``). Pausing twice or resuming a running automation
changes nothing and says so (``changed: false``). Writes go through ``revops.engine.pause``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from revops.api.serializers import ErrorSerializer
from revops.models import Automation, HeldEvent, Scope

from .. import pause as switches
from . import serializers as shapes

TAG = "automations"
AUTOMATION_ID = OpenApiParameter(
    "automation_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description="The automation's id."
)
ERRORS = {
    400: OpenApiResponse(
        description="No reason, or no valid decision on the held events; the body says what is accepted."
    ),
    403: OpenApiResponse(ErrorSerializer, description="The token or user lacks the `config:write` scope."),
}


def _automation(automation_id: str) -> Automation:
    if not str(automation_id).isdigit() or len(str(automation_id)) > 18:
        raise exceptions.NotFound("No automation with this id.")
    automation = Automation.objects.select_related("paused_by").filter(pk=int(automation_id)).first()
    if automation is None:
        raise exceptions.NotFound("No automation with this id.")
    return automation


def _call(func, **kwargs):
    try:
        return func(**kwargs)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(as_serializer_error(exc)) from None


def _held(automation_ids=None) -> int:
    qs = HeldEvent.objects.filter(decision=HeldEvent.Decision.PENDING)
    return (qs.filter(automation_id__in=automation_ids) if automation_ids is not None else qs).count()


def _state(automation: Automation) -> dict:
    automation.refresh_from_db()
    return shapes.automation_switch_data(automation, switch=switches.pause_all_state(), held=_held([automation.pk]))


class _SwitchView(APIView):
    required_scope = Scope.CONFIG_WRITE.value
    parser_classes = [JSONParser]
    body = shapes.PauseRequestSerializer

    def validated(self, request) -> dict:
        serializer = self.body(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class AutomationPauseView(_SwitchView):
    @extend_schema(
        tags=[TAG],
        operation_id="automations_pause",
        summary="Pause one automation (kill switch)",
        description="From the next event on, the automation does not run; the events that would trigger it are "
        "held (the router instead sends new leads to its fallback owner with an item). It keeps its mode. "
        "Pausing a paused automation changes nothing.\n\nRequires the `config:write` scope.",
        parameters=[AUTOMATION_ID],
        request=shapes.PauseRequestSerializer,
        responses={200: shapes.SwitchResultSerializer, **ERRORS},
        examples=[OpenApiExample("pause", value={"reason": "Tasks go to the wrong reps"}, request_only=True)],
    )
    def post(self, request, automation_id):
        data = self.validated(request)
        automation = _automation(automation_id)
        changed = _call(switches.automation_pause, automation=automation, actor=request.user, reason=data["reason"])
        message = f"{automation.name!r} is paused." if changed else f"{automation.name!r} was already paused."
        return Response({"changed": changed, "message": message, "held_decided": 0, "automation": _state(automation)})


class AutomationResumeView(_SwitchView):
    body = shapes.ResumeRequestSerializer

    @extend_schema(
        tags=[TAG],
        operation_id="automations_resume",
        summary="Resume one automation and decide its held events",
        description="The automation runs again from the next event. Its held events are processed (run in the "
        "background through the normal path) or skipped, as `held` says; each records the decision, who and when. "
        "While all automations are paused, they stay held until the pause-all switch is resumed.\n\n"
        "Requires the `config:write` scope.",
        parameters=[AUTOMATION_ID],
        request=shapes.ResumeRequestSerializer,
        responses={200: shapes.SwitchResultSerializer, **ERRORS},
        examples=[OpenApiExample("resume", value={"reason": "Assignee fixed", "held": "process"}, request_only=True)],
    )
    def post(self, request, automation_id):
        data = self.validated(request)
        automation = _automation(automation_id)
        result = _call(
            switches.automation_resume,
            automation=automation,
            actor=request.user,
            reason=data["reason"],
            held=data["held"],
        )
        return Response(
            {
                "changed": result.changed,
                "message": result.message(repr(automation.name)),
                "held_decided": result.decided,
                "automation": _state(automation),
            }
        )


class PauseAllView(_SwitchView):
    @extend_schema(
        tags=[TAG],
        operation_id="automations_pause_all",
        summary="Pause every automation at once",
        description="A switch stored in the database, read by the workers once per batch: from the next event on "
        "no automation runs and their events are held. Pausing again changes nothing.\n\n"
        "Requires the `config:write` scope.",
        request=shapes.PauseRequestSerializer,
        responses={200: shapes.SwitchResultSerializer, **ERRORS},
        examples=[OpenApiExample("pause all", value={"reason": "The CRM sends corrupt data"}, request_only=True)],
    )
    def post(self, request):
        data = self.validated(request)
        changed = _call(switches.automations_pause_all, actor=request.user, reason=data["reason"])
        message = "Every automation is paused." if changed else "All automations were already paused."
        state = shapes.pause_data(switches.pause_all_state())
        return Response({"changed": changed, "message": message, "held_decided": 0, "all_paused": state})


class ResumeAllView(_SwitchView):
    body = shapes.ResumeRequestSerializer

    @extend_schema(
        tags=[TAG],
        operation_id="automations_resume_all",
        summary="Resume the pause-all switch and decide the held events",
        description="Automations run again from the next event, except those paused on their own. The events held "
        "for the others are processed or skipped, as `held` says.\n\nRequires the `config:write` scope.",
        request=shapes.ResumeRequestSerializer,
        responses={200: shapes.SwitchResultSerializer, **ERRORS},
        examples=[OpenApiExample("resume all", value={"reason": "CRM fixed", "held": "skip"}, request_only=True)],
    )
    def post(self, request):
        data = self.validated(request)
        result = _call(switches.automations_resume_all, actor=request.user, reason=data["reason"], held=data["held"])
        return Response(
            {
                "changed": result.changed,
                "message": result.message("Every automation"),
                "held_decided": result.decided,
                "all_paused": shapes.pause_data(switches.pause_all_state()),
            }
        )


class SwitchesView(APIView):
    required_scope = Scope.READ.value

    @extend_schema(
        tags=[TAG],
        operation_id="automations_paused",
        summary="Which automations are paused, and how many events are held",
        description="Requires the `read` scope.",
        responses={200: shapes.SwitchesSerializer},
    )
    def get(self, request):
        switch = switches.pause_all_state()
        paused = Automation.objects.filter(paused_at__isnull=False).select_related("paused_by").order_by("name")
        pending = HeldEvent.objects.filter(decision=HeldEvent.Decision.PENDING).order_by()
        held = dict(pending.values("automation_id").annotate(n=Count("pk")).values_list("automation_id", "n"))
        return Response(
            {
                "all_paused": shapes.pause_data(switch),
                "held_events": sum(held.values()),
                "paused": [shapes.automation_switch_data(a, switch=switch, held=held.get(a.pk, 0)) for a in paused],
            }
        )
