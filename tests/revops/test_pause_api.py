"""The kill switches over the API and in the admin: scopes and roles, reasons, idempotency, the held events."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from exceptions import roles
from revops.models import Automation, AutomationSwitch, HeldEvent
from routing.models import RoutingRule
from tests.factories import UserFactory

from .api_support import token_client
from .test_engine import make, process, rec, sync

pytestmark = pytest.mark.django_db


def role_user(username, role):
    roles.ensure_roles()
    user = UserFactory(username=username, first_name=username.capitalize(), is_staff=True)
    roles.assign_role(user, role)
    return user


def session(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_config_write_token_pauses_and_resumes_an_automation_idempotently():
    automation = make()
    client = token_client("config:write", "read")
    url = f"/api/v1/automations/{automation.pk}/pause/"
    response = client.post(url, {"reason": "Tasks go to the wrong reps"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["changed"] is True and body["automation"]["paused"] is True
    assert body["automation"]["mode"] == "live" and body["automation"]["pause_reason"] == "Tasks go to the wrong reps"
    assert body["automation"]["effective_pause"]["scope"] == "automation"
    again = client.post(url, {"reason": "again"}, format="json").json()
    assert again["changed"] is False and again["message"] == "'Hot lead follow-up' was already paused."

    sync("leads", rec("L1", score=90))
    process()
    state = client.get("/api/v1/automations/paused/").json()
    assert state["held_events"] == 1 and [a["name"] for a in state["paused"]] == ["Hot lead follow-up"]

    resume = f"/api/v1/automations/{automation.pk}/resume/"
    body = client.post(resume, {"reason": "fixed", "held": "skip"}, format="json").json()
    assert body["changed"] is True and body["held_decided"] == 1 and body["automation"]["paused"] is False
    assert HeldEvent.objects.get().decided_by == client.token.user
    assert client.post(resume, {"reason": "fixed", "held": "skip"}, format="json").json()["changed"] is False


def test_bad_bodies_get_sentences_and_change_nothing():
    automation = make()
    client = token_client("config:write")
    url = f"/api/v1/automations/{automation.pk}/pause/"
    response = client.post(url, {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    assert client.post(url, {"reason": "   "}, format="json").status_code == 400
    assert client.post(url, ["x"], format="json").status_code == 400
    assert client.post("/api/v1/automations/abc/pause/", {"reason": "x"}, format="json").status_code == 404
    assert client.post("/api/v1/automations/99999/pause/", {"reason": "x"}, format="json").status_code == 404
    automation_pause = client.post(url, {"reason": "ok"}, format="json")
    assert automation_pause.status_code == 200
    bad = client.post(f"/api/v1/automations/{automation.pk}/resume/", {"reason": "ok", "held": "later"}, format="json")
    assert bad.status_code == 400 and "held" in bad.json()
    assert Automation.objects.get(pk=automation.pk).paused_at is not None


def test_pause_all_and_resume_all_over_the_api():
    make()
    client = token_client("config:write")
    body = client.post("/api/v1/automations/pause-all/", {"reason": "Incident"}, format="json").json()
    assert body["changed"] is True and body["all_paused"]["reason"] == "Incident"
    assert body["all_paused"]["sentence"].startswith("All automations are paused by ")
    sync("leads", rec("L1", score=90))
    process()
    assert HeldEvent.objects.get().held_because == "all"
    body = client.post("/api/v1/automations/resume-all/", {"reason": "ok", "held": "skip"}, format="json").json()
    assert body["changed"] is True and body["held_decided"] == 1 and body["all_paused"] is None
    assert AutomationSwitch.objects.get().paused_at is None


@pytest.mark.parametrize(
    "scopes", [("read",), ("sync:write",), ("exceptions:write", "read"), ("read", "sync:write", "exceptions:write")]
)
def test_tokens_without_config_write_cannot_pause(scopes):
    automation = make()
    client = token_client(*scopes)
    for url in (
        f"/api/v1/automations/{automation.pk}/pause/",
        "/api/v1/automations/pause-all/",
        f"/api/v1/automations/{automation.pk}/resume/",
        "/api/v1/automations/resume-all/",
    ):
        response = client.post(url, {"reason": "x", "held": "skip"}, format="json")
        assert response.status_code == 403 and "config:write" in response.json()["detail"]
    assert Automation.objects.get(pk=automation.pk).paused_at is None
    assert not AutomationSwitch.objects.filter(paused_at__isnull=False).exists()


def test_a_manager_cannot_pause_revops_automations_nor_rules_but_a_revops_admin_can():
    automation = make()
    rule = RoutingRule.objects.create(name="EMEA enterprise", target_type="queue", target_queue="RevOps", status="live")
    manager = session(role_user("manny", roles.MANAGER))
    for url in (
        f"/api/v1/automations/{automation.pk}/pause/",
        "/api/v1/automations/pause-all/",
        f"/api/v1/routing-rules/{rule.pk}/pause/",
    ):
        assert manager.post(url, {"reason": "x"}, format="json").status_code == 403
    # …nor in the admin.
    browser = Client()
    browser.force_login(role_user("manny2", roles.MANAGER))
    for url in (
        reverse("admin:revops_automation_pause", args=[automation.pk]),
        reverse("admin:revops_automation_pause_all"),
        reverse("admin:routing_routingrule_pause", args=[rule.pk]),
    ):
        # 404 for the rule: it routes to a queue that is not theirs, so it is hidden from them.
        assert browser.post(url, {"reason": "x"}).status_code in (403, 404)
    assert Automation.objects.get(pk=automation.pk).paused_at is None

    admin = session(role_user("ops", roles.ADMIN))
    response = admin.post(f"/api/v1/routing-rules/{rule.pk}/pause/", {"reason": "Offsite"}, format="json")
    assert response.status_code == 200 and response.json()["rule"]["paused_by"] == "Ops"
    again = admin.post(f"/api/v1/routing-rules/{rule.pk}/pause/", {"reason": "Offsite"}, format="json").json()
    assert again["changed"] is False
    assert admin.post(f"/api/v1/routing-rules/{rule.pk}/resume/", {"reason": ""}, format="json").status_code == 400
    assert admin.post(f"/api/v1/routing-rules/{rule.pk}/resume/", {"reason": "Back"}, format="json").json()["changed"]


def test_the_schema_documents_the_kill_switches():
    client = token_client("read")
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/v1/automations/{automation_id}/pause/",
        "/api/v1/automations/{automation_id}/resume/",
        "/api/v1/automations/pause-all/",
        "/api/v1/automations/resume-all/",
        "/api/v1/automations/paused/",
        "/api/v1/routing-rules/{rule_id}/pause/",
        "/api/v1/routing-rules/{rule_id}/resume/",
    ):
        assert path in schema["paths"], path
    resume = schema["paths"]["/api/v1/automations/{automation_id}/resume/"]["post"]
    assert "config:write" in resume["description"]
