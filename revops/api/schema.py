"""OpenAPI schema generation (drf-spectacular): bearer-token auth, documented error responses, scopes.

Every operation documents the errors the API can answer with (400, 401, 403, 404 where the path
has a parameter, 415 where it takes a body, 429, 503), and its description names the token scope it needs.
Typed filter parameters are marked ``allowEmptyValue``: an empty value (``?updated_since=``) means
"no filter", as django-filter treats it."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from revops.models import Scope

from . import serializers

ERRORS = {
    "400": OpenApiResponse(OpenApiTypes.OBJECT, description="Malformed input: `{parameter or field: [messages]}`."),
    "401": OpenApiResponse(serializers.ErrorSerializer, description="No, invalid or revoked token."),
    "403": OpenApiResponse(serializers.ErrorSerializer, description="The token lacks the required scope."),
    "404": OpenApiResponse(serializers.ErrorSerializer, description="No such record."),
    "415": OpenApiResponse(serializers.ErrorSerializer, description="Unsupported Content-Type for the body."),
    "429": OpenApiResponse(serializers.RateLimitedSerializer, description="Rate limited; see Retry-After."),
    "503": OpenApiResponse(
        serializers.RateLimitedSerializer,
        description=(
            "The database or Redis is unavailable: nothing was applied (a replay with the same Idempotency-Key "
            "says otherwise). Retry after the Retry-After header's seconds."
        ),
    ),
}


class TokenAuthScheme(OpenApiAuthenticationExtension):
    target_class = "revops.api.auth.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rvp_…",
            "description": (
                "An integration token: `Authorization: Bearer rvp_…`. Create one with "
                "`manage.py create_api_token NAME --scope read` or in the admin (API tokens)."
            ),
        }


class AutoSchema(openapi.AutoSchema):
    """Adds the scope each operation needs and the error responses every endpoint can give."""

    def get_description(self):
        description = super().get_description() or ""
        scope = getattr(self.view, "required_scope", Scope.READ.value)
        return f"{description}\n\nRequires the `{scope}` scope.".strip()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in ERRORS.items():
            if code == "404" and "{" not in self.path:
                continue
            if code == "415" and self.method not in ("POST", "PUT", "PATCH"):
                continue
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _get_filter_parameters(self):
        return [_empty_means_absent(parameter) for parameter in super()._get_filter_parameters()]

    def _get_format_parameters(self):
        # DRF ignores an empty ``?format=`` (the first renderer answers)
        return [{**parameter, "allowEmptyValue": True} for parameter in super()._get_format_parameters()]


def _empty_means_absent(parameter: dict) -> dict:
    """Declare ``allowEmptyValue`` on a typed filter: ``?updated_since=`` is no filter, not an error.

    django-filter skips empty values of typed filters (dates, numbers, booleans) and of single-choice
    filters (its choice field offers "" as "any"). Text filters admit the empty string anyway, and
    multiple-choice filters refuse it ("Select a valid choice"), so neither is marked."""
    schema = parameter.get("schema", {})
    array = schema.get("type") == "array"
    items = schema.get("items", {}) if array else schema
    typed = "enum" not in items and (items.get("type", "string") != "string" or "format" in items)
    single_choice = not array and "enum" in items
    if parameter.get("in") == "query" and (typed or single_choice):
        parameter["allowEmptyValue"] = True
    return parameter
