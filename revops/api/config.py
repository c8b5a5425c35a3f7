"""Configuration as code over the API (scope ``config:write``): export, plan and apply one document.

``GET /api/v1/config/`` exports YAML (JSON with ``Accept: application/json`` or ``?format=json``);
``POST /api/v1/config/plan/`` and ``POST /api/v1/config/apply/`` take the document as YAML
(``Content-Type: application/yaml``) or JSON and answer with the plan. Errors are ``400`` with
the same plan body, each error located in the document. See docs/config.md.
"""

from __future__ import annotations

import json

import yaml
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from revops.access import INTEGRATION, user_role
from revops.configuration import (
    Plan,
    Problem,
    config_apply,
    config_export_json,
    config_export_text,
    config_plan,
)
from revops.configuration.document import DocumentError, load_text
from revops.configuration.rollback import release_rollback
from revops.models import ConfigRelease, Scope

from .serializers import ErrorSerializer

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


class YAMLRenderer(BaseRenderer):
    """``application/yaml`` answers (the export itself is written by the view)."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        plain = json.loads(JSONRenderer().render(data))  # ErrorDetail and friends → plain str
        return yaml.safe_dump(plain, sort_keys=False, allow_unicode=True).encode()


class YAMLParser(BaseParser):
    """Declares YAML request bodies; the views parse the body themselves to locate errors."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):  # pragma: no cover - views read the body
        return load_text(stream.read())


# --- schema shapes ---------------------------------------------------------------------------------


class PlanFieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True, help_text="The stored value (null when created).")
    new = serializers.JSONField(allow_null=True, help_text="The value in the document.")


class PlanChangeSerializer(serializers.Serializer):
    section = serializers.CharField(help_text="dictionary, automations, …")
    action = serializers.ChoiceField(["create", "update", "delete", "retire"])
    key = serializers.CharField(help_text="The entry: object.key for the dictionary, the name for automations.")
    location = serializers.CharField(help_text="Where in the document, e.g. automations[2] 'Hot lead follow-up'.")
    changes = PlanFieldChangeSerializer(many=True)


class PlanErrorSerializer(serializers.Serializer):
    location = serializers.CharField(allow_blank=True)
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()
    text = serializers.CharField(help_text="Location, field and message in one line.")


class PlanCountsSerializer(serializers.Serializer):
    create = serializers.IntegerField()
    update = serializers.IntegerField()
    delete = serializers.IntegerField()
    retire = serializers.IntegerField()


class PlanSerializer(serializers.Serializer):
    source = serializers.CharField()
    valid = serializers.BooleanField(help_text="False when the document has errors (then nothing is applied).")
    applied = serializers.BooleanField(help_text="True when these changes were written (apply only).")
    summary = serializers.CharField()
    counts = PlanCountsSerializer()
    changes = PlanChangeSerializer(many=True)
    errors = PlanErrorSerializer(many=True)


DOCUMENT_EXAMPLE = {
    "version": 1,
    "dictionary": [
        {
            "object_type": "lead",
            "key": "partner_tier",
            "label": "Partner tier",
            "field_type": "choice",
            "definition": "The referring partner's tier.",
            "allowed_values": ["gold", "silver"],
            "owning_team": "Partnerships",
        }
    ],
}
PLAN_REQUEST = {
    "application/json": OpenApiTypes.OBJECT,
    "application/yaml": OpenApiTypes.STR,
}
PLAN_RESPONSES = {
    413: OpenApiResponse(ErrorSerializer, description="The document is larger than the upload limit."),
    415: OpenApiResponse(ErrorSerializer, description="Content-Type is neither YAML nor JSON."),
}


def _json(status: int, payload) -> Response:
    return Response(payload, status=status)


class ConfigView(APIView):
    """The whole configuration as one document."""

    required_scope = Scope.CONFIG_WRITE.value
    renderer_classes = [JSONRenderer, YAMLRenderer]

    @extend_schema(
        tags=["config"],
        operation_id="config_export",
        summary="Export the configuration",
        description=(
            "The data dictionary and every automation as one document (docs/config.md). YAML by default; "
            "JSON with `Accept: application/json` or `?format=json`.\n\nRequires the `config:write` scope."
        ),
        responses={
            # The YAML text is the same document as the JSON answer: a map (docs/config.md).
            (200, "application/yaml"): OpenApiResponse(OpenApiTypes.OBJECT, description="The YAML document."),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The same, as JSON."),
            404: OpenApiResponse(ErrorSerializer, description="`format` is neither `json` nor `yaml`."),
        },
    )
    def get(self, request):
        wants_json = request.accepted_renderer.format == "json" and (
            "json" in request.headers.get("Accept", "") or request.query_params.get("format") == "json"
        )
        if wants_json:
            return Response(config_export_json())
        return HttpResponse(config_export_text(), content_type="application/yaml; charset=utf-8")


class _DocumentView(APIView):
    required_scope = Scope.CONFIG_WRITE.value
    parser_classes = [JSONParser, YAMLParser]
    commit = False

    def post(self, request):
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json" and content_type not in YAML_TYPES:
            return _json(
                415,
                {
                    "detail": f"Content-Type must be application/yaml or application/json, not "
                    f"{content_type or 'missing'!r}."
                },
            )
        try:
            body = request.body
        except RequestDataTooBig:
            return _json(413, {"detail": "The document is larger than the upload limit (SYNC_MAX_BODY_BYTES)."})
        try:
            document = load_text(body, content_type="json" if content_type == "application/json" else "yaml")
        except DocumentError as exc:
            plan = Plan(source="api", problems=[Problem("", "", str(exc))])
        else:
            service = config_apply if self.commit else config_plan
            plan = service(document=document, actor=request.user, source="api")
        return _json(200 if plan.ok else 400, PlanSerializer(plan.as_dict()).data)


