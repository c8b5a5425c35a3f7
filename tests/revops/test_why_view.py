"""The why view: every run on a record, newest first, explained, in a constant number of queries."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exceptions.models import ExceptionItem
from routing.models import SlaClock
from tests.factories import AccountFactory, LeadFactory, OpportunityFactory, RepFactory
from tests.revops.automation_support import explanation_for, make_automation, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


def why(record):
    return reverse(f"admin:revops_{record._meta.model_name}_why", args=[record.pk])


def runs_panel(response) -> dict:
    """The engine's runs panel of a Why page (what the page shows below the other panels)."""
    return next(panel["context"] for panel in response.context["panels"] if panel["name"] == "runs")


def test_lists_runs_newest_first_with_explanation_actions_and_next(admin_client, admin_user):
    lead = LeadFactory(country="US", score=80)
    follow_up = make_automation(actor=admin_user)
    routing = make_automation(actor=admin_user, name="Route NA leads")
    now = timezone.now()
    make_run(
        follow_up,
        lead,
        key="event:1",
        when=now - dt.timedelta(hours=2),
        outcome="not_fired",
        explanation=explanation_for(country="DE"),
        summary="Not a North American lead.",
        expected_next="",
    )
    make_run(
        routing,
        lead,
        key="event:2",
        when=now - dt.timedelta(minutes=5),
        actions=[("assign_owner", "applied", {"owner_id": None, "owner": None}, {"owner_id": 7, "owner": "R-17"})],
        summary="Assigned to R-17 by the NA pool.",
        expected_next="R-17 (Jane Doe) responds within 1 hour.",
    )
    make_run(
        follow_up,
        lead,
        key="event:3",
        mode="shadow",
        when=now - dt.timedelta(minutes=1),
        actions=[("update_field", "shadow", {"key": "status", "value": "new"}, {"key": "status", "value": "working"})],
    )
    make_run(follow_up, LeadFactory(), key="event:4")  # another record: not shown

    response = admin_client.get(why(lead))
    assert response.status_code == 200
    page = response.content.decode()
    runs = runs_panel(response)["runs"]
    assert [c["run"].trigger_key for c in runs] == ["event:3", "event:2", "event:1"]
    # shadow clearly marked
    assert "Shadow — would have" in page and "would have — not applied" in page
    # explanation lines with actual values, ✓ and ✗
    assert "Country is one of US, CA" in page and "(actual: DE)" in page and "(actual: US)" in page
    assert "✗" in page and "✓" in page
    # actions with before → after
    assert "Assign owner" in page and "R-17" in page
    assert "Status: New" in page and "<strong>Working</strong>" in page
    # expected next, automation link, version, run link
    assert "R-17 (Jane Doe) responds within 1 hour." in page
    assert reverse("admin:revops_automation_change", args=[routing.pk]) in page
    assert reverse("admin:revops_automationrun_change", args=[runs[0]["run"].pk]) in page
    assert "v1" in page


def test_constant_query_count(admin_client, admin_user):
    lead = LeadFactory()
    automation = make_automation(actor=admin_user)
    action = [("update_field", "applied", {"key": "status", "value": "new"}, {"key": "status", "value": "working"})]
    make_run(automation, lead, key="event:0", actions=action)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(why(lead))
    for index in range(1, 12):
        other = make_automation(actor=admin_user, name=f"rule {index}") if index % 3 == 0 else automation
        make_run(other, lead, key=f"event:{index}", actions=action * 2)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(why(lead))
    assert len(runs_panel(response)["runs"]) == 12
    assert len(many) == len(one)


def test_shows_open_exceptions_and_running_sla_clock(admin_client, admin_user):
    lead = LeadFactory()
    automation = make_automation(actor=admin_user)
    run = make_run(automation, lead, key="event:1")
    ExceptionItem.objects.create(
        kind="no_routing_match",
        title="No routing rule matched lead",
        reason="No rule covers country DE.",
        expected_action="Assign an owner by hand.",
        object_type="lead",
        object_id=lead.pk,
        dedupe_key=f"nomatch:{lead.pk}",
        automation=automation,
        run=run,
    )
    ExceptionItem.objects.create(
        kind="missing_data",
        title="Resolved long ago",
        reason="x",
        expected_action="y",
        object_type="lead",
        object_id=lead.pk,
        dedupe_key="old",
        status="resolved",
    )
    now = timezone.now()
    SlaClock.objects.create(
        lead=lead,
        owner=RepFactory(name="Jane Doe"),
        policy="Inbound 1h",
        target_minutes=60,
        started_at=now,
        due_at=now + dt.timedelta(hours=1),
    )
    page = admin_client.get(why(lead)).content.decode()
    assert "No routing rule matched lead" in page and "Assign an owner by hand." in page
    assert "Resolved long ago" not in page
    assert "Response SLA running" in page and "Inbound 1h" in page and "Jane Doe" in page


@pytest.mark.parametrize("factory", [AccountFactory, OpportunityFactory, RepFactory])
def test_other_records_have_a_why_page(admin_client, factory):
    record = factory()
    response = admin_client.get(why(record))
    assert response.status_code == 200
    assert "No automation has run on this" in response.content.decode()


def test_change_page_links_to_the_why_view_with_count(admin_client, admin_user):
    lead = LeadFactory()
    automation = make_automation(actor=admin_user)
    make_run(automation, lead, key="event:1")
    make_run(automation, lead, key="event:2")
    page = admin_client.get(reverse("admin:revops_lead_change", args=[lead.pk])).content.decode()
    assert why(lead) in page and "Why? Automation runs (2)" in page
    listing = admin_client.get(reverse("admin:revops_lead_changelist")).content.decode()
    assert why(lead) in listing


def test_staff_only(client, admin_user):
    lead = LeadFactory()
    response = client.get(why(lead))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.get(reverse("admin:revops_lead_why", args=[999999])).status_code == 302


def test_unknown_record_is_404(admin_client):
    assert admin_client.get(reverse("admin:revops_lead_why", args=[999999])).status_code == 404
