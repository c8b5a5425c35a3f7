"""A routing rule's kill switch over the API: ``POST /api/v1/routing-rules/<id>/pause/`` and ``…/resume/``.

Body ``{"reason": "…"}`` (required); scope ``config:write``. Pausing a paused rule (or resuming a
running one) changes nothing and answers ``changed: false``. Writes go through ``routing.pause``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from revops.api.serializers import ErrorSerializer
from revops.engine.api.serializers import PauseRequestSerializer
from revops.engine.pause import person
from revops.models import Scope

from ..models import RoutingRule
from ..pause import routing_rule_pause, routing_rule_resume

RULE_ID = OpenApiParameter(
    "rule_id", {"type": "integer", "minimum": 1}, OpenApiParameter.PATH, description="The rule's id."
)


class RuleSwitchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="live, shadow, draft or disabled; a pause keeps it.")
    paused = serializers.BooleanField()
    paused_by = serializers.CharField(allow_null=True)
    paused_at = serializers.DateTimeField(allow_null=True)
    pause_reason = serializers.CharField(allow_blank=True)


class RuleSwitchResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False when the rule already was in that state.")
    message = serializers.CharField()
    rule = RuleSwitchSerializer()


def _rule_data(rule: RoutingRule) -> dict:
    rule.refresh_from_db()
    return {
        "id": rule.pk,
        "name": rule.name,
        "status": rule.status,
        "paused": rule.paused_at is not None,
        "paused_by": person(rule.paused_by) if rule.paused_at else None,
        "paused_at": rule.paused_at,
        "pause_reason": rule.pause_reason,
    }


class _RuleSwitchView(APIView):
    required_scope = Scope.CONFIG_WRITE.value
    parser_classes = [JSONParser]
    pausing = True

    def post(self, request, rule_id):
        body = PauseRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = (
            RoutingRule.objects.filter(pk=int(rule_id)).first()
            if str(rule_id).isdigit() and len(rule_id) < 19
            else None
        )
        if rule is None:
            raise exceptions.NotFound("No routing rule with this id.")
        service = routing_rule_pause if self.pausing else routing_rule_resume
        try:
            changed = service(rule=rule, actor=request.user, reason=body.validated_data["reason"])
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(as_serializer_error(exc)) from None
        state = "paused" if self.pausing else "running"
        message = f"{rule.name!r} is {'now ' if changed else 'already '}{state}."
        if changed and self.pausing:
            message += " Leads it matches go to the fallback owner with a 'Routing paused' item."
        return Response({"changed": changed, "message": message, "rule": _rule_data(rule)})


def _schema(operation: str, summary: str, description: str):
    return extend_schema(
        tags=["routing"],
        operation_id=operation,
        summary=summary,
        description=description + "\n\nRequires the `config:write` scope.",
        parameters=[RULE_ID],
        request=PauseRequestSerializer,
        responses={
            200: RuleSwitchResultSerializer,
            400: OpenApiResponse(description="No reason given."),
            403: OpenApiResponse(ErrorSerializer, description="The caller lacks the `config:write` scope."),
        },
        examples=[OpenApiExample("reason", value={"reason": "The EMEA team is in an offsite"}, request_only=True)],
    )


class RulePauseView(_RuleSwitchView):
    pausing = True

    @_schema(
        "routing_rules_pause",
        "Pause one routing rule (kill switch)",
        "From the next lead on, leads the rule matches go to the routing automation's fallback owner with a "
        "'Routing paused' exception item (never to the next rule).",
    )
    def post(self, request, rule_id):
        return super().post(request, rule_id)


class RuleResumeView(_RuleSwitchView):
    pausing = False

    @_schema("routing_rules_resume", "Resume one routing rule", "The next lead the rule matches is routed by it.")
    def post(self, request, rule_id):
        return super().post(request, rule_id)
