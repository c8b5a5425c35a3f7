"""Scarcity of forecast-hygiene items: a manager suppresses policies for a deal from its item (until a date or
until the deal changes), the scan honours it and lets go when it lapses; a per-manager rate limit holds the
smaller deals back and releases them later; noise is counted per policy."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions import roles
from exceptions.models import ExceptionItem, RateLimit, RateLimitHold, Suppression
from exceptions.services import exception_item_dismiss
from exceptions.suppressions import exception_item_suppress, suppression_lift
from monitors.digest import hygiene_digests_for
from monitors.hygiene import ITEM_KIND, hygiene_scan
from monitors.models import ForecastCall, HygieneFinding
from monitors.selectors import policy_noise_rates
from revops.models import Opportunity
from tests.crm_sync import sync_poster
from tests.factories import UserFactory
from tests.monitors.hygiene_support import deal, hygiene_policy, sales_team
from tests.monitors.test_panel import panel_of

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
TODAY = timezone.localdate(NOW)


def act_url(item, action):
    return reverse("admin:exceptions_exceptionitem_act", args=[item.pk, action])


def open_item():
    return ExceptionItem.objects.get(kind=ITEM_KIND, status__in=ExceptionItem.OPEN_STATUSES)


@pytest.fixture
def world():
    """A commit deal breaking two live policies, scanned once: one item for the manager."""
    team, manager, rep = sales_team()
    roles.assign_role(manager, roles.MANAGER)
    past = hygiene_policy("close_date_past", name="Close date in the past")
    commit = hygiene_policy("commit_next_step", name="Commit without a next step")
    bad = deal(
        rep,
        name="Acme renewal",
        forecast_category="commit",
        next_step="",
        close_date=TODAY - dt.timedelta(days=3),
        amount=100000,
    )
    hygiene_scan(now=NOW)
    return {"team": team, "manager": manager, "rep": rep, "past": past, "commit": commit, "deal": bad}


def test_a_manager_suppresses_one_policy_from_the_item_page_and_the_why_page_says_so(client, world):
    client.force_login(world["manager"])
    item = open_item()
    form = client.get(act_url(item, "suppress")).content.decode()
    assert "Close date in the past" in form and "Commit without a next step" in form

    client.post(
        act_url(item, "suppress"),
        {
            "_confirm": "1",
            "topics": [str(world["past"].pk)],
            "until_change": "on",
            "reason_code": "being_handled",
            "note": "Legal is redlining",
        },
    )

    item = open_item()  # the same item, refreshed at once without the suppressed policy
    assert "breaks one hygiene policy" in item.reason and "Commit without a next step" in item.reason
    assert "Left out (suppressed for this deal):\n• Close date in the past, until the deal changes, by " in item.reason
    assert HygieneFinding.objects.filter(automation=world["past"], resolved_at__isnull=True).count() == 1
    counts = hygiene_scan(now=NOW)  # a rescan of the same data: nothing to write, the policy stays off
    assert counts.get("items_refreshed", 0) == 0 and counts["findings_suppressed"] == 1
    page = client.get(reverse("admin:exceptions_exceptionitem_change", args=[item.pk])).content.decode()
    assert "Suppressed for this record (1)" in page and "Close date in the past — until the deal changes" in page
    panel = panel_of(client, "opportunity", world["deal"].pk)
    assert "Close date in the past — suppressed until the deal changes by " in panel
    assert "(Known, being handled: Legal is redlining)" in panel and "Suppressions of this deal" in panel


def test_snooze_until_change_rescan_keeps_it_a_crm_sync_changing_the_deal_lifts_it(client, world):
    item = open_item()
    exception_item_suppress(item=item, actor=world["manager"], until_change=True, reason_code="data_correct")

    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_code == "suppressed"
    assert item.resolution_note.startswith("Suppressed: ") and "until the deal changes" in item.resolution_note
    counts = hygiene_scan(now=NOW + dt.timedelta(hours=1))  # same data: still suppressed, nothing opens
    assert counts["findings_suppressed"] == 2 and not counts.get("items_created")
    assert Suppression.objects.filter(lifted_at__isnull=True).count() == 2

    post = sync_poster(client, "opportunities")
    deal = world["deal"]
    same = {
        "external_id": deal.external_id,
        "name": deal.name,
        "amount": "100000.00",
        "source_updated_at": (NOW + dt.timedelta(hours=2)).isoformat(),
    }
    post(same)  # the CRM sends the deal again with nothing changed
    hygiene_scan(now=NOW + dt.timedelta(hours=2))
    assert not ExceptionItem.objects.filter(kind=ITEM_KIND, status="open").exists()

    post({**same, "amount": "125000", "source_updated_at": (NOW + dt.timedelta(hours=3)).isoformat()})
    assert Opportunity.objects.get(pk=deal.pk).amount == 125000
    counts = hygiene_scan(now=NOW + dt.timedelta(hours=3))

    assert counts["items_created"] == 1 and not counts.get("findings_suppressed")
    assert "breaks 2 hygiene policies" in open_item().reason
    assert set(Suppression.objects.values_list("lift_reason", flat=True)) == {"the deal changed"}


def test_suppressed_until_a_date_comes_back_when_the_date_passes(world):
    until = NOW + dt.timedelta(days=7)
    exception_item_suppress(
        item=open_item(), actor=world["manager"], topics=[str(world["commit"].pk)], until=until, reason_code="noise"
    )
    assert "breaks one hygiene policy" in open_item().reason

    hygiene_scan(now=until - dt.timedelta(hours=1))
    assert "breaks one hygiene policy" in open_item().reason

    hygiene_scan(now=until + dt.timedelta(hours=1))
    assert "breaks 2 hygiene policies" in open_item().reason and "Left out" not in open_item().reason
    assert Suppression.objects.get().lift_reason == "the date passed"


def test_lifted_early_the_policy_reaches_the_item_again(world):
    exception_item_suppress(item=open_item(), actor=world["manager"], until_change=True, reason_code="being_handled")
    assert not ExceptionItem.objects.filter(kind=ITEM_KIND, status="open").exists()
    for row in Suppression.objects.all():
        suppression_lift(suppression=row, actor=world["manager"])

    counts = hygiene_scan(now=NOW + dt.timedelta(hours=1))

    assert counts["items_created"] == 1 and "breaks 2 hygiene policies" in open_item().reason


def test_another_teams_manager_cannot_suppress_the_item(client, world):
    outsider = UserFactory(username="manager.emea")
    roles.assign_role(outsider, roles.MANAGER)
    client.force_login(outsider)
    response = client.post(
        act_url(open_item(), "suppress"), {"_confirm": "1", "until_change": "on", "reason_code": "noise"}
    )
    assert response.status_code == 404 and not Suppression.objects.exists()


def test_the_rate_limit_holds_the_smaller_deals_and_releases_them_later(world):
    rep = world["rep"]
    ExceptionItem.objects.filter(kind=ITEM_KIND).delete()
    Opportunity.objects.filter(pk=world["deal"].pk).update(stage="closed_lost")
    past = TODAY - dt.timedelta(days=2)
    small = deal(rep, name="Small", close_date=past, amount=10000)
    big = deal(rep, name="Big", close_date=past, amount=500000)
    mid = deal(rep, name="Mid", close_date=past, amount=200000)
    RateLimit.objects.create(kind=ITEM_KIND, per_owner=2, period_hours=24)
    later = NOW + dt.timedelta(hours=1)
    call_at = later.astimezone(dt.UTC) + dt.timedelta(hours=3)  # the team's call, 3 hours after the scan
    ForecastCall.objects.create(
        team=world["team"], weekday=call_at.weekday(), time=dt.time(call_at.hour, call_at.minute), time_zone="UTC"
    )

    counts = hygiene_scan(now=later)

    opened = set(ExceptionItem.objects.filter(kind=ITEM_KIND, status="open").values_list("object_id", flat=True))
    assert opened == {big.pk, mid.pk} and counts["items_held"] == 1
    hold = RateLimitHold.objects.get(kind=ITEM_KIND)
    assert (hold.owner, hold.held, hold.limit) == (world["manager"], 1, 2)
    assert HygieneFinding.objects.filter(opportunity=small, resolved_at__isnull=True).exists()  # not lost
    (digest,) = [d for d in hygiene_digests_for(now=later) if d["manager"] == world["manager"]]
    assert digest["count"] == 2
    assert digest["held"].startswith("1 more deal is held back by the limit of 2 new items per manager per day")

    assert hygiene_scan(now=later + dt.timedelta(hours=2))["items_held"] == 1  # no room yet the same day
    counts = hygiene_scan(now=later + dt.timedelta(hours=25))

    assert counts["items_held"] == 0 and counts["items_created"] == 1
    assert ExceptionItem.objects.get(kind=ITEM_KIND, object_id=small.pk).status == "open"
    assert not RateLimitHold.objects.exists()


def test_noise_rate_per_policy(client, admin_user, world):
    rep = world["rep"]
    other = deal(rep, name="Globex", forecast_category="pipeline", close_date=TODAY - dt.timedelta(days=1))
    hygiene_scan(now=NOW)  # (people act on the real clock: the scan's must not run ahead of it here)
    acme = ExceptionItem.objects.get(kind=ITEM_KIND, object_id=world["deal"].pk)
    globex = ExceptionItem.objects.get(kind=ITEM_KIND, object_id=other.pk)

    exception_item_dismiss(item=acme, reason="Commit here is a rep habit", actor=world["manager"], noise=True)
    exception_item_suppress(item=globex, actor=world["manager"], until_change=True, reason_code="being_handled")

    rates = {row.name: row for row in policy_noise_rates(now=NOW + dt.timedelta(hours=1))}
    past, commit = rates["Close date in the past"], rates["Commit without a next step"]
    assert (past.items, past.dismissed_noise, past.suppressed_noise, past.noisy_items) == (2, 1, 0, 1)
    assert past.rate == 0.5 and past.suppressions == {"Known, being handled": 1}
    assert (commit.items, commit.dismissed_noise, commit.rate) == (1, 1, 1.0)

    client.force_login(admin_user)
    page = client.get(reverse("admin:monitors_hygienefinding_noise")).content.decode()
    assert "Close date in the past" in page and "50 %" in page and "Known, being handled: 1" in page
