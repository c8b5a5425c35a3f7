"""Configuration as code over the API: scopes, export, plan and apply; bad input gets a 4xx."""

import json

import pytest
import yaml
from rest_framework.test import APIClient

from revops.configuration import config_export_text
from revops.models import Automation, FieldDefinition
from tests.factories import UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401
from tests.revops.schemathesis_support import run_schemathesis
from tests.revops.test_config_as_code import KIND, registered_test_kind  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]

URLS = ["/api/v1/config/", "/api/v1/config/plan/", "/api/v1/config/apply/"]
NEW_FIELD = {
    "object_type": "lead",
    "key": "partner_tier",
    "label": "Partner tier",
    "field_type": "choice",
    "definition": "The referring partner's tier.",
    "allowed_values": ["gold", "silver"],
    "owning_team": "Partnerships",
}


def call(client, url, body=None, content_type="application/yaml"):
    if url == URLS[0]:
        return client.get(url)
    return client.post(url, data=body if body is not None else "version: 1\n", content_type=content_type)


@pytest.fixture
def writer():
    return token_client("config:write", name="revops-admin")


@pytest.mark.parametrize("url", URLS)
def test_config_needs_the_config_write_scope(url):
    assert call(APIClient(), url).status_code == 401
    assert call(token_client("read"), url).status_code == 403
    denied = call(token_client("sync:write", "read"), url)  # an integration token cannot change rules
    assert denied.status_code == 403
    assert denied.json() == {"detail": "This request needs the 'config:write' scope."}
    assert call(token_client("exceptions:write", "read"), url).status_code == 403
    assert call(token_client("config:write"), url).status_code == 200


def test_errors_render_as_yaml_when_yaml_is_asked_for():
    response = token_client("read").get(URLS[0], HTTP_ACCEPT="application/yaml")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(response.content) == {"detail": "This request needs the 'config:write' scope."}


def test_integration_token_cannot_apply_anything():
    body = json.dumps({"version": 1, "dictionary": [NEW_FIELD]})
    response = token_client("sync:write", "read").post(URLS[2], data=body, content_type="application/json")
    assert response.status_code == 403
    assert not FieldDefinition.objects.filter(key="partner_tier").exists()


def test_export_is_yaml_by_default_and_json_on_request(writer):
    response = writer.get(URLS[0])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response.content.decode() == config_export_text()

    as_json = writer.get(URLS[0], HTTP_ACCEPT="application/json")
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json() == yaml.safe_load(response.content)
    assert writer.get(URLS[0], {"format": "json"}).json()["version"] == 1
    assert writer.get(URLS[0], HTTP_ACCEPT="application/yaml")["Content-Type"].startswith("application/yaml")


def test_superuser_session_may_export():
    client = APIClient()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.get(URLS[0]).status_code == 200
    staff = APIClient()
    staff.force_login(UserFactory(username="staff", is_staff=True))
    assert staff.get(URLS[0]).status_code == 403


def test_plan_then_apply_over_the_api(writer):
    document = yaml.safe_load(config_export_text())
    document["dictionary"].append(NEW_FIELD)
    document["automations"].append(
        {
            "name": "Gold partner follow-up",
            "purpose": "Call gold partner leads.",
            "kind": KIND,
            "object_type": "lead",
            "conditions": {"field": "lead.partner_tier", "op": "eq", "value": "gold"},
            "config": {"title": "Call"},
        }
    )
    body = yaml.safe_dump(document)

    plan = writer.post(URLS[1], data=body, content_type="application/yaml")
    assert plan.status_code == 200, plan.json()
    data = plan.json()
    assert (data["valid"], data["applied"], data["counts"]) == (
        True,
        False,
        {"create": 2, "update": 0, "delete": 0, "retire": 0},
    )
    assert [(c["action"], c["key"]) for c in data["changes"]] == [
        ("create", "lead.partner_tier"),
        ("create", "'Gold partner follow-up'"),
    ]
    assert not FieldDefinition.objects.filter(key="partner_tier").exists()

    applied = writer.post(URLS[2], data=json.dumps(document), content_type="application/json")
    assert applied.status_code == 200, applied.json()
    assert applied.json()["applied"] is True
    automation = Automation.objects.get(name="Gold partner follow-up")
    row = automation.history.get()
    assert row.history_user == writer.token.user
    assert row.history_change_reason == "config apply api by integration:revops-admin"

    again = writer.post(URLS[1], data=body, content_type="application/yaml").json()
    assert again["changes"] == [] and again["summary"] == "No changes: the configuration matches the file."


