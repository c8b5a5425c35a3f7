"""Failure monitoring with a controllable clock: a scheduled automation that did not run on time, a
silent CRM, an alert or error spike against the week before, and an automation that ran twice for one
event — each an item for the right person, refreshed (not repeated) while it lasts."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from revops.engine.failure_monitor import automation_failures_check
from revops.engine.schedule import run_scheduled_automations
from revops.models import Automation, AutomationPass, AutomationRun, AutomationVersion, SyncBatch
from tests.exceptions.support import make_queue, open_item
from tests.factories import LeadFactory
from tests.revops.test_engine import make

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def items(kind):
    return list(ExceptionItem.objects.filter(kind=kind))


def test_a_scheduled_automation_that_stopped_running_is_raised_to_its_failure_owner():
    auto = make("Stale lead nudge", trigger="schedule", schedule_minutes=60, conditions={"all": []})
    Automation.objects.filter(pk=auto.pk).update(updated_at=NOW - dt.timedelta(hours=1))
    assert automation_failures_check(now=NOW)["late"] == 0  # switched on an hour ago: not late yet
    run_scheduled_automations(now=NOW)  # a pass finishes
    assert AutomationPass.objects.get(automation=auto).finished_at == NOW
    assert automation_failures_check(now=NOW + dt.timedelta(hours=2))["late"] == 0
    later = NOW + dt.timedelta(hours=2, minutes=11)  # two periods and the grace without a pass
    assert automation_failures_check(now=later)["late"] == 1
    [item] = items("automation_late")
    assert item.owner == auto.failure_owner and "runs every 60 minutes; its last finished pass" in item.reason
    automation_failures_check(now=later + dt.timedelta(minutes=15))
    assert ExceptionItem.objects.get(kind="automation_late").occurrences == 2  # refreshed, not repeated
    Automation.objects.filter(pk=auto.pk).update(mode="paused")
    assert automation_failures_check(now=later)["late"] == 0


def test_a_silent_crm_opens_one_item(settings):
    settings.CRM_SILENCE_HOURS = 6
    assert automation_failures_check(now=NOW)["crm_silent"] == 0  # never synced: a fresh install
    batch = SyncBatch.objects.create(object_type="lead")
    assert automation_failures_check(now=batch.received_at + dt.timedelta(hours=5))["crm_silent"] == 0
    assert automation_failures_check(now=batch.received_at + dt.timedelta(hours=7))["crm_silent"] == 1
    assert "The CRM has sent nothing for 6 hours" in items("crm_silent")[0].title
    settings.CRM_SILENCE_HOURS = 0
    ExceptionItem.objects.all().delete()
    assert automation_failures_check(now=batch.received_at + dt.timedelta(days=3))["crm_silent"] == 0


def test_an_alert_spike_against_the_week_before_goes_to_the_rule_owner():
    auto = make("Missing phone alert")
    Automation.objects.filter(pk=auto.pk).update(created_at=NOW - dt.timedelta(days=30))
    queue = make_queue("RevOps triage")
    made = [open_item(key=f"old{n}", queue=queue, automation=auto) for n in range(7)]  # one a day the week before
    for n, item in enumerate(made):
        ExceptionItem.objects.filter(pk=item.pk).update(first_seen_at=NOW - dt.timedelta(days=n + 1.5))
    for n in range(9):
        open_item(key=f"new{n}", queue=queue, automation=auto)
    assert automation_failures_check(now=NOW + dt.timedelta(minutes=1))["spikes"] == 0  # 9: under the minimum
    open_item(key="new9", queue=queue, automation=auto)
    assert automation_failures_check(now=NOW + dt.timedelta(minutes=1))["spikes"] == 1
    [item] = items("automation_spike")
    assert item.owner == auto.rule_owner
    assert "opened 10 items in the last 24 hours against 1.0 a day the week before" in item.reason


def test_an_error_spike_is_raised_too():
    auto = make("Enrich account")
    Automation.objects.filter(pk=auto.pk).update(created_at=NOW - dt.timedelta(days=30))
    version = AutomationVersion.objects.filter(automation=auto).first()
    lead = LeadFactory()
    for n in range(12):
        AutomationRun.objects.create(
            automation=auto,
            version=version,
            trigger_key=f"t{n}",
            mode="live",
            object_type="lead",
            object_id=lead.pk,
            outcome="error" if n < 10 else "fired",
        )
    assert automation_failures_check(now=NOW + dt.timedelta(minutes=1))["spikes"] == 1
    assert (
        "10 of its 12 runs in the last 24 hours failed (83%; 0% the week before)" in items("automation_spike")[0].reason
    )


def test_an_automation_that_ran_twice_for_one_event_is_caught():
    auto = make("Hot lead follow-up")
    first = AutomationVersion.objects.filter(automation=auto).first()
    second = AutomationVersion.objects.create(
        automation=auto, number=first.number + 1, conditions={}, config={}, risk="low"
    )
    lead = LeadFactory(external_id="L-42")
    assert automation_failures_check(now=NOW)["twice"] == 0
    for version in (first, second):  # the rule changed between two deliveries of one event
        AutomationRun.objects.create(
            automation=auto,
            version=version,
            trigger_key="event:77",
            mode="live",
            object_type="lead",
            object_id=lead.pk,
            external_id="L-42",
            outcome="fired",
        )
    assert automation_failures_check(now=NOW + dt.timedelta(minutes=1))["twice"] == 1
    [item] = items("automation_twice")
    assert item.owner == auto.failure_owner and item.object_id == lead.pk
    assert "share one trigger (event:77) on lead L-42" in item.reason
