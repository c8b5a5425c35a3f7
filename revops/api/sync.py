"""``POST /api/v1/sync/<object>/``: bulk upsert of CRM records (scope ``sync:write``).

A plain ``APIView`` so authentication, scopes and throttling apply, but the body is read and
parsed once by the sync service instead of DRF's parsers and per-record serializers.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from revops.api.serializers import ErrorSerializer, SyncRequestSerializer, SyncResponseSerializer
from revops.idempotency import HEADER, idempotent_response
from revops.models import Scope
from revops.sync import SYNC_OBJECTS, SyncInputError, sync_batch_apply, sync_records_from_body

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no", ""}


def _json(status: int, payload) -> HttpResponse:
    return HttpResponse(
        json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )


class SyncView(APIView):
    """Upsert a batch of up to ``SYNC_MAX_RECORDS`` records keyed by ``external_id``.

    Body ``{"records": [...]}``; answers one result per record, in order. ``?atomic=true`` applies
    all records or none (422 when any is rejected). Honors the ``Idempotency-Key`` header.
    """

    required_scope = Scope.SYNC_WRITE.value
    parser_classes = [JSONParser]  # documents the content type; the body itself is parsed by the service

    @extend_schema(
        tags=["sync"],
        request=SyncRequestSerializer,
        parameters=[
            OpenApiParameter("object_name", str, OpenApiParameter.PATH, enum=list(SYNC_OBJECTS)),
            OpenApiParameter("atomic", bool, description="true: apply all records or none (422 if any is rejected)."),
            OpenApiParameter(
                HEADER,
                str,
                OpenApiParameter.HEADER,
                description="Retries with the same key replay the first response (Idempotent-Replayed: true).",
            ),
        ],
        responses={
            200: OpenApiResponse(SyncResponseSerializer, description="One result per record, in request order."),
            409: OpenApiResponse(ErrorSerializer, description="A request with this Idempotency-Key is in flight."),
            413: OpenApiResponse(OpenApiTypes.OBJECT, description="Too many records or too large a body."),
            415: OpenApiResponse(ErrorSerializer, description="Content-Type is not application/json."),
            422: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="atomic=true and a record was rejected (nothing written), "
                "or an Idempotency-Key reused with a different body.",
            ),
        },
    )
    def post(self, request, object_name: str):
        try:
            body = request.body
        except RequestDataTooBig:
            return _json(
                413,
                {
                    "detail": f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
                    "send smaller batches."
                },
            )
        token = request.auth if hasattr(request.auth, "scopes") else None
        return idempotent_response(
            request=request,
            user=request.user,
            token=token,
            key=request.headers.get(HEADER),
            body=body,
            handler=lambda: self._handle(request, object_name, body, token),
        )

    def _handle(self, request, object_name: str, body: bytes, token) -> HttpResponse:
        if object_name not in SYNC_OBJECTS:
            return _json(
                404,
                {
                    "detail": f"Unknown object {object_name!r} in /api/v1/sync/<object>/; "
                    f"valid objects: {', '.join(SYNC_OBJECTS)}."
                },
            )
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _json(
                415,
                {"detail": f"Content-Type must be application/json, not {content_type or 'missing'!r}."},
            )
        raw_atomic = request.query_params.get("atomic", "").strip().lower()
        if raw_atomic not in _TRUE | _FALSE:
            return _json(400, {"detail": f"Query parameter atomic={raw_atomic!r} must be true or false."})
        try:
            records = sync_records_from_body(body, max_records=settings.SYNC_MAX_RECORDS)
            outcome = sync_batch_apply(
                object_name=object_name,
                records=records,
                actor=request.user,
                token=token,
                atomic=raw_atomic in _TRUE,
                idempotency_key=request.headers.get(HEADER, "")[:255],
            )
        except SyncInputError as exc:
            return _json(exc.status, {"detail": exc.detail})
        return _json(200 if outcome.applied else 422, outcome.as_response())
