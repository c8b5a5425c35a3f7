"""Scarcity of renewal-risk items, as for forecast hygiene: a manager suppresses risks for an account from its
item (until a date or until the account changes), the renewal scan honours it and lets go when it lapses; a
per-owner rate limit holds the smaller accounts back and releases them later; noise is counted per policy."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions import roles
from exceptions.models import ExceptionItem, RateLimit, RateLimitHold, Suppression
from exceptions.services import exception_item_dismiss
from exceptions.suppressions import exception_item_suppress
from monitors.models import RenewalFinding
from monitors.renewal_panels import why_renewal_panel
from monitors.renewal_scan import ITEM_KIND, renewal_scan
from monitors.selectors import renewal_noise_rates
from revops.models import Account
from tests.factories import UserFactory

from .renewal_support import Crm, account_fields, ago, customer, renewal_policy, risk_item, team

pytestmark = pytest.mark.django_db


def act_url(item, action):
    return reverse("admin:exceptions_exceptionitem_act", args=[item.pk, action])


def open_items():
    return ExceptionItem.objects.filter(kind=ITEM_KIND, status__in=ExceptionItem.OPEN_STATUSES)


@pytest.fixture
def crm(client):
    account_fields()
    return Crm(client)


@pytest.fixture
def world(crm):
    """A customer account whose health dropped to red and whose sponsor was emptied: one item, two risks."""
    sales, manager, rep = team("MM")
    roles.assign_role(manager, roles.MANAGER)
    red = renewal_policy("health_red", name="Health dropped to red")
    sponsor = renewal_policy("sponsor_loss", name="Sponsor lost")
    crm.account("A-1", ago(40), **customer(rep, health_score=80, executive_sponsor="Priya Patel", employees=300))
    crm.account("A-1", ago(5), health_score=30, executive_sponsor=None)
    account = Account.objects.get(external_id="A-1")
    assert risk_item(account).title == "Acme Corp: renewal risks (2)"
    return {"crm": crm, "manager": manager, "rep": rep, "red": red, "sponsor": sponsor, "account": account}


def test_a_manager_suppresses_one_risk_until_the_account_changes_and_a_real_change_lifts_it(client, world):
    account, crm = world["account"], world["crm"]
    client.force_login(world["manager"])
    item = risk_item(account)
    form = client.get(act_url(item, "suppress")).content.decode()
    assert "Health dropped to red" in form and "Sponsor lost" in form

    client.post(
        act_url(item, "suppress"),
        {
            "_confirm": "1",
            "topics": [str(world["sponsor"].pk)],
            "until_change": "on",
            "reason_code": "being_handled",
            "note": "New sponsor being introduced",
        },
    )

    item = risk_item(account)  # the same item, refreshed at once without the suppressed risk
    assert item.status == "open" and item.title == "Acme Corp: renewal risk (1)"
    assert "Health dropped to red" in item.reason and "Executive sponsor lost:" not in item.reason
    assert "Left out (suppressed for this account):\n• Sponsor lost, until the account changes, by " in item.reason
    assert RenewalFinding.objects.filter(automation=world["sponsor"], resolved_at__isnull=True).count() == 1
    counts = renewal_scan()  # a rescan of the same data: nothing to write, the risk stays off
    assert counts.get("items_refreshed", 0) == 0 and counts["findings_suppressed"] == 1
    panel = why_renewal_panel("account", account.pk)
    said = {row["name"]: row["suppressed"] for row in panel["policies"]}
    assert said["Health dropped to red"] == ""
    assert said["Sponsor lost"].startswith("suppressed until the account changes by ")
    assert (
        "(Known, being handled: New sponsor being introduced); it stays off the account's item" in said["Sponsor lost"]
    )

    crm.account("A-1", ago(1), name="Acme Corp")  # the CRM sends the account again with nothing changed
    renewal_scan()
    assert Suppression.objects.get().lifted_at is None and "Left out" in risk_item(account).reason

    crm.account("A-1", ago(0.5), employees=320)  # a real change of the account's values
    counts = renewal_scan()

    assert not counts.get("findings_suppressed")
    assert risk_item(account).title == "Acme Corp: renewal risks (2)" and "Left out" not in risk_item(account).reason
    assert Suppression.objects.get().lift_reason == "the account changed"


def test_suppressed_until_a_date_comes_back_when_the_date_passes(world):
    account = world["account"]
    now = timezone.now()
    until = now + dt.timedelta(days=3)
    exception_item_suppress(
        item=risk_item(account),
        actor=world["manager"],
        topics=[str(world["red"].pk)],
        until=until,
        reason_code="noise",
    )
    assert risk_item(account).title == "Acme Corp: renewal risk (1)"

    renewal_scan(now=until - dt.timedelta(hours=1))
    assert risk_item(account).title == "Acme Corp: renewal risk (1)"

    renewal_scan(now=until + dt.timedelta(hours=1))
    item = risk_item(account)
    assert item.title == "Acme Corp: renewal risks (2)" and "Left out" not in item.reason
    assert Suppression.objects.get().lift_reason == "the date passed"


def test_the_item_closes_itself_when_every_risk_is_suppressed_and_stays_closed(world):
    account = world["account"]
    item = risk_item(account)

    exception_item_suppress(item=item, actor=world["manager"], until_change=True, reason_code="data_correct")

    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_code == "suppressed"
    assert item.resolution_note.startswith("Suppressed: ") and "until the account changes" in item.resolution_note
    counts = renewal_scan()
    assert counts["findings_suppressed"] == 2 and not counts.get("items_created")
    assert not open_items().exists()
    assert RenewalFinding.objects.filter(account=account, resolved_at__isnull=True).count() == 2  # still recorded


def test_another_teams_manager_cannot_suppress_the_item(client, world):
    outsider = UserFactory(username="manager.emea")
    roles.assign_role(outsider, roles.MANAGER)
    client.force_login(outsider)

    response = client.post(
        act_url(risk_item(world["account"]), "suppress"),
        {"_confirm": "1", "until_change": "on", "reason_code": "noise"},
    )

    assert response.status_code == 404 and not Suppression.objects.exists()
    assert risk_item(world["account"]).status == "open"


def test_the_rate_limit_holds_the_smaller_accounts_and_releases_them_later(crm):
    _, manager, rep = team("MM")
    for external_id, arr in (("A-SMALL", 10000), ("A-BIG", 500000), ("A-MID", 200000)):
        crm.account(external_id, ago(40), **customer(rep, name=external_id, arr=arr, executive_sponsor="Priya Patel"))
        crm.account(external_id, ago(5), executive_sponsor=None)
    # The changes were recorded before any policy ran: the first full scan finds the three at once.
    renewal_policy("sponsor_loss")
    RateLimit.objects.create(kind=ITEM_KIND, per_owner=2, period_hours=24)
    now = timezone.now()

    counts = renewal_scan(now=now)

    opened = set(open_items().values_list("external_id", flat=True))
    assert opened == {"A-BIG", "A-MID"} and counts["items_held"] == 1
    hold = RateLimitHold.objects.get(kind=ITEM_KIND)
    assert (hold.owner, hold.held, hold.limit) == (manager, 1, 2)
    small = Account.objects.get(external_id="A-SMALL")
    assert RenewalFinding.objects.filter(account=small, resolved_at__isnull=True).exists()  # not lost

    assert renewal_scan(now=now + dt.timedelta(hours=2))["items_held"] == 1  # no room yet the same day
    counts = renewal_scan(now=now + dt.timedelta(hours=25))

    assert counts["items_held"] == 0 and counts["items_created"] == 1
    assert risk_item(small).status == "open" and not RateLimitHold.objects.exists()


def test_noise_rate_per_renewal_policy(client, admin_user, world):
    item = risk_item(world["account"])
    exception_item_dismiss(item=item, reason="Health scores are off this quarter", actor=world["manager"], noise=True)

    rates = {row.name: row for row in renewal_noise_rates()}

    red, sponsor = rates["Health dropped to red"], rates["Sponsor lost"]
    assert (red.items, red.dismissed_noise, red.noisy_items, red.rate) == (1, 1, 1, 1.0)
    assert (sponsor.items, sponsor.rate) == (1, 1.0)
    client.force_login(admin_user)
    page = client.get(reverse("admin:monitors_hygienefinding_noise")).content.decode()
    assert "Renewal risks (items per account)" in page and "Health dropped to red" in page and "100 %" in page
