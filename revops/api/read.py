"""Read API: records (list + detail), the changes feed, and the OpenAPI schema and docs. Scope ``read``."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions, generics
from rest_framework.response import Response
from rest_framework.views import APIView

from revops import record_selectors
from revops.access import sees_everything
from revops.api.auth import HasScope
from revops.feed import change_entries_after
from revops.models import Scope

from . import serializers


class RecordViewMixin:
    """Reads go through ``record_selectors``, which applies the FilterSet; ``filterset_class`` and the
    filter backend are declared so the schema documents the filters."""

    object_type: str = ""
    required_scope = Scope.READ.value
    filter_backends = [DjangoFilterBackend]

    def filter_queryset(self, queryset):
        return queryset  # already filtered by the selector


class RecordListView(RecordViewMixin, generics.ListAPIView):
    def get_queryset(self):
        try:
            return record_selectors.record_list(
                object_type=self.object_type, user=self.request.user, filters=self.request.query_params
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None


class RecordDetailView(RecordViewMixin, generics.RetrieveAPIView):
    lookup_url_kwarg = "key"

    def get_queryset(self):
        return record_selectors._base_queryset(self.object_type, self.request.user)

    def get_object(self):
        key = self.kwargs[self.lookup_url_kwarg]
        try:
            return record_selectors.record_get(object_type=self.object_type, key=key, user=self.request.user)
        except record_selectors.RECORD_TYPES[self.object_type].model.DoesNotExist:
            spec = record_selectors.RECORD_TYPES[self.object_type]
            key_text = "portal id" if spec.lookup == "pk" else "external id"
            raise Http404(f"There is no {spec.model._meta.verbose_name} with {key_text} {key!r}.") from None


def _record_views(object_type: str, serializer_class, *, detail_serializer=None, tag: str):
    """A list and a detail view for one object type."""
    spec = record_selectors.RECORD_TYPES[object_type]
    noun = spec.model._meta.verbose_name
    key_text = "portal id" if spec.lookup == "pk" else "external id"
    attrs = {
        "object_type": object_type,
        "serializer_class": serializer_class,
        "filterset_class": spec.filterset,
        "lookup_field": spec.lookup,
    }
    list_view = extend_schema_view(
        get=extend_schema(
            tags=[tag],
            operation_id=f"{object_type}_list",
            summary=f"List {spec.model._meta.verbose_name_plural}",
            description="Filterable, cursor-paginated (ordered by the portal's id).",
        )
    )(type(f"{spec.model.__name__}List", (RecordListView,), attrs))
    detail_attrs = {**attrs, "serializer_class": detail_serializer or serializer_class}
    detail_view = extend_schema_view(
        get=extend_schema(tags=[tag], operation_id=f"{object_type}_retrieve", summary=f"One {noun} by {key_text}")
    )(type(f"{spec.model.__name__}Detail", (RecordDetailView,), detail_attrs))
    return list_view, detail_view


TeamList, TeamDetail = _record_views("teams", serializers.TeamSerializer, tag="records")
RepList, RepDetail = _record_views("reps", serializers.RepSerializer, tag="records")
AccountList, AccountDetail = _record_views("accounts", serializers.AccountSerializer, tag="records")
LeadList, _LeadDetail = _record_views(
    "leads", serializers.LeadSerializer, detail_serializer=serializers.LeadDetailSerializer, tag="records"
)
ContactList, ContactDetail = _record_views("contacts", serializers.ContactSerializer, tag="records")
OpportunityList, OpportunityDetail = _record_views("opportunities", serializers.OpportunitySerializer, tag="records")
ActivityList, ActivityDetail = _record_views("activities", serializers.ActivitySerializer, tag="records")
TaskList, TaskDetail = _record_views("tasks", serializers.TaskSerializer, tag="records")


class LeadDetail(_LeadDetail):
    """A lead with its owner and its latest routing decision (with the explanation)."""

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "_lead", None) is not None:
            context["latest_decision"] = record_selectors.lead_latest_decision(lead=self._lead)
        return context

    def get_object(self):
        self._lead = super().get_object()
        return self._lead


class ChangesView(APIView):
    """What the portal decided, in order, for the CRM to apply."""

    required_scope = Scope.READ.value

    @extend_schema(
        tags=["changes"],
        operation_id="changes_list",
        summary="Poll the changes feed",
        description=(
            "Entries after the cursor `after`, oldest first. Store `next_cursor` once you applied the page "
            "and poll again with `after=<next_cursor>`; when `has_more` is true, poll again at once. "
            "Ids are assigned in commit order, so a poll never skips an entry."
        ),
        parameters=[serializers.ChangesQuerySerializer],
        responses=serializers.ChangesPageSerializer,
    )
    def get(self, request):
        if not sees_everything(request.user):
            # The feed carries every record's changes; row scoping would leave gaps in its cursor.
            raise exceptions.PermissionDenied(
                "The changes feed is for integration tokens and RevOps admins; read records through their lists."
            )
        query = serializers.ChangesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        entries, has_more = change_entries_after(after=after, limit=limit)
        return Response(
            {
                "results": serializers.ChangeEntrySerializer(entries, many=True).data,
                "next_cursor": entries[-1].id if entries else after,
                "has_more": has_more,
            }
        )


# --- schema and docs ---------------------------------------------------------------------------


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema (YAML by default, ``?format=json`` for JSON); scope ``read``."""

    permission_classes = [HasScope]
    required_scope = Scope.READ.value


class _DocsAccess:
    """Docs pages: staff sessions and ``read`` tokens; a browser without a session goes to the login page."""

    permission_classes = [HasScope]
    required_scope = Scope.READ.value

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)

        def docs(request, *args, **kwargs):
            if not request.user.is_authenticated and "HTTP_AUTHORIZATION" not in request.META:
                return redirect_to_login(request.get_full_path())
            return view(request, *args, **kwargs)

        docs.cls, docs.initkwargs = view.cls, view.initkwargs  # so schema generators recognise it
        return docs


class SwaggerView(_DocsAccess, SpectacularSwaggerSplitView):
    """Swagger UI; its start-up script is a separate `?script` request, so no inline script (CSP)."""
