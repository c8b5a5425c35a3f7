"""Cursor pagination for API lists (a module of its own: DRF imports it while loading its generics)."""

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination


class RecordCursorPagination(CursorPagination):
    """Stable pages ordered by the portal's id: ``?limit=`` (1–500, default 100), follow ``next``."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "limit"
    page_size_query_description = "Records per page (at most 500)."
    max_page_size = 500
    cursor_query_description = "Opaque cursor from a previous page's `next` or `previous` link."

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError(
                {"cursor": ["Invalid cursor: use the next/previous link as given."]}
            ) from None

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if not 1 <= size <= self.max_page_size:
                raise exceptions.ValidationError({"limit": [f"Must be a whole number from 1 to {self.max_page_size}."]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters
