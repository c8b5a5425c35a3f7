"""``/api/v1/leads/<external id>/accept/`` and ``/reject/``: the owner's answer to a waiting MQL, and
``/api/v1/lifecycle/mqls/``: the MQLs waiting for the caller's answer. Answering needs
``exceptions:write`` (the scope for acting on work assigned to people), reading ``read``. A lead the
caller cannot see is a 404; one that is not waiting for an answer a 409."""

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

from lifecycle.models import LeadStage, StageTransition
from lifecycle.stage_selectors import may_answer, visible_leads, waiting_mqls
from lifecycle.stage_services import LifecycleStateError, lead_accept, lead_reject
from revops.api.auth import request_scopes
from revops.api.serializers import ErrorSerializer
from revops.models import Scope

from . import serializers

TAG = "lifecycle"
LEAD_KEY = OpenApiParameter(
    "key", {"type": "string", "maxLength": 64}, OpenApiParameter.PATH, description="The lead's CRM id (external id)."
)


class AnswerConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


@extend_schema_view(
    get=extend_schema(
        tags=[TAG],
        operation_id="lifecycle_mqls_list",
        summary="MQLs waiting for an answer",
        description="The MQLs waiting for you (a rep: your own; a manager: your teams'), the most urgent first.",
    )
)
class WaitingList(generics.ListAPIView):
    required_scope = Scope.READ.value
    serializer_class = serializers.LeadStageSerializer
    queryset = LeadStage.objects.none()

    def get_queryset(self):
        return waiting_mqls(user=self.request.user)


class AnswerView(APIView):
    """``POST /api/v1/leads/<key>/<answer>/``: 400 bad body, 404 not visible, 403 not yours, 409 not waiting."""

    required_scope = Scope.EXCEPTIONS_WRITE.value
    parser_classes = [JSONParser]
    answer = ""

    def post(self, request, key):
        body = (serializers.LeadRejectSerializer if self.answer == "reject" else serializers.LeadAcceptSerializer)(
            data=request.data
        )
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with transaction.atomic():
            lead = visible_leads(user=request.user).select_related("owner").filter(external_id=str(key)[:64]).first()
            if lead is None:
                raise Http404("No such lead.")
            if not may_answer(request.user, lead):
                raise exceptions.PermissionDenied("Only the lead's owner, their manager or RevOps answers an MQL.")
            try:
                if self.answer == "accept":
                    transition = lead_accept(lead=lead, actor=request.user, source=StageTransition.Source.API)
                else:
                    transition = lead_reject(lead=lead, actor=request.user, source=StageTransition.Source.API, **data)
            except LifecycleStateError as exc:
                raise AnswerConflict(" ".join(exc.messages)) from None
            except DjangoValidationError as exc:
                raise exceptions.ValidationError(as_serializer_error(exc)) from None
        if Scope.READ.value not in request_scopes(request):
            return Response(status=status.HTTP_204_NO_CONTENT)
        state = LeadStage.objects.select_related("lead__owner", "stage").get(lead=lead)
        return Response(
            {
                "transition": serializers.TransitionSerializer(transition).data,
                "stage": serializers.LeadStageSerializer(state).data,
            }
        )


def answer_view(answer: str):
    summary = {
        "accept": "Accept a waiting MQL (its owner, their manager or RevOps)",
        "reject": "Reject a waiting MQL with a reason code and a note; it is recycled",
    }[answer]

    def post(self, request, key):
        return AnswerView.post(self, request, key)

    post = extend_schema(
        tags=[TAG],
        operation_id=f"leads_{answer}",
        summary=summary,
        request=serializers.LeadRejectSerializer if answer == "reject" else serializers.LeadAcceptSerializer,
        parameters=[LEAD_KEY],
        responses={
            200: serializers.AnswerResultSerializer,
            204: OpenApiResponse(description="Done; the token lacks the `read` scope, so the result is not returned."),
            403: OpenApiResponse(ErrorSerializer, description="The lead is not yours to answer."),
            404: OpenApiResponse(ErrorSerializer, description="No such lead (or not one you may see)."),
            409: OpenApiResponse(ErrorSerializer, description="The lead is not waiting for an answer."),
        },
    )(post)
    return type(f"Lead{answer.title()}", (AnswerView,), {"answer": answer, "post": post}).as_view()
