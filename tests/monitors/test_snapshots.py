"""Forecast snapshots: every open deal once per day, in chunks, with one audit row per run; the
weekly schedule and its setting."""

import datetime as dt
from decimal import Decimal

import pytest

from monitors import jobs, services
from monitors.models import ForecastSnapshot, SnapshotRun
from monitors.services import forecast_snapshot_take
from revops.models import Opportunity
from revops.plugins import schedules
from tests.factories import OpportunityFactory, UserFactory
from tests.test_settings import LOAD_SETTINGS, clean_env, run_python

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 29)


@pytest.fixture
def deals():
    open_deals = [
        OpportunityFactory(stage=Opportunity.Stage.DISCOVERY, amount=Decimal("1000")),
        OpportunityFactory(stage=Opportunity.Stage.NEGOTIATION, forecast_category="commit", amount=None),
        OpportunityFactory(stage=Opportunity.Stage.PROPOSAL, close_date=None),
    ]
    OpportunityFactory(stage=Opportunity.Stage.CLOSED_WON)
    return open_deals


def test_a_snapshot_taken_twice_the_same_day_writes_once(deals, monkeypatch):
    monkeypatch.setattr(services, "SNAPSHOT_CHUNK", 2)  # several chunks
    ops = UserFactory(username="ops")

    first = forecast_snapshot_take(taken_on=DAY, actor=ops, reason="before the QBR")
    second = forecast_snapshot_take(taken_on=DAY, reason="schedule")

    assert (first.open_deals, first.written, first.actor, first.reason) == (3, 3, ops, "before the QBR")
    assert (second.open_deals, second.written) == (3, 0)
    assert SnapshotRun.objects.count() == 2  # both runs are accounted for
    assert ForecastSnapshot.objects.filter(taken_on=DAY).count() == 3
    stored = ForecastSnapshot.objects.get(opportunity=deals[1])
    assert (stored.stage, stored.forecast_category, stored.amount) == ("negotiation", "commit", None)
    assert stored.owner_rep_id == deals[1].owner_id
    assert ForecastSnapshot.objects.get(opportunity=deals[0]).close_date == deals[0].close_date


def test_a_new_day_takes_a_new_snapshot_and_a_new_deal_joins_a_taken_day(deals):
    forecast_snapshot_take(taken_on=DAY)
    late = OpportunityFactory(stage=Opportunity.Stage.SOLUTION)

    again = forecast_snapshot_take(taken_on=DAY)
    next_week = forecast_snapshot_take(taken_on=DAY + dt.timedelta(days=7))

    assert again.written == 1 and ForecastSnapshot.objects.filter(opportunity=late, taken_on=DAY).exists()
    assert next_week.written == 4


def test_the_weekly_job_snapshots_today(deals):
    run = SnapshotRun.objects.get(pk=jobs.monitors_snapshot_forecast())

    assert run.written == 3 and run.reason == "scheduled forecast snapshot"


def test_the_schedule_is_weekly_on_the_low_queue():
    schedule = next(s for s in schedules() if s.name == "monitors_snapshot_forecast")

    assert (schedule.queue, schedule.cron, schedule.func) == ("low", "0 20 * * 0", jobs.monitors_snapshot_forecast)


def test_a_bad_snapshot_cron_is_refused(tmp_path):
    result = run_python(LOAD_SETTINGS, clean_env(tmp_path, MONITORS_SNAPSHOT_CRON="every sunday"))

    assert result.returncode != 0
    assert "MONITORS_SNAPSHOT_CRON='every sunday'" in result.stderr, result.stderr


def test_the_renewal_scan_is_daily_on_the_low_queue_and_a_bad_cron_is_refused(tmp_path):
    schedule = next(s for s in schedules() if s.name == "monitors_renewal_scan")
    assert (schedule.queue, schedule.cron) == ("low", "30 5 * * *")

    result = run_python(LOAD_SETTINGS, clean_env(tmp_path, MONITORS_RENEWAL_CRON="every morning"))
    assert result.returncode != 0
    assert "MONITORS_RENEWAL_CRON='every morning'" in result.stderr, result.stderr
