"""The hygiene scan: findings, one item per deal for the rep's manager, self-closing, idempotent rescans,
shadow policies, forecast-call due times (across DST) and the Why panel."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.services import exception_item_dismiss
from monitors.calls import call_next_time, next_forecast_call
from monitors.hygiene import hygiene_scan, item_key
from monitors.models import ForecastCall, HygieneFinding
from monitors.panels import why_forecast_panel
from tests.monitors.hygiene_support import deal, hygiene_policy, sales_team

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
TODAY = timezone.localdate(NOW)


def test_one_item_per_deal_lists_every_policy_for_the_reps_manager():
    team, manager, rep = sales_team()
    hygiene_policy("commit_next_step")
    hygiene_policy("close_date_past")
    hygiene_policy("late_stage_no_activity")
    bad = deal(
        rep, forecast_category="commit", stage="negotiation", next_step="", close_date=TODAY - dt.timedelta(days=3)
    )
    deal(rep, forecast_category="pipeline", stage="discovery", close_date=TODAY + dt.timedelta(days=30))

    counts = hygiene_scan(now=NOW)

    items = ExceptionItem.objects.filter(kind="forecast_hygiene")
    assert items.count() == 1 and counts["items_created"] == 1
    item = items.get()
    assert item.dedupe_key == item_key(bad.pk) and item.object_id == bad.pk
    assert item.owner == manager and item.queue.name == "Sales ops"
    assert "breaks 3 hygiene policies" in item.reason
    assert "In Commit with no next step." in item.reason
    assert "is in the past (3 days ago)" in item.reason
    assert "with no activity logged" in item.reason
    assert "move it out of commit" in item.expected_action and "dismiss" in item.expected_action
    assert item.due_at == NOW + dt.timedelta(days=2)  # the team has no forecast call
    assert HygieneFinding.objects.filter(opportunity=bad, resolved_at__isnull=True).count() == 3


def test_a_rescan_with_nothing_changed_writes_nothing():
    _team, _manager, rep = sales_team()
    hygiene_policy("close_date_past")
    deal(rep, close_date=TODAY - dt.timedelta(days=1))
    hygiene_scan(now=NOW)
    item = ExceptionItem.objects.get(kind="forecast_hygiene")
    history = item.history.count()
    finding = HygieneFinding.objects.get()

    counts = hygiene_scan(now=NOW)

    assert {key: n for key, n in counts.items() if n} == {"deals": 1}
    assert item.history.count() == history
    assert HygieneFinding.objects.get().last_changed_at == finding.last_changed_at
    ExceptionItem.objects.get(pk=item.pk, occurrences=1)


def test_the_item_closes_itself_with_a_note_when_the_crm_fixes_the_data():
    _team, _manager, rep = sales_team()
    hygiene_policy("close_date_past")
    hygiene_policy("commit_next_step")
    bad = deal(rep, forecast_category="commit", next_step="", close_date=TODAY - dt.timedelta(days=2))
    hygiene_scan(now=NOW)
    bad.next_step = "Pricing call"
    bad.save()
    hygiene_scan(now=NOW + dt.timedelta(hours=1))
    item = ExceptionItem.objects.get(kind="forecast_hygiene")
    assert item.status == "open" and "breaks one hygiene policy" in item.reason  # refreshed: one left

    bad.close_date = TODAY + dt.timedelta(days=20)
    bad.save()
    counts = hygiene_scan(now=NOW + dt.timedelta(hours=2))

    item.refresh_from_db()
    assert counts["items_resolved"] == 1
    assert item.status == "resolved" and item.resolution_code == "fixed_in_crm"
    assert "the close date is no longer in the past" in item.resolution_note
    assert not HygieneFinding.objects.filter(resolved_at__isnull=True).exists()


def test_shadow_policies_record_findings_without_items():
    _team, _manager, rep = sales_team()
    hygiene_policy("close_date_past", mode="shadow")
    bad = deal(rep, close_date=TODAY - dt.timedelta(days=2))

    hygiene_scan(now=NOW)

    assert HygieneFinding.objects.get(opportunity=bad).mode == "shadow"
    assert not ExceptionItem.objects.filter(kind="forecast_hygiene").exists()


def test_a_dismissed_item_stays_closed_until_something_new_is_found():
    _team, manager, rep = sales_team()
    hygiene_policy("close_date_past")
    hygiene_policy("commit_next_step")
    bad = deal(rep, forecast_category="pipeline", close_date=TODAY - dt.timedelta(days=2))
    hygiene_scan(now=NOW)
    exception_item_dismiss(item=ExceptionItem.objects.get(), reason="Signed, paperwork pending", actor=manager)

    hygiene_scan(now=timezone.now() + dt.timedelta(seconds=1))
    assert not ExceptionItem.objects.filter(status="open").exists()

    bad.forecast_category, bad.next_step = "commit", ""
    bad.save()
    hygiene_scan(now=timezone.now() + dt.timedelta(seconds=2))
    assert ExceptionItem.objects.filter(status="open", object_id=bad.pk).count() == 1


def test_items_are_due_an_hour_before_the_teams_next_forecast_call():
    team, _manager, rep = sales_team()
    ForecastCall.objects.create(team=team, weekday=0, time=dt.time(9), time_zone="Europe/Berlin")
    hygiene_policy("close_date_past")
    deal(rep, close_date=dt.date(2026, 3, 1))
    friday = dt.datetime(2026, 3, 6, 12, tzinfo=dt.UTC)

    hygiene_scan(now=friday)

    item = ExceptionItem.objects.get(kind="forecast_hygiene")
    assert item.due_at == dt.datetime(2026, 3, 9, 7, tzinfo=dt.UTC)  # Monday 09:00 CET is 08:00 UTC; one hour before
    assert "Monday 09:00 Europe/Berlin" in item.expected_action


def test_next_forecast_call_across_daylight_saving_changes():
    team, _manager, _rep = sales_team()
    call = ForecastCall.objects.create(team=team, weekday=0, time=dt.time(9), time_zone="Europe/Berlin")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    # Clocks go forward on Sunday 29 March 2026: Monday 30 March 09:00 is 07:00 UTC (08:00 the week before).
    before = next_forecast_call(team, dt.datetime(2026, 3, 27, 12, tzinfo=dt.UTC))
    assert before == dt.datetime(2026, 3, 30, 9, tzinfo=berlin)
    assert before.astimezone(dt.UTC) == dt.datetime(2026, 3, 30, 7, tzinfo=dt.UTC)
    # And back on Sunday 25 October: Monday 26 October 09:00 is 08:00 UTC.
    autumn = call_next_time(call, now=dt.datetime(2026, 10, 24, 12, tzinfo=dt.UTC))
    assert autumn.astimezone(dt.UTC) == dt.datetime(2026, 10, 26, 8, tzinfo=dt.UTC)
    # During the call's minute it is the next week's call.
    at_call = dt.datetime(2026, 3, 30, 7, tzinfo=dt.UTC)
    assert next_forecast_call(team, at_call) == dt.datetime(2026, 4, 6, 9, tzinfo=berlin)
    child = type(team).objects.create(external_id="T-child", name="NA SMB", parent=team)
    assert next_forecast_call(child, at_call) == dt.datetime(2026, 4, 6, 9, tzinfo=berlin)  # inherited


def test_closed_deals_lose_their_findings_and_items():
    _team, _manager, rep = sales_team()
    hygiene_policy("close_date_past")
    bad = deal(rep, close_date=TODAY - dt.timedelta(days=2))
    hygiene_scan(now=NOW)
    bad.stage = "closed_won"
    bad.save()

    hygiene_scan(now=NOW + dt.timedelta(hours=1))

    item = ExceptionItem.objects.get(kind="forecast_hygiene")
    assert item.status == "resolved" and "The deal closed (Closed won)" in item.resolution_note


def test_policy_conditions_limit_the_deals_it_covers():
    _team, _manager, rep = sales_team()
    commit_only = {"all": [{"field": "opportunity.forecast_category", "op": "eq", "value": "commit"}]}
    hygiene_policy("close_date_past", conditions=commit_only)
    deal(rep, forecast_category="pipeline", close_date=TODAY - dt.timedelta(days=2))
    covered = deal(rep, forecast_category="commit", next_step="x", close_date=TODAY - dt.timedelta(days=2))

    hygiene_scan(now=NOW)

    assert list(HygieneFinding.objects.values_list("opportunity_id", flat=True)) == [covered.pk]


def test_the_why_panel_shows_every_policy_checked():
    _team, _manager, rep = sales_team()
    hygiene_policy("close_date_past", name="Close date check")
    hygiene_policy("commit_next_step", name="Next step check", mode="shadow")
    bad = deal(rep, forecast_category="commit", next_step="Demo", close_date=TODAY - dt.timedelta(days=2))

    rows = why_forecast_panel("opportunity", bad.pk)["policies"]

    assert rows[0] == {"name": "Close date check", "fired": True, "text": rows[0]["text"]}
    assert "is in the past (2 days ago)" in rows[0]["text"]
    assert rows[1]["name"] == "Next step check (shadow: recorded, no item)" and not rows[1]["fired"]
    assert rows[1]["text"].startswith("In Commit with next step “Demo”")


def test_the_why_page_lists_the_policies(client, admin_user):
    _team, _manager, rep = sales_team()
    hygiene_policy("close_date_past", name="Close date check")
    bad = deal(rep, close_date=TODAY - dt.timedelta(days=2))
    client.force_login(admin_user)
    from revops.admin.links import why_url

    html = client.get(why_url("opportunity", bad.pk)).content.decode()
    assert "Hygiene policies checked" in html and "<strong>Breaks</strong> Close date check" in html
    assert "Close date check: Close date" in html and "is in the past (2 days ago)" in html
