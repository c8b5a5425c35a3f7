"""The OpenAPI schema and its offline docs; a Schemathesis run of the API against the schema."""

import re

import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests.factories import AccountFactory, UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401
from tests.revops.schemathesis_support import api_world, run_schemathesis

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
    # The start-up script is served by the docs view itself (?script=), not inline (the CSP forbids that).
    assets = [s for s in sources if s != "/api/v1/docs/?script="]
    assert len(assets) == len(sources) - 1, sources
    assert all(s.startswith("/static/drf_spectacular_sidecar/") for s in assets), sources
    assert "cdn" not in html.lower()
    assert not re.search(r"""src=["']https?:""", html)
    assert "/api/v1/schema/" in client.get("/api/v1/docs/?script=").content.decode()


def test_docs_for_a_read_token():
    assert token_client("read").get("/api/v1/docs/").status_code == 200
    assert token_client("sync:write").get("/api/v1/docs/").status_code == 403


def test_docs_send_a_browser_without_session_to_the_login_page():
    response = APIClient().get("/api/v1/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/api/v1/docs/")


# --- Schemathesis -------------------------------------------------------------------------------

ALL_SCOPES = ("read", "sync:write", "exceptions:write", "config:write")


@pytest.mark.django_db(transaction=True)
def test_api_conforms_to_its_schema(api_settings, redis_conn):  # noqa: F811
    """Every operation, every Schemathesis phase (examples, coverage, fuzzing with valid and invalid data,
    stateful over the links it infers), as a token with every scope: no 5xx, and every answer (status,
    content type, body, headers) as the schema says; invalid input gets a 4xx. See schemathesis_support."""
    api_settings.API_THROTTLE_RATE = "1000000/min"  # the run is thousands of requests by one token
    api_world()
    token = token_client(*ALL_SCOPES, name="schemathesis").raw_token
    report = run_schemathesis(token, max_examples=30, stateful_steps=15)
    print(f"\n{report.summary()}")
    assert report.operations >= {f"GET {path}" for path in READ_PATHS} | {
        "POST /api/v1/sync/{object_name}/",
        "GET /api/v1/exceptions/",
        "POST /api/v1/exceptions/next/",
        "POST /api/v1/exceptions/{item_id}/resolve/",
        "POST /api/v1/config/apply/",
    }
    assert report.phases == {
        "probing": "success",
        "schema_analysis": "success",
        "auth_bootstrap": "success",
        "examples": "success",
        "coverage": "success",
        "fuzzing": "success",
        "stateful": "success",
    }, report.problems()
    assert report.problems() == "", report.problems()
    assert (report.server_errors, report.violations) == (0, 0)


# --- regression tests for what Schemathesis found ---------------------------------------------------


def served_schema():
    return token_client("read").get("/api/v1/schema/", {"format": "json"}).json()


def test_nullable_exception_item_fields_are_declared_nullable():
    item = served_schema()["components"]["schemas"]["ExceptionItem"]["properties"]
    for name in ("owner", "queue", "automation", "automation_name", "run", "resolved_by", "resolved_at", "due_at"):
        assert item[name].get("nullable") is True, name


def test_empty_typed_filters_are_declared_and_mean_no_filter():
    """``?updated_since=`` is no filter: declared ``allowEmptyValue`` and answered 200 for every such filter."""
    AccountFactory()
    schema = served_schema()
    client = token_client(*ALL_SCOPES)
    declared = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        for parameter in get.get("parameters", []):
            if parameter.get("allowEmptyValue"):
                declared.append((path, parameter["name"]))
                response = client.get(path, {parameter["name"]: ""})
                assert response.status_code == 200, (path, parameter["name"], response.content)
    assert ("/api/v1/leads/", "updated_since") in declared
    assert ("/api/v1/config/", "format") in declared
    assert ("/api/v1/leads/", "owner") not in declared  # a text filter: "" is a string already
    assert ("/api/v1/leads/", "status") not in declared  # a multiple-choice filter: "" is refused with a 400
    assert ("/api/v1/exceptions/", "age") in declared  # a single-choice filter: "" means any


def test_every_body_taking_operation_documents_415():
    for path, operations in served_schema()["paths"].items():
        for method, operation in operations.items():
            if method in ("post", "put", "patch"):
                assert "415" in operation["responses"], (method, path)
