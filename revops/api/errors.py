"""Django's error views (``handler400/403/404/500`` in ``revops/urls.py``), JSON under ``/api/``.

DRF answers errors raised inside its views itself (``revops.api.throttling.exception_handler``);
these cover what Django answers before or after a view: an unknown ``/api/`` URL, an exception DRF
does not handle (a 500), a request Django refuses (400, 403). The body has DRF's shape,
``{"detail": "…"}``. Everywhere else Django's default HTML pages stay. An exception that says the
database or Redis is unreachable is a 503 with ``Retry-After`` instead of a 500 (``.outage``).
"""

from __future__ import annotations

import sys

from django.http import JsonResponse
from django.views import defaults

from .outage import is_service_outage, outage_response

API_PREFIX = "/api/"


def is_api_request(request) -> bool:
    """Whether the request is for the REST API (its path, without any script prefix, starts with ``/api/``)."""
    return request.path_info.startswith(API_PREFIX)


def _json(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def bad_request(request, exception, template_name=defaults.ERROR_400_TEMPLATE_NAME):
    if is_api_request(request):
        return _json("Bad request.", 400)
    return defaults.bad_request(request, exception, template_name)


def permission_denied(request, exception, template_name=defaults.ERROR_403_TEMPLATE_NAME):
    if is_api_request(request):
        return _json("You do not have permission to perform this action.", 403)
    return defaults.permission_denied(request, exception, template_name)


def page_not_found(request, exception, template_name=defaults.ERROR_404_TEMPLATE_NAME):
    if is_api_request(request):
        return _json("Not found.", 404)
    return defaults.page_not_found(request, exception, template_name)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    # Django calls this while handling the exception, so it is still the current one.
    if is_service_outage(sys.exc_info()[1]):
        return outage_response(api=is_api_request(request))
    if is_api_request(request):
        return _json("A server error occurred.", 500)
    return defaults.server_error(request, template_name)
