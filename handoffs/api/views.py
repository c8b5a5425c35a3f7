"""``/api/v1/handoffs/``: the handoffs the caller may see, and the answers to one (accept, reject, send
again, confirm an attestation). Reading needs ``read``; answering ``exceptions:write`` (the scope for
acting on the work queue). A handoff the caller cannot see is a 404."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from handoffs.attestations import handoff_attest
from handoffs.models import Handoff
from handoffs.selectors import may_answer, visible_handoffs
from handoffs.services import HandoffStateError, handoff_accept, handoff_reject, handoff_resend
from revops.api.auth import request_scopes
from revops.api.serializers import ErrorSerializer
from revops.models import Scope

from . import serializers

TAG = "handoffs"
MAX_ID = 2**63 - 1
HANDOFF_ID = OpenApiParameter(
    "handoff_id",
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    OpenApiParameter.PATH,
    description="The handoff's id.",
)
STATUS = OpenApiParameter(
    "status", {"type": "string", "enum": list(Handoff.Status.values)}, description="Only handoffs in this state."
)


class HandoffConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def handoff_for(user, handoff_id) -> Handoff:
    try:
        pk = int(handoff_id)
    except (TypeError, ValueError):
        raise Http404("No such handoff.") from None
    if not 1 <= pk <= MAX_ID:
        raise Http404("No such handoff.")
    handoff = visible_handoffs(user=user).filter(pk=pk).first()
    if handoff is None:
        raise Http404("No such handoff.")
    return handoff


@extend_schema_view(
    get=extend_schema(
        tags=[TAG],
        operation_id="handoffs_list",
        summary="List handoffs",
        description="Cursor-paginated (ordered by id). Only the handoffs you may see.",
        parameters=[STATUS],
    )
)
class HandoffList(generics.ListAPIView):
    required_scope = Scope.READ.value
    serializer_class = serializers.HandoffSerializer
    queryset = Handoff.objects.none()

    def get_queryset(self):
        queryset = visible_handoffs(user=self.request.user)
        wanted = self.request.query_params.get("status")
        if wanted is not None:
            if wanted not in Handoff.Status.values:
                raise exceptions.ValidationError({"status": [f"Use one of {', '.join(Handoff.Status.values)}."]})
            queryset = queryset.filter(status=wanted)
        return queryset


@extend_schema_view(
    get=extend_schema(tags=[TAG], operation_id="handoffs_retrieve", summary="One handoff", parameters=[HANDOFF_ID])
)
class HandoffDetail(generics.RetrieveAPIView):
    required_scope = Scope.READ.value
    serializer_class = serializers.HandoffSerializer
    queryset = Handoff.objects.none()

    def get_object(self):
        return handoff_for(self.request.user, self.kwargs["handoff_id"])


ANSWERS = {
    "accept": (serializers.HandoffAnswerSerializer, "Accept a sent handoff (the receiving side)."),
    "reject": (serializers.HandoffRejectSerializer, "Send a sent handoff back to the deal side, with a reason."),
    "resend": (serializers.HandoffAnswerSerializer, "Send a rejected handoff again (the deal side)."),
    "attest": (serializers.HandoffAttestSerializer, "Confirm one of the checklist's attestations."),
}


class HandoffAnswerView(APIView):
    """``POST /api/v1/handoffs/<id>/<answer>/``: 400 bad body, 404 not visible, 403 not your side, 409 wrong state."""

    required_scope = Scope.EXCEPTIONS_WRITE.value
    parser_classes = [JSONParser]
    answer = ""

    def post(self, request, handoff_id):
        body_serializer = ANSWERS[self.answer][0](data=request.data)
        body_serializer.is_valid(raise_exception=True)
        data = body_serializer.validated_data
        with transaction.atomic():
            handoff = handoff_for(request.user, handoff_id)
            if not may_answer(request.user, handoff, self.answer):
                raise exceptions.PermissionDenied("This answer belongs to the other side of the handoff.")
            try:
                if self.answer == "accept":
                    handoff = handoff_accept(handoff=handoff, actor=request.user)
                elif self.answer == "reject":
                    handoff = handoff_reject(handoff=handoff, actor=request.user, **data)
                elif self.answer == "resend":
                    handoff = handoff_resend(handoff=handoff, actor=request.user)
                else:
                    handoff = handoff_attest(handoff=handoff, key=data["key"], actor=request.user)
            except HandoffStateError as exc:
                raise HandoffConflict(" ".join(exc.messages)) from None
            except DjangoValidationError as exc:
                raise exceptions.ValidationError(as_serializer_error(exc)) from None
        if Scope.READ.value not in request_scopes(request):
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(serializers.HandoffSerializer(handoff).data)


def answer_view(answer: str):
    body, summary = ANSWERS[answer]

    def post(self, request, handoff_id):
        return HandoffAnswerView.post(self, request, handoff_id)

    post = extend_schema(
        tags=[TAG],
        operation_id=f"handoffs_{answer}",
        summary=summary,
        request=body,
        parameters=[HANDOFF_ID],
        responses={
            200: serializers.HandoffSerializer,
            204: OpenApiResponse(description="Done; the token lacks the `read` scope, so the handoff is not returned."),
            409: OpenApiResponse(ErrorSerializer, description="The handoff's state does not allow this."),
        },
    )(post)
    return type(f"Handoff{answer.title()}", (HandoffAnswerView,), {"answer": answer, "post": post}).as_view()
