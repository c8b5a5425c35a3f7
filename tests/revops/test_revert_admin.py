"""Reverting from the admin: one run (plan, reason, force, result) and a window of an automation's runs
(form → plan → batch page), RevOps admins only; the revert shows on the run's page and the Why page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.roles import ADMIN, MANAGER, assign_role
from revops.engine.revert_batches import revert_batch_process
from revops.engine.types import Action
from revops.models import Lead, RunRevertBatch
from tests.factories import LeadFactory, UserFactory

from .revert_support import automation, run_actions

pytestmark = pytest.mark.django_db


def login(client, username, role):
    user = UserFactory(username=username, is_staff=True, first_name=username.split(".")[0].title())
    assign_role(user, role)
    client.force_login(user)
    return user


@pytest.fixture
def run():
    lead = LeadFactory(status="new", external_id="L-1")
    return run_actions(automation(), lead, [Action("update_field", {"key": "status", "value": "working"})])


def test_a_revops_admin_reverts_a_run_after_reading_the_plan(client, run):
    rita = login(client, "rita.revops", ADMIN)
    page = client.get(reverse("admin:revops_automationrun_change", args=[run.pk])).content.decode()
    revert_url = reverse("admin:revops_automationrun_revert", args=[run.pk])
    assert "Revert this run…" in page and revert_url in page

    plan = client.get(revert_url).content.decode()
    assert "1 of 1 action will be reverted." in plan
    assert "status: New" in plan and "status: Working" in plan and "Will be reverted" in plan
    assert "Force conflicting actions" in plan

    response = client.post(revert_url, {"reason": ""})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert Lead.objects.get(pk=run.object_id).status == "working"

    response = client.post(revert_url, {"reason": "The rule fired on test leads."}, follow=True)
    page = response.content.decode()
    assert "1 of 1 action reverted." in page
    assert "The rule fired on test leads." in page and "Rita" in page  # the run's Reverts section
    assert Lead.objects.get(pk=run.object_id).status == "new"

    why = client.get(reverse("admin:revops_lead_why", args=[run.object_id])).content.decode()
    assert "Reverted runs" in why and f"run #{run.pk}" in why and "The rule fired on test leads." in why
    assert rita.get_username() in why or "Rita" in why


def test_a_manager_sees_no_revert_button_and_cannot_revert(client, run):
    login(client, "mia.manager", MANAGER)
    page = client.get(reverse("admin:revops_automationrun_change", args=[run.pk]))
    assert page.status_code == 200 and "Revert this run" not in page.content.decode()
    url = reverse("admin:revops_automationrun_revert", args=[run.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x"}).status_code == 403
    auto_url = reverse("admin:revops_automation_revert_runs", args=[run.automation_id])
    assert client.get(auto_url).status_code == 403
    assert Lead.objects.get(pk=run.object_id).status == "working"


def test_an_unknown_run_is_a_404(client):
    login(client, "rita.revops", ADMIN)
    assert client.get(reverse("admin:revops_automationrun_revert", args=["999999"])).status_code == 404
    assert client.get("/admin/revops/automationrun/abc/revert/").status_code == 404


def test_revert_runs_between_two_times_form_plan_batch_page(client, run):
    login(client, "rita.revops", ADMIN)
    auto = run.automation
    page = client.get(reverse("admin:revops_automation_change", args=[auto.pk])).content.decode()
    url = reverse("admin:revops_automation_revert_runs", args=[auto.pk])
    assert "Revert runs between…" in page and url in page

    form = client.get(url).content.decode()
    assert 'type="datetime-local"' in form and "every version" in form
    local = timezone.localtime()
    window = {
        "plan": "1",
        "started_from": (local - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "until": (local + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "version": "",
        "narrow": "",
    }
    bad = client.get(url, {**window, "until": window["started_from"]}).content.decode()
    assert "“Until” must be after “from”." in bad
    plan = client.get(url, window).content.decode()
    assert "1 run</strong> in this window" in plan and "Update field" in plan and "Will be reverted: 1" in plan

    response = client.post(url, {**window, "reason": "Wrong hour."})
    batch = RunRevertBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "admin:revops_runrevertbatch_change", args=[batch.pk]
    )
    page = client.get(response.url).content.decode()
    assert "0 of 1 run done" in page and "Resume" in page and 'http-equiv="refresh"' in page
    revert_batch_process(batch_id=batch.pk)
    page = client.get(response.url).content.decode()
    assert "1 of 1 run done" in page and "Reverted: 1" in page and "Resume" not in page
    assert Lead.objects.get(pk=run.object_id).status == "new"
    why = client.get(reverse("admin:revops_lead_why", args=[run.object_id])).content.decode()
    assert f"revert batch #{batch.pk}" in why


def test_garbage_window_input_is_a_sentence_not_a_500(client, run):
    login(client, "rita.revops", ADMIN)
    url = reverse("admin:revops_automation_revert_runs", args=[run.automation_id])
    response = client.get(
        url, {"plan": "1", "started_from": "yesterday", "until": "\x00", "version": "abc", "narrow": "rule:1"}
    )
    assert response.status_code == 200 and "Enter a valid date/time." in response.content.decode()
    response = client.post(
        url, {"started_from": "2026-01-01T00:00", "until": "2026-01-02T00:00", "reason": "x", "narrow": "zzz"}
    )
    assert response.status_code == 200 and not RunRevertBatch.objects.exists()