def test_apply_errors_are_400_with_located_messages_and_write_nothing(writer):
    document = {
        "version": 1,
        "dictionary": [NEW_FIELD],
        "automations": [
            {
                "name": "Bad owner",
                "purpose": "x",
                "kind": KIND,
                "object_type": "lead",
                "config": {"title": "x"},
                "rule_owner": "ghost",
            }
        ],
    }
    response = writer.post(URLS[2], data=json.dumps(document), content_type="application/json")
    assert response.status_code == 400
    data = response.json()
    assert data["applied"] is False and data["valid"] is False
    assert data["errors"] == [
        {
            "location": "automations[0] 'Bad owner'",
            "field": "rule_owner",
            "message": "no user with username 'ghost'",
            "text": "automations[0] 'Bad owner': rule_owner: no user with username 'ghost'",
        }
    ]
    assert not FieldDefinition.objects.filter(key="partner_tier").exists()


@pytest.mark.parametrize(
    "body, content_type, status, fragment",
    [
        ("version: 1\n", "text/csv", 415, "Content-Type must be application/yaml or application/json"),
        ("version: [1\n", "application/yaml", 400, "invalid YAML"),
        ("{not json", "application/json", 400, "invalid JSON"),
        ("\xff\xfe", "application/yaml", 400, "not UTF-8"),
        ("[]", "application/json", 400, "the document must be a map"),
        ('"version"', "application/yaml", 400, "the document must be a map"),
    ],
)
def test_bad_bodies_get_a_clear_4xx(writer, body, content_type, status, fragment):
    data = body.encode("latin-1") if "\xff" in body else body
    response = writer.post(URLS[1], data=data, content_type=content_type)
    assert response.status_code == status
    assert fragment in json.dumps(response.json())


# --- Schemathesis over the config endpoints with a config:write token -------------------------------


@pytest.mark.django_db(transaction=True)
def test_config_endpoints_conform_to_the_schema(api_settings, redis_conn):  # noqa: F811
    """Random documents (YAML strings, JSON objects), valid and invalid, through every phase: a 2xx or a
    documented 4xx, never a 5xx, and answers as the schema says (see schemathesis_support)."""
    api_settings.API_THROTTLE_RATE = "1000000/min"
    token = token_client("config:write", "read", name="schemathesis-config").raw_token
    report = run_schemathesis(token, path_regex="^/api/v1/config/", max_examples=30, stateful_steps=10)
    print(f"\n{report.summary()}")
    assert report.operations == {
        "GET /api/v1/config/",
        "POST /api/v1/config/plan/",
        "POST /api/v1/config/apply/",
        "GET /api/v1/config/releases/",
        "POST /api/v1/config/releases/{number}/rollback/",
    }
    assert report.problems() == "", report.problems()


def test_unknown_export_format_is_a_documented_404(writer):
    response = writer.get(URLS[0], {"format": "xml"})
    assert response.status_code == 404
    assert "detail" in response.json()
    schema = token_client("read").get("/api/v1/schema/", {"format": "json"}).json()
    export = schema["paths"]["/api/v1/config/"]["get"]
    assert "404" in export["responses"]
    # the YAML answer is the same document as the JSON one: a map, not a string
    assert export["responses"]["200"]["content"]["application/yaml"]["schema"]["type"] == "object"
    assert writer.get(URLS[0], {"format": ""}).status_code == 200  # empty: the default, as declared