class ConfigPlanView(_DocumentView):
    """Dry run: what applying the document would change. Writes nothing."""

    @extend_schema(
        tags=["config"],
        operation_id="config_plan",
        summary="Plan a configuration document (dry run)",
        description=(
            "Every change applying the document would make (create / update with old → new / delete / "
            "retire) and every error, located in the document. Writes nothing. 400 when the document has "
            "errors (the body is the plan, with `errors`).\n\nRequires the `config:write` scope."
        ),
        request=PLAN_REQUEST,
        examples=[OpenApiExample("New custom field", value=DOCUMENT_EXAMPLE, request_only=True)],
        responses={
            200: OpenApiResponse(PlanSerializer, description="The plan; `changes` is empty when nothing differs."),
            400: OpenApiResponse(PlanSerializer, description="The document has errors; see `errors`."),
            **PLAN_RESPONSES,
        },
    )
    def post(self, request):
        return super().post(request)


class ConfigApplyView(_DocumentView):
    """Apply the document atomically: everything or, on any error, nothing."""

    commit = True

    @extend_schema(
        tags=["config"],
        operation_id="config_apply",
        summary="Apply a configuration document",
        description=(
            "Applies the document in one transaction through the same services as the admin (history "
            "and automation versions are recorded, reason `config apply api by <user>`). Answers with the "
            "plan that was applied; 400 with the errors when anything is wrong, and then nothing is written.\n\n"
            "Requires the `config:write` scope."
        ),
        request=PLAN_REQUEST,
        examples=[OpenApiExample("New custom field", value=DOCUMENT_EXAMPLE, request_only=True)],
        responses={
            200: OpenApiResponse(PlanSerializer, description="Applied; the changes that were made."),
            400: OpenApiResponse(PlanSerializer, description="Nothing applied; see `errors`."),
            **PLAN_RESPONSES,
        },
    )
    def post(self, request):
        return super().post(request)


# --- releases --------------------------------------------------------------------------------------


class ReleaseSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    by = serializers.CharField(allow_null=True, help_text="The username the apply was attributed to.")
    source = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    summary = serializers.CharField()
    rolled_back_to = serializers.IntegerField(allow_null=True, help_text="For a rollback: the release it went back to.")


class RollbackRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", help_text="Required to apply.")
    dry_run = serializers.BooleanField(required=False, default=False, help_text="Only plan; write nothing.")


class RollbackPlanSerializer(PlanSerializer):
    release = serializers.IntegerField(allow_null=True, help_text="The new release, when the rollback applied.")


def _release_dict(release) -> dict:
    return {
        "number": release.number,
        "created_at": release.created_at,
        "by": release.created_by.get_username() if release.created_by else None,
        "source": release.source,
        "reason": release.reason,
        "summary": release.summary,
        "rolled_back_to": release.rolled_back_to,
    }


class ConfigReleasesView(APIView):
    """The configuration releases, newest first (each apply that changed something)."""

    required_scope = Scope.CONFIG_WRITE.value

    @extend_schema(
        tags=["config"],
        operation_id="config_releases",
        summary="List configuration releases",
        description="The last 100 releases, newest first. Requires the `config:write` scope.",
        responses={200: ReleaseSerializer(many=True)},
    )
    def get(self, request):
        rows = ConfigRelease.objects.select_related("created_by").order_by("-number")[:100]
        return Response(ReleaseSerializer([_release_dict(r) for r in rows], many=True).data)


class ConfigRollbackView(APIView):
    """Roll the whole configuration back to a release: plan it (``dry_run``) or apply it as a new release."""

    required_scope = Scope.CONFIG_WRITE.value
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["config"],
        operation_id="config_rollback",
        summary="Roll back to a configuration release",
        description=(
            "Applies the release's document again (with `prune: true`) through the same plan and services "
            "as an apply; `dry_run: true` only plans. A `reason` is required to apply. 400 with the located "
            "errors when the release is no longer valid (then nothing changes); 404 for an unknown release.\n\n"
            "Requires the `config:write` scope."
        ),
        request=RollbackRequestSerializer,
        responses={
            200: OpenApiResponse(RollbackPlanSerializer, description="The plan (applied unless dry_run)."),
            400: OpenApiResponse(
                ErrorSerializer,
                description="A malformed body, no reason, or the release cannot be applied (`detail`; with the "
                "plan's `errors` in the last case).",
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such release."),
            415: OpenApiResponse(ErrorSerializer, description="The body is not JSON."),
        },
    )
    def post(self, request, number: int):
        data = request.data
        reason, dry_run = (
            (data.get("reason", ""), data.get("dry_run", False)) if isinstance(data, dict) else (None, None)
        )
        if not isinstance(reason, str) or not isinstance(dry_run, bool) or set(data) - {"reason", "dry_run"}:
            return _json(
                400,
                {"detail": 'Send a JSON map: {"reason": "why (text)", "dry_run": true or false}, with no other keys.'},
            )
        if not ConfigRelease.objects.filter(number=number).exists():
            return _json(404, {"detail": f"There is no release {number}."})
        try:
            plan = release_rollback(
                number=number,
                actor=request.user,
                reason=reason,
                dry_run=dry_run,
                by_scope=user_role(request.user) == INTEGRATION,
            )
        except ValidationError as exc:
            return _json(400, {"detail": " ".join(exc.messages)})
        except PermissionDenied as exc:
            return _json(403, {"detail": str(exc)})
        if not plan.ok:
            return _json(
                400,
                {"detail": f"Release {number} cannot be applied again: {plan.summary()}", **plan.as_dict()},
            )
        return _json(200, RollbackPlanSerializer(plan.as_dict()).data)
