"""``POST /api/v1/runs/<id>/revert/``: dry run, revert, scope and role checks, sentences for bad input."""

import pytest
from rest_framework.test import APIClient

from exceptions.roles import ADMIN, MANAGER, assign_role
from revops.engine.types import Action
from revops.models import Lead, RunRevert
from tests.factories import LeadFactory, UserFactory

from .api_support import api_settings, token_client  # noqa: F401
from .revert_support import automation, run_actions

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]


@pytest.fixture
def run():
    lead = LeadFactory(status="new")
    return run_actions(automation(), lead, [Action("update_field", {"key": "status", "value": "working"})])


def url(run_id):
    return f"/api/v1/runs/{run_id}/revert/"


def test_dry_run_returns_the_plan_and_changes_nothing(run):
    client = token_client("runs:revert")
    response = client.post(url(run.pk), {"dry_run": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True and body["revert_id"] is None and body["reverted"] == 1
    assert body["summary"] == "1 of 1 action will be reverted."
    (line,) = body["lines"]
    assert (line["action"], line["before"], line["after"], line["now"], line["outcome"], line["outcome_label"]) == (
        "update_field",
        "status: New",
        "status: Working",
        "Working",
        "revert",
        "Will be reverted",
    )
    assert Lead.objects.get(pk=run.object_id).status == "working" and not RunRevert.objects.exists()


def test_revert_needs_a_reason_then_reverts_once(run):
    client = token_client("runs:revert")
    response = client.post(url(run.pk), {"force": False}, format="json")
    assert response.status_code == 400 and "Say why" in response.json()["reason"][0]
    response = client.post(url(run.pk), {"reason": "Wrong rule."}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reverted"] == 1 and body["lines"][0]["outcome_label"] == "Reverted"
    revert = RunRevert.objects.get(pk=body["revert_id"])
    assert revert.actor == client.token.user and revert.reason == "Wrong rule."
    assert Lead.objects.get(pk=run.object_id).status == "new"
    again = client.post(url(run.pk), {"reason": "Wrong rule."}, format="json").json()
    assert (
        again["reverted"] == 0 and again["summary"] == "Nothing changed: every action of this run was already reverted."
    )


def test_a_token_without_the_scope_gets_403(run):
    response = token_client("read", "config:write").post(url(run.pk), {"reason": "x"}, format="json")
    assert response.status_code == 403 and "runs:revert" in response.json()["detail"]
    assert Lead.objects.get(pk=run.object_id).status == "working"


def test_a_manager_cannot_revert_and_an_admin_can(run):
    manager = UserFactory(username="mia.manager", is_staff=True)
    assign_role(manager, MANAGER)
    client = APIClient()
    client.force_login(manager)
    assert client.post(url(run.pk), {"reason": "x"}, format="json").status_code == 403
    admin = UserFactory(username="rita.revops", is_staff=True)
    assign_role(admin, ADMIN)
    client.force_login(admin)
    response = client.post(url(run.pk), {"reason": "x"}, format="json")
    assert response.status_code == 200 and response.json()["reverted"] == 1


@pytest.mark.parametrize("run_id", ["999999", "abc", "-1", "99999999999999999999999"])
def test_an_unknown_run_is_a_json_404(run_id):
    response = token_client("runs:revert").post(url(run_id), {"dry_run": True}, format="json")
    assert response.status_code == 404 and "no automation run" in response.json()["detail"]


def test_bad_bodies_get_sentences(run):
    client = token_client("runs:revert")
    response = client.post(url(run.pk), {"force": "maybe", "reason": "x"}, format="json")
    assert response.status_code == 400 and "force" in response.json()
    response = client.post(url(run.pk), "[1]", content_type="application/json")
    assert response.status_code == 400


def test_the_schema_documents_the_endpoint():
    schema = token_client("read").get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/runs/{run_id}/revert/"]["post"]
    assert operation["operationId"] == "runs_revert" and "runs:revert" in operation["description"]
