"""What people read says it in their words: names not ids, labels not codes, local times, internal keys
behind a "Details" toggle (run actions, approvals, history pages, the Why page's earlier runs)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from revops.audit import audited
from revops.conditions.render import value_text
from revops.engine.admin.explain import action_changes
from revops.services import record_save
from tests.factories import AccountFactory, LeadFactory, RepFactory
from tests.revops.automation_support import make_automation, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


def shown(rows):
    return {row["label"]: (row["before"], row["after"], row["detail"]) for row in rows}


def test_owner_changes_name_the_reps_and_keep_ids_as_details():
    RepFactory(external_id="REP-1", name="Patrick Page")
    RepFactory(external_id="REP-2", name="Adelgunde Tröst")
    rows = shown(action_changes({"owner_id": 1, "owner": "REP-1"}, {"owner_id": 2, "owner": "REP-2"}, "lead"))
    assert rows == {"Owner": ("Patrick Page", "Adelgunde Tröst", False)}


def test_an_sla_clock_reads_in_words_with_its_bookkeeping_behind_details():
    due = "2026-12-06T05:05:53.132406+00:00"
    after = {
        "cancelled_clocks": 0,
        "policy": "Hot inbound: 5 minutes",
        "target_minutes": 5,
        "due_at": due,
        "clock_id": 175,
    }
    rows = action_changes({}, after, "lead")
    visible = [row for row in rows if not row["detail"]]
    assert [(r["label"], r["after"]) for r in visible] == [
        ("SLA policy", "Hot inbound: 5 minutes"),
        ("Target", "5 minutes"),
        ("Due", "6 Dec 2026, 05:05 UTC"),
    ]
    assert {row["label"] for row in rows if row["detail"]} == {"cancelled_clocks", "clock_id"}
    assert rows[-1]["detail"]  # the details come last, for the template's toggle


def test_a_reference_update_names_the_account_and_a_choice_its_label():
    AccountFactory(external_id="ACC-1", name="Vertexbrook Power")
    rows = shown(
        action_changes({"key": "matched_account", "value": None}, {"key": "matched_account", "value": "ACC-1"}, "lead")
    )
    assert rows == {"Matched account": ("empty", "Vertexbrook Power", False)}
    rows = shown(action_changes({"key": "status", "value": "new"}, {"key": "status", "value": "working"}, "lead"))
    assert rows == {"Status": ("New", "Working", False)}


def test_an_action_sent_for_approval_shows_what_changes_once_approved():
    proposal = {
        "action": "update_field",
        "before": {"key": "forecast_category", "value": "commit"},
        "after": {"key": "forecast_category", "value": "best_case"},
        "run": 9,
        "automation": 4,
    }
    rows = action_changes(
        {"key": "forecast_category", "value": "commit"},
        {"proposal": proposal, "item_id": 57, "note": "refreshed its open approval #57"},
        "opportunity",
    )
    visible = [(r["label"], r["before"], r["after"]) for r in rows if not r["detail"]]
    assert visible[0] == ("Forecast category", "Commit", "Best case (once approved)")
    assert ("Note", "—", "refreshed its open approval #57") in visible
    assert "proposal" not in {r["label"] for r in rows}
    assert [r["label"] for r in rows if r["detail"]] == ["item_id"]


def test_stored_times_read_as_local_times_in_the_viewers_zone():
    assert value_text("2026-10-25T21:30:03.285224Z") == "25 Oct 2026, 21:30 UTC"
    with timezone.override("America/New_York"):
        assert value_text("2026-10-25T21:30:03.285224Z") == "25 Oct 2026, 17:30 EDT"
    assert value_text("a plain sentence, not a time") == "a plain sentence, not a time"


def test_the_page_uses_the_zone_the_browser_reports(admin_client):
    lead = LeadFactory()
    url = reverse("admin:revops_lead_history", args=[lead.pk])
    page = admin_client.get(url).content.decode()
    assert "UTC" in page and "revops/timezone.js" in page
    admin_client.cookies["portal_tz"] = "America/New_York"
    page = admin_client.get(url).content.decode()
    assert "EST" in page and " UTC<" not in page
    admin_client.cookies["portal_tz"] = "Not/AZone"  # ignored: the portal's zone
    assert admin_client.get(url).status_code == 200


def test_history_shows_empty_not_a_deleted_record_and_attributes_one_by_one(admin_client):
    user = get_user_model().objects.get(username="admin")
    rep = RepFactory(name="Crystal Keller")
    lead = LeadFactory(owner=None, attributes={})
    with audited(actor=user, reason="test"):
        lead.owner = rep
        lead.attributes = {"utm_campaign": "2026-q1-revops-report"}
        record_save(instance=lead, actor=user, reason="test")
    page = admin_client.get(reverse("admin:revops_lead_history", args=[lead.pk])).content.decode()
    assert "Deleted rep" not in page and "pk=None" not in page
    flat = " ".join(page.split())
    assert "Owner:</strong> empty &nbsp;&rarr;&nbsp;&nbsp;Crystal Keller" in flat
    # an attribute without a dictionary entry is named by its key in words
    assert "Attributes · Utm campaign:</strong> empty &nbsp;&rarr;&nbsp;&nbsp;2026-q1-revops-report" in flat
    assert "{&#x27;" not in page  # no raw dict


def test_earlier_runs_of_the_same_automation_are_folded_on_the_why_page(admin_client):
    user = get_user_model().objects.get(username="admin")
    lead = LeadFactory()
    routing = make_automation(actor=user, name="Lead routing")
    other = make_automation(actor=user, name="Hot lead follow-up")
    now = timezone.now()
    make_run(routing, lead, key="event:1", when=now - dt.timedelta(hours=2), summary="Routed to Patrick Page.")
    make_run(other, lead, key="event:2", when=now - dt.timedelta(hours=1))
    make_run(routing, lead, key="event:3", when=now, summary="Re-routed to Adelgunde Tröst.")
    page = admin_client.get(reverse("admin:revops_lead_why", args=[lead.pk])).content.decode()
    folded = page.split('<details class="rv-earlier-run"')
    assert len(folded) == 2  # one earlier run of Lead routing; the follow-up's only run stays open
    assert "Earlier run of Lead routing" in folded[1] and "Routed to Patrick Page." in folded[1]
    assert "Re-routed to Adelgunde Tröst." in folded[0]
