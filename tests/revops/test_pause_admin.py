"""The kill switches in the admin: reason required, paused state on the lists and pages, held events on resume."""

import django_rq
import pytest
from django.urls import reverse

from revops.engine.pause import automation_pause
from revops.models import Automation, HeldEvent
from routing.models import RoutingRule
from tests.factories import UserFactory

from .test_engine import make, process, rec, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana_client(client):
    user = UserFactory(username="ana", first_name="Ana", last_name="Ortiz", is_staff=True, is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_pause_needs_a_reason_then_the_pages_show_who_when_why(ana_client):
    automation = make()
    page = reverse("admin:revops_automation_change", args=[automation.pk])
    pause = reverse("admin:revops_automation_pause", args=[automation.pk])
    assert pause in ana_client.get(page).content.decode()  # the "Pause…" button

    form = ana_client.get(pause).content.decode()
    assert "held, not lost" in form and "Why are you pausing?" in form
    refused = ana_client.post(pause, {"reason": "  "})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert Automation.objects.get(pk=automation.pk).paused_at is None

    done = ana_client.post(pause, {"reason": "Tasks go to the wrong reps"}, follow=True)
    text = done.content.decode()
    assert "is paused: events that trigger it are held" in text
    assert "Automation &#x27;Hot lead follow-up&#x27; is paused by Ana Ortiz since" in text
    assert "Tasks go to the wrong reps" in text  # the pause history on its page
    assert reverse("admin:revops_automation_resume", args=[automation.pk]) in text

    listing = ana_client.get(reverse("admin:revops_automation_changelist")).content.decode()
    assert "⏸ Paused" in listing and "Ana Ortiz, " in listing and "Tasks go to the wrong reps" in listing
    paused_only = ana_client.get(reverse("admin:revops_automation_changelist") + "?paused=yes").content.decode()
    assert "Hot lead follow-up" in paused_only


def test_resume_page_shows_the_held_events_and_processes_them(
    ana_client, redis_conn, django_capture_on_commit_callbacks
):
    automation = make()
    automation_pause(automation=automation, actor=ana_client.user, reason="Bad rule")
    sync("leads", rec("L1", score=90, first_name="Jane", last_name="Doe"), rec("L2", score=91))
    process()
    resume = reverse("admin:revops_automation_resume", args=[automation.pk])
    text = ana_client.get(resume).content.decode()
    assert "2 events held while paused" in text
    assert "Jane Doe" in text and "created in the CRM" in text and "This automation was paused" in text
    assert ana_client.post(resume, {"reason": "", "held": "process"}).status_code == 200  # refused, shown again
    assert HeldEvent.objects.filter(decision="pending").count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        done = ana_client.post(resume, {"reason": "Rule fixed", "held": "process"}, follow=True)
    assert "2 held events will be processed now" in done.content.decode()
    assert django_rq.get_queue("hot").count == 1
    assert set(HeldEvent.objects.values_list("decision", flat=True)) == {"process"}
    history = done.content.decode()
    assert "Resumed (process held events)" in history and "Rule fixed" in history


def test_pause_all_from_the_changelist(ana_client):
    make()
    listing = reverse("admin:revops_automation_changelist")
    pause_all = reverse("admin:revops_automation_pause_all")
    assert pause_all in ana_client.get(listing).content.decode()
    done = ana_client.post(pause_all, {"reason": "CRM incident"}, follow=True).content.decode()
    assert "All automations are paused by Ana Ortiz" in done and "CRM incident" in done and "⏸ All paused" in done
    sync("leads", rec("L1", score=90))
    process()
    resume_all = reverse("admin:revops_automation_resume_all")
    page = ana_client.get(resume_all).content.decode()
    assert "1 event held while paused" in page and "All automations were paused" in page
    done = ana_client.post(resume_all, {"reason": "Fixed", "held": "skip"}, follow=True).content.decode()
    assert "Every automation resumed. 1 held event was skipped." in done
    assert HeldEvent.objects.get().decision == "skip"


def test_a_routing_rule_is_paused_and_resumed_from_its_page(ana_client):
    rule = RoutingRule.objects.create(name="EMEA enterprise", target_type="queue", target_queue="RevOps", status="live")
    page = reverse("admin:routing_routingrule_change", args=[rule.pk])
    pause = reverse("admin:routing_routingrule_pause", args=[rule.pk])
    assert pause in ana_client.get(page).content.decode()
    assert "go to the routing automation&#x27;s fallback owner" in ana_client.get(pause).content.decode()
    assert ana_client.post(pause, {"reason": ""}).status_code == 200
    done = ana_client.post(pause, {"reason": "Team offsite"}, follow=True).content.decode()
    assert "is paused: from the next lead on" in done and "Paused by Ana Ortiz since" in done
    listing = ana_client.get(reverse("admin:routing_routingrule_changelist")).content.decode()
    assert "⏸ Paused" in listing and "Team offsite" in listing
    resume = reverse("admin:routing_routingrule_resume", args=[rule.pk])
    done = ana_client.post(resume, {"reason": "Back"}, follow=True).content.decode()
    assert "is resumed" in done and "Team offsite" in done and "Back" in done  # both in the history table
    assert RoutingRule.objects.get(pk=rule.pk).paused_at is None


def test_the_why_page_lists_the_records_held_events_and_their_decision(ana_client):
    automation = make()
    automation_pause(automation=automation, actor=ana_client.user, reason="Bad rule")
    sync("leads", rec("L1", score=90))
    process()
    lead = HeldEvent.objects.get().event.object_id
    why = reverse("admin:revops_lead_why", args=[lead])
    text = ana_client.get(why).content.decode()
    assert "Held while paused" in text and "held: waiting for the resume" in text
    from revops.engine.pause import automation_resume

    automation_resume(automation=automation, actor=ana_client.user, reason="Not needed", held="skip")
    assert "skipped on resume by Ana Ortiz (Not needed)" in ana_client.get(why).content.decode()
