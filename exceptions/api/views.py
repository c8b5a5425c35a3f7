"""Exception API views: thin — validate input, find the item through the selectors, call a service.

The actions on one item (``POST /api/v1/exceptions/<id>/<key>/``) come from the one table in
``exceptions.actions`` that the admin reads too: the body is validated by the action's form, so the
API and the admin accept the same input and answer with the same messages.

Reads need the ``read`` scope, actions ``exceptions:write``. Which items a caller sees comes from
``exceptions.selectors`` (a token is a service account and sees every item; a signed-in user sees
what their role allows). An item the caller cannot see answers 404, exactly like one that does
not exist; a visible item the caller's role may not act on (a rep approving) answers 403.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from exceptions import selectors
from exceptions.actions import ItemAction, form_errors, item_action, perform
from exceptions.errors import ItemStateError
from exceptions.filtersets import MAX_BIGINT, ExceptionItemFilterSet
from exceptions.models import ExceptionItem
from exceptions.services import exception_next_item
from revops.api.auth import request_scopes
from revops.api.serializers import ErrorSerializer
from revops.models import Scope

from . import serializers

TAG = "exceptions"
CONFLICT = OpenApiResponse(ErrorSerializer, description="The item's state does not allow this (e.g. already claimed).")


ITEM_ID = OpenApiParameter(
    "item_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_BIGINT},
    OpenApiParameter.PATH,
    description="The item's id.",
)


class ItemStateConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def call_service(func, **kwargs):
    """Run a service; its ``ItemStateError`` becomes 409 and other ``ValidationError``s 400."""
    try:
        return func(**kwargs)
    except ItemStateError as exc:
        raise ItemStateConflict(" ".join(exc.messages)) from None
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(as_serializer_error(exc)) from None


@extend_schema_view(
    get=extend_schema(
        tags=[TAG],
        operation_id="exceptions_list",
        summary="List exception items",
        description=(
            "Filterable, cursor-paginated (ordered by id). Only the items you may see: a token sees every "
            "item, a signed-in user what their role allows.\n\nRequires the `read` scope."
        ),
    )
)
class ExceptionItemList(generics.ListAPIView):
    required_scope = Scope.READ.value
    serializer_class = serializers.ExceptionItemSerializer
    filterset_class = ExceptionItemFilterSet
    filter_backends = [DjangoFilterBackend]  # documents the filters; the selector applies them
    queryset = ExceptionItem.objects.none()  # for the schema; get_queryset is the real one

    def get_queryset(self):
        try:
            return selectors.visible_items(user=self.request.user, filters=self.request.query_params)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None

    def filter_queryset(self, queryset):
        return queryset


@extend_schema_view(
    get=extend_schema(
        tags=[TAG], operation_id="exceptions_retrieve", summary="One exception item", parameters=[ITEM_ID]
    )
)
class ExceptionItemDetail(generics.RetrieveAPIView):
    required_scope = Scope.READ.value
    serializer_class = serializers.ExceptionItemSerializer
    queryset = ExceptionItem.objects.none()

    def get_object(self):
        return selectors.item_for_user(user=self.request.user, pk=self.kwargs["item_id"])


def _form_data(action: ItemAction, data) -> tuple[dict, dict[str, list[str]]]:
    """The JSON body as form data: text for text fields, objects as they are for structured ones.

    Returns the data and the errors of values of the wrong JSON type (a number where text is expected);
    ``null`` for a field counts as not giving it.
    """
    if not isinstance(data, Mapping):
        message = f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        raise exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]})
    fields = action.form.base_fields
    values: dict = {}
    wrong: dict[str, list[str]] = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None or value is None:
            continue  # unknown keys are ignored, as by DRF serializers
        if getattr(field, "structured", False):
            values[name] = value
            continue
        text, error = serializers.form_text(field, value)  # the JSON type the schema documents, or 400
        if error:
            wrong[name] = [error]
        else:
            values[name] = text
    return values, wrong


def validated_input(action: ItemAction, data) -> dict:
    """The service keywords from a request body, validated by the action's form (as in the admin); 400 otherwise."""
    if action.form is None:
        return {}
    values, wrong = _form_data(action, data)
    form = action.bind(values)
    if not form.is_valid() or wrong:
        errors = {**form_errors(form), **wrong}
        if NON_FIELD_ERRORS in errors:
            errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
        raise exceptions.ValidationError(errors)
    return action.service_kwargs(form)


