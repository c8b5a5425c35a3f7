"""The forecast-hygiene digest: one email per manager and forecast call, listing the manager's items in plain
words, in the team's time zone; none without items, none twice, none before the call is near."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from exceptions.models import ExceptionItem, Notification
from monitors.digest import hygiene_digests_send
from monitors.hygiene import hygiene_scan
from monitors.jobs import monitors_hygiene_scan
from monitors.models import ForecastCall
from tests.factories import RepFactory, TeamFactory, UserFactory
from tests.monitors.hygiene_support import deal, hygiene_policy, sales_team

pytestmark = pytest.mark.django_db

FRIDAY = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)  # the Monday call is 68 hours away
SUNDAY = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)  # Monday 7 Dec 09:00 Berlin (08:00 UTC) is 20 hours away
NEXT_SUNDAY = SUNDAY + dt.timedelta(days=7)


@pytest.fixture
def na_team():
    """NA Sales with a Monday 09:00 Berlin call, two live policies and one commit deal breaking both."""
    team, manager, rep = sales_team()
    ForecastCall.objects.create(team=team, weekday=0, time=dt.time(9), time_zone="Europe/Berlin")
    hygiene_policy("commit_next_step")
    hygiene_policy("close_date_past")
    bad = deal(rep, name="Acme renewal", forecast_category="commit", next_step="", close_date=dt.date(2026, 11, 20))
    deal(rep, name="Globex pilot", forecast_category="pipeline", close_date=dt.date(2027, 2, 1))  # clean
    return team, manager, rep, bad


def test_a_manager_with_items_gets_one_digest_a_day_before_the_call(na_team):
    _team, manager, _rep, bad = na_team
    hygiene_scan(now=FRIDAY)

    assert hygiene_digests_send(now=FRIDAY) == 0  # the call is more than 24 hours away
    assert hygiene_digests_send(now=SUNDAY) == 1

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [manager.email]
    assert message.subject == "Before your forecast call (Monday 7 Dec, 09:00 Europe/Berlin): 1 deal to review"
    body = message.body
    item = ExceptionItem.objects.get(kind="forecast_hygiene")
    assert f"1. Acme renewal ({bad.external_id}) — owner Riley Rep, amount 48,000" in body
    assert "Breaks: Close date in the past; Commit without a next step" in body
    assert "due by Monday 7 Dec, 08:00" in body and "Times are in Europe/Berlin" in body
    assert f"/admin/exceptions/exceptionitem/{item.pk}/change/" in body
    assert "/admin/exceptions/exceptionitem/?kind=forecast_hygiene&owner=me" in body
    assert "Globex" not in body
    html = message.alternatives[0][0]
    assert "Acme renewal" in html and "Commit without a next step" in html
    note = Notification.objects.get(recipient=manager)
    assert note.reason == "forecast_digest" and note.status == "sent" and note.item is None


def test_the_digest_is_sent_once_per_call(na_team):
    _team, manager, _rep, _bad = na_team
    hygiene_scan(now=SUNDAY)
    assert hygiene_digests_send(now=SUNDAY) == 1

    hygiene_scan(now=SUNDAY + dt.timedelta(hours=1))
    assert hygiene_digests_send(now=SUNDAY + dt.timedelta(hours=1)) == 0
    assert hygiene_digests_send(now=SUNDAY + dt.timedelta(hours=19)) == 0
    assert len(mail.outbox) == 1

    assert hygiene_digests_send(now=NEXT_SUNDAY) == 1  # next week's call: a new digest
    assert len(mail.outbox) == 2
    assert "Monday 14 Dec, 09:00" in mail.outbox[1].subject
    assert Notification.objects.filter(recipient=manager, reason="forecast_digest").count() == 2


def test_no_digest_for_a_manager_without_items(na_team):
    team, manager, _rep, bad = na_team
    other_user = UserFactory(username="emea.manager")
    emea = TeamFactory(name="EMEA Sales")
    emea.manager = RepFactory(team=emea, user=other_user, name="Emil Manager")
    emea.save()
    ForecastCall.objects.create(team=emea, weekday=0, time=dt.time(9), time_zone="Europe/Berlin")
    deal(RepFactory(team=emea, name="Erin Rep"), forecast_category="pipeline", close_date=dt.date(2027, 2, 1))
    hygiene_scan(now=SUNDAY)

    assert hygiene_digests_send(now=SUNDAY) == 1
    assert [m.to for m in mail.outbox] == [[manager.email]]
    assert not Notification.objects.filter(recipient=other_user).exists()


def test_no_digest_when_the_items_are_closed_or_the_team_has_no_call(na_team):
    team, _manager, _rep, bad = na_team
    hygiene_scan(now=SUNDAY)
    ForecastCall.objects.filter(team=team).delete()
    assert hygiene_digests_send(now=SUNDAY) == 0

    ForecastCall.objects.create(team=team, weekday=0, time=dt.time(9), time_zone="Europe/Berlin")
    bad.forecast_category, bad.next_step, bad.close_date = "pipeline", "Call", dt.date(2027, 1, 15)
    bad.save()
    hygiene_scan(now=SUNDAY)  # the CRM fixed the data: the item closes itself
    assert hygiene_digests_send(now=SUNDAY) == 0
    assert mail.outbox == []


def test_the_hourly_scan_job_sends_the_digest(na_team, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: SUNDAY)

    first = monitors_hygiene_scan()
    again = monitors_hygiene_scan()

    assert first["items_created"] == 1 and first["digests_sent"] == 1
    assert again["digests_sent"] == 0
    assert len(mail.outbox) == 1
