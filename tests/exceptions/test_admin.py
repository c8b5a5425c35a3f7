"""The exception item admin: a read-only list and detail until the exception queue brings triage."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exceptions.models import ExceptionItem
from tests.factories import LeadFactory, UserFactory
from tests.revops.automation_support import make_automation, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


def url(view, *args):
    return reverse(f"admin:exceptions_exceptionitem_{view}", args=args)


def make_item(index=0, **fields):
    values = {
        "kind": "approval_required",
        "title": f"Approve reassignment {index}",
        "reason": "Strategic account: reassigning it needs a manager's approval.",
        "expected_action": "Approve or reject the prepared reassignment.",
        "severity": "high",
        "dedupe_key": f"approval:{index}",
        "proposal": {"action": "assign_owner", "params": {"owner": "R-17"}},
        **fields,
    }
    return ExceptionItem.objects.create(**values)


def test_pages_render_and_detail_shows_reason_action_and_proposal(admin_client, admin_user):
    lead = LeadFactory()
    automation = make_automation(actor=admin_user)
    run = make_run(automation, lead, key="event:1")
    item = make_item(
        owner=UserFactory(username="manager"),
        automation=automation,
        run=run,
        object_type="lead",
        object_id=lead.pk,
        due_at=timezone.now() - dt.timedelta(hours=1),
    )
    assert admin_client.get(url("changelist")).status_code == 200
    assert admin_client.get(url("history", item.pk)).status_code == 200
    page = admin_client.get(url("change", item.pk)).content.decode()
    assert "Strategic account: reassigning it needs a manager&#x27;s approval." in page
    assert "Approve or reject the prepared reassignment." in page
    assert "R-17" in page and "overdue" in page
    assert reverse("admin:revops_lead_change", args=[lead.pk]) in page
    assert reverse("admin:revops_lead_why", args=[lead.pk]) in page
    assert reverse("admin:revops_automation_change", args=[automation.pk]) in page


def test_read_only(admin_client):
    item = make_item()
    assert admin_client.get(url("add")).status_code == 403
    response = admin_client.post(url("change", item.pk), {"title": "changed"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.title == "Approve reassignment 0"


def test_list_filters_search_and_no_n_plus_one(admin_client, admin_user):
    automation = make_automation(actor=admin_user)
    make_item(0, automation=automation, owner=UserFactory(username="m0"))
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url("changelist"))
    for index in range(1, 6):
        make_item(index, automation=automation, owner=UserFactory(username=f"m{index}"))
    make_item(9, status="resolved", kind="sla_breach", title="Old breach")
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url("changelist"))
    assert len(many) == len(few), "\n".join(q["sql"][:300] for q in many.captured_queries)
    assert "Approval required" in response.content.decode()
    open_only = admin_client.get(url("changelist") + "?state=open")
    assert "Old breach" not in open_only.content.decode()
    found = admin_client.get(url("changelist") + "?q=Old+breach")
    assert [i.title for i in found.context["cl"].result_list] == ["Old breach"]
    by_kind = admin_client.get(url("changelist") + "?kind__exact=sla_breach&state=all")
    assert [i.title for i in by_kind.context["cl"].result_list] == ["Old breach"]