class ExceptionItemActionView(APIView):
    """``POST /api/v1/exceptions/<id>/<key>/``: one action of ``exceptions.actions`` on one visible item.

    The body is validated first (400), then the item must be visible (404) and the caller's role
    allowed to take the action (403); the service's refusal of the item's state is a 409.
    """

    required_scope = Scope.EXCEPTIONS_WRITE.value
    parser_classes = [JSONParser]  # bodies are JSON (docs/exceptions.md); a form body is a 415
    action_key = ""  # set per action; the generic route passes the key in the URL instead

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, scope and throttling first
        if item_action(kwargs.get("action") or self.action_key) is None:
            raise exceptions.NotFound("No such action.")

    def post(self, request, item_id, action=None):
        spec = item_action(action or self.action_key)
        data = validated_input(spec, request.data)
        with transaction.atomic():
            item = selectors.item_for_user(user=request.user, pk=item_id)
            if not spec.allowed(request.user, item):
                raise exceptions.PermissionDenied(f"Your role cannot {spec.key} this item.")
            call_service(perform, action=spec, item=item, actor=request.user, data=data)
        if Scope.READ.value not in request_scopes(request):
            return Response(status=status.HTTP_204_NO_CONTENT)  # done; the item is not theirs to read
        item = ExceptionItem.objects.select_related(*selectors.ITEM_RELATED).get(pk=item.pk)
        return Response(serializers.ExceptionItemSerializer(item).data)


@extend_schema_view(post=extend_schema(exclude=True))
class AnyItemActionView(ExceptionItemActionView):
    """``POST /api/v1/exceptions/<id>/<key>/`` for an action registered after the URLs were loaded."""


@functools.cache
def action_view(key: str) -> type[ExceptionItemActionView]:
    """The view class of one registered action, documented from its table entry (summary, body)."""
    action = item_action(key)
    request = serializers.action_request_serializer(action)

    def post(self, request, item_id):
        return ExceptionItemActionView.post(self, request, item_id)

    post = extend_schema(
        tags=[TAG],
        operation_id=f"exceptions_{key}",
        summary=action.summary,
        description=(
            f"{action.summary}. An item you cannot see answers 404; a visible item your role may not "
            f"{key} (a rep approving, say) answers 403."
            + (" Only for approval requests: another item answers 409." if action.approval_only else "")
            + "\n\nRequires the `exceptions:write` scope. The answer is the item as it is now; a token "
            "without the `read` scope gets 204 No Content instead."
        ),
        request=request,
        parameters=[ITEM_ID],
        responses={
            200: serializers.ExceptionItemSerializer,
            204: OpenApiResponse(description="Done; the token lacks the `read` scope, so the item is not returned."),
            409: CONFLICT,
        },
    )(post)
    name = "ExceptionItem" + "".join(part.title() for part in key.split("_"))
    return type(name, (ExceptionItemActionView,), {"action_key": key, "post": post, "__doc__": action.summary})


class NextItemView(APIView):
    """Claim the most urgent item waiting in your queues; 204 when none is waiting.

    The same order as the admin's Next item: overdue first (escalated items included), then by
    severity, then by due time; snoozed and claimed items are never handed out.

    Needs ``read`` as well as ``exceptions:write``: it hands out an item to work, in full.
    """

    required_scope = Scope.EXCEPTIONS_WRITE.value
    parser_classes = [JSONParser]

    def check_permissions(self, request):
        super().check_permissions(request)
        if Scope.READ.value not in request_scopes(request):
            raise exceptions.PermissionDenied(
                "Claiming the next item needs the 'read' scope as well as 'exceptions:write'."
            )

    @extend_schema(
        tags=[TAG],
        operation_id="exceptions_next",
        summary="Claim the next item in my queues",
        description="Requires the `exceptions:write` and `read` scopes. Serves the most urgent unclaimed item: "
        "overdue first (escalated items included), then by severity, then by due time.",
        request=serializers.NextSerializer,
        responses={
            200: serializers.ExceptionItemSerializer,
            204: OpenApiResponse(description="Nothing is waiting in your queues."),
            409: CONFLICT,
        },
    )
    def post(self, request):
        serializer = serializers.NextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queues = selectors.visible_queues(user=request.user)
        names = serializer.validated_data.get("queues")
        if names:
            queues = queues.filter(name__in=names)
        item = call_service(exception_next_item, actor=request.user, queues=queues)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        item = ExceptionItem.objects.select_related(*selectors.ITEM_RELATED).get(pk=item.pk)
        return Response(serializers.ExceptionItemSerializer(item).data)
