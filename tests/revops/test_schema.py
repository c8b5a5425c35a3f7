"""The OpenAPI schema and its offline docs; a Schemathesis run of the API against the schema."""

import re

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.validation import validate_schema
from hypothesis import HealthCheck, given, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import AccountFactory, ActivityFactory, LeadFactory, OpportunityFactory, TaskFactory, UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]

READ_PATHS = [
    "/api/v1/teams/",
    "/api/v1/reps/",
    "/api/v1/accounts/",
    "/api/v1/leads/",
    "/api/v1/opportunities/",
    "/api/v1/activities/",
    "/api/v1/tasks/",
    "/api/v1/changes/",
]


def test_schema_is_valid_openapi_3_with_every_endpoint():
    response = token_client("read").get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    for path in READ_PATHS:
        assert "get" in schema["paths"][path], path
    assert "/api/v1/leads/{key}/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/sync/{object_name}/"]
    bearer = schema["components"]["securitySchemes"]["tokenAuth"]
    assert bearer == {**bearer, "type": "http", "scheme": "bearer"}
    lead_filters = {p["name"] for p in schema["paths"]["/api/v1/leads/"]["get"]["parameters"]}
    assert {"owner", "status", "country", "updated_since", "cursor", "limit"} <= lead_filters
    assert "latest_decision" in schema["components"]["schemas"]["LeadDetail"]["properties"]


def test_schema_needs_read_scope():
    assert APIClient().get("/api/v1/schema/").status_code == 401
    assert token_client("sync:write").get("/api/v1/schema/").status_code == 403


def test_docs_render_for_staff_with_local_assets_only():
    client = APIClient()
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert sources, html
    assert all(s.startswith("/static/drf_spectacular_sidecar/") for s in sources), sources
    assert "cdn" not in html.lower()
    assert not re.search(r"""src=["']https?:""", html)
    assert "/api/v1/schema/" in html


def test_docs_for_a_read_token():
    assert token_client("read").get("/api/v1/docs/").status_code == 200
    assert token_client("sync:write").get("/api/v1/docs/").status_code == 403


def test_docs_send_a_browser_without_session_to_the_login_page():
    response = APIClient().get("/api/v1/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/api/v1/docs/")


# --- Schemathesis -------------------------------------------------------------------------------


@pytest.fixture
def api_token(db):
    AccountFactory.create_batch(2)
    LeadFactory(owner=None)
    OpportunityFactory()
    ActivityFactory()
    TaskFactory()
    return token_client("read", "sync:write", name="schemathesis").raw_token


@pytest.fixture
def api_schema(api_settings, api_token):  # noqa: F811
    # Like Django's test client: keep the test's database connection (and transaction) across
    # requests, and build a fresh handler because middleware reads settings when it is built.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi(
            "/api/v1/schema/?format=json", WSGIHandler(), headers={"Authorization": f"Bearer {api_token}"}
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# Filters like ``cursor`` accept any string in the schema but only valid values on the server, so a
# 400 for "schema-valid" input is allowed; authentication is tested in test_api_auth.py.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


# Schemathesis' own pytest integration (``from_fixture``) does not run under pytest 9, so the test
# draws cases per operation with Hypothesis directly.
def test_api_conforms_to_its_schema(api_schema, api_token):
    """Every operation (reads and sync) answers without 5xx and as the schema says (positive cases)."""
    headers = {"Authorization": f"Bearer {api_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {*READ_PATHS, "/api/v1/sync/{object_name}/"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
