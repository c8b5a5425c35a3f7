"""Exception API views: thin — validate input, find the item through the selectors, call a service.

Reads need the ``read`` scope, actions ``exceptions:write``. Which items a caller sees comes from
``exceptions.selectors`` (a token is a service account and sees every item; a signed-in user sees
what their role allows). An item the caller cannot see answers 404, exactly like one that does
not exist; a visible item the caller's role may not act on (a rep approving) answers 403.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from exceptions import roles, selectors
from exceptions.errors import ItemStateError
from exceptions.filtersets import MAX_BIGINT, ExceptionItemFilterSet
from exceptions.models import ExceptionItem
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


def _services():
    from exceptions import services  # imported late: the services import jobs and notifications

    return services


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


class ExceptionItemActionView(APIView):
    """``POST /api/v1/exceptions/<id>/<action>/``: one action on one visible item."""

    required_scope = Scope.EXCEPTIONS_WRITE.value
    action_name = ""
    input_serializer = None
    service_name = ""

    def post(self, request, item_id):
        data = {}
        if self.input_serializer is not None:
            serializer = self.input_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        with transaction.atomic():
            item = selectors.item_for_user(user=request.user, pk=item_id)
            if not roles.can_act(request.user, item, self.action_name):
                raise exceptions.PermissionDenied(f"Your role cannot {self.action_name} this item.")
            service = getattr(_services(), self.service_name)
            call_service(service, item=item, actor=request.user, **data)
        item = ExceptionItem.objects.select_related(*selectors.ITEM_RELATED).get(pk=item.pk)
        return Response(serializers.ExceptionItemSerializer(item).data)


def _action_view(action: str, service_name: str, summary: str, input_serializer=None):
    """A view class for one action: ``input_serializer``'s validated data become the service's keywords."""
    attrs = {"action_name": action, "service_name": service_name, "input_serializer": input_serializer}

    def post(self, request, item_id):
        return ExceptionItemActionView.post(self, request, item_id)

    attrs["post"] = extend_schema(
        tags=[TAG],
        operation_id=f"exceptions_{action}",
        summary=summary,
        description=(
            f"{summary}. An item you cannot see answers 404; a visible item your role may not "
            f"{action} (a rep approving, say) answers 403.\n\nRequires the `exceptions:write` scope."
        ),
        request=input_serializer,
        parameters=[ITEM_ID],
        responses={200: serializers.ExceptionItemSerializer, 409: CONFLICT},
    )(post)
    return type(f"ExceptionItem{action.title()}", (ExceptionItemActionView,), attrs)


ClaimView = _action_view("claim", "exception_item_claim", "Claim an item (become its owner)")
AssignView = _action_view(
    "assign",
    "exception_item_assign",
    "Assign an item to someone",
    serializers.AssignSerializer,
)
ResolveView = _action_view(
    "resolve", "exception_item_resolve", "Resolve an item with a reason code", serializers.ResolveSerializer
)
DismissView = _action_view(
    "dismiss", "exception_item_dismiss", "Dismiss an item (no action needed)", serializers.DismissSerializer
)
SnoozeView = _action_view(
    "snooze", "exception_item_snooze", "Snooze an item until a time", serializers.SnoozeSerializer
)
EscalateView = _action_view(
    "escalate", "exception_item_escalate", "Escalate an item one level", serializers.EscalateSerializer
)
ApproveView = _action_view(
    "approve", "exception_approval_approve", "Approve the proposed action", serializers.ApproveSerializer
)
RejectView = _action_view(
    "reject", "exception_approval_reject", "Reject the proposed action", serializers.RejectSerializer
)
OverrideView = _action_view(
    "override", "exception_approval_override", "Apply the action with other parameters", serializers.OverrideSerializer
)


class NextItemView(APIView):
    """Claim the next item waiting in your queues (oldest due first); 204 when none is waiting."""

    required_scope = Scope.EXCEPTIONS_WRITE.value

    @extend_schema(
        tags=[TAG],
        operation_id="exceptions_next",
        summary="Claim the next item in my queues",
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
        item = call_service(_services().exception_next_item, actor=request.user, queues=queues)
        if item is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        item = ExceptionItem.objects.select_related(*selectors.ITEM_RELATED).get(pk=item.pk)
        return Response(serializers.ExceptionItemSerializer(item).data)
