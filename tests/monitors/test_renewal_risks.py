"""Renewal risks from the portal's recorded history: health dropping to red, usage dropping, the executive
sponsor lost — one item per account for the owner's manager, closing by itself when the data is fixed."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from exceptions.services import exception_item_dismiss
from monitors.models import AccountChange, RenewalFinding
from monitors.renewal_hooks import account_changes_record
from monitors.renewal_panels import why_renewal_panel
from monitors.renewal_scan import renewal_scan
from revops.models import Account, OutboxEvent

from .renewal_support import Crm, account_fields, ago, customer, in_days, renewal_policy, risk_item, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(client):
    account_fields()
    return Crm(client)


@pytest.fixture
def sales():
    return team("MM")


def test_a_drop_to_red_opens_one_item_for_the_owners_manager_and_closes_when_health_is_back(crm, sales):
    _, manager, rep = sales
    renewal_policy("health_red")
    crm.account("A-1", ago(40), **customer(rep, health_score=72, renewal_date=in_days(300)))
    crm.account("A-1", ago(10), health_score=31)
    account = Account.objects.get(external_id="A-1")

    item = risk_item(account)  # the event hook scanned the account at once
    assert item.kind == "renewal_risk" and item.status == "open"
    assert item.owner == manager and item.queue.name == "NA Sales ops"
    assert "Health score 31: red (below 40), down from 72 within the last 4 weeks" in item.reason
    assert "What to do:" in item.reason and "closes by itself" in item.expected_action
    assert timezone.now() + dt.timedelta(days=2) <= item.due_at <= timezone.now() + dt.timedelta(days=14, minutes=1)
    assert renewal_scan().get("items_created", 0) == 0  # a rescan changes nothing

    crm.account("A-1", ago(1), health_score=65)

    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_code == "fixed_in_crm"
    assert "health is back at or above the threshold" in item.resolution_note


def test_long_red_health_counts_only_inside_the_renewal_window(crm, sales):
    _, _, rep = sales
    renewal_policy("health_red", renewal_window_days=60)
    crm.account("A-FAR", ago(60), **customer(rep, health_score=20, renewal_date=in_days(200)))
    crm.account("A-NEAR", ago(60), **customer(rep, health_score=20, renewal_date=in_days(45)))

    renewal_scan()

    assert risk_item(Account.objects.get(external_id="A-FAR")) is None
    near = risk_item(Account.objects.get(external_id="A-NEAR"))
    assert "Health score 20: red (below 40), and it renews" in near.reason


def test_usage_dropping_by_the_limit_over_the_weeks_is_a_risk(crm, sales):
    _, _, rep = sales
    renewal_policy("usage_drop", percent=25, weeks=4)
    crm.account("A-DROP", ago(50), **customer(rep, weekly_active_users=200))
    crm.account("A-DROP", ago(3), weekly_active_users=90)
    crm.account("A-DIP", ago(50), **customer(rep, weekly_active_users=200))
    crm.account("A-DIP", ago(3), weekly_active_users=180)
    crm.account("A-OLD", ago(50), **customer(rep, weekly_active_users=200))
    crm.account("A-OLD", ago(40), weekly_active_users=90)  # dropped, but before the 4 weeks

    renewal_scan()

    item = risk_item(Account.objects.get(external_id="A-DROP"))
    assert "Weekly active users down 55 % over 4 weeks (200 → 90; limit 25 %; source of truth: Product usage)" in (
        item.reason
    )
    assert risk_item(Account.objects.get(external_id="A-DIP")) is None
    assert risk_item(Account.objects.get(external_id="A-OLD")) is None


def test_an_emptied_sponsor_is_a_risk_until_the_field_is_filled_again(crm, sales):
    _, _, rep = sales
    renewal_policy("sponsor_loss")
    crm.account("A-1", ago(40), **customer(rep, executive_sponsor="Priya Patel"))
    crm.account("A-1", ago(5), executive_sponsor=None)
    account = Account.objects.get(external_id="A-1")

    item = risk_item(account)
    assert "Executive sponsor changed from Priya Patel to — (emptied) on" in item.reason
    change = AccountChange.objects.get(account=account, field="executive_sponsor")
    assert (change.old_value, change.new_value) == ("Priya Patel", "")

    crm.account("A-1", ago(1), executive_sponsor="Sam Keller")

    item.refresh_from_db()
    assert item.status == "resolved"
    assert "filled again on" in item.resolution_note and "(Sam Keller)" in item.resolution_note


def test_a_sponsor_replaced_by_another_person_stays_a_risk_and_a_dismissal_holds(crm, sales):
    _, manager, rep = sales
    renewal_policy("sponsor_loss")
    crm.account("A-1", ago(40), **customer(rep, executive_sponsor="Priya Patel"))
    crm.account("A-1", ago(5), executive_sponsor="Omar Lindqvist")
    account = Account.objects.get(external_id="A-1")
    item = risk_item(account)
    assert "changed from Priya Patel to Omar Lindqvist" in item.reason

    exception_item_dismiss(item=item, reason="Met Omar, he sponsors it.", actor=manager)
    renewal_scan()

    assert ExceptionItem.objects.filter(dedupe_key=item.dedupe_key).count() == 1  # not reopened
    # Back to the old sponsor: the finding resolves.
    crm.account("A-1", ago(1), executive_sponsor="Priya Patel")
    assert not RenewalFinding.objects.filter(account=account, resolved_at__isnull=True).exists()


def test_one_item_lists_every_risk_of_the_account(crm, sales):
    _, _, rep = sales
    renewal_policy("health_red")
    renewal_policy("sponsor_loss")
    crm.account("A-1", ago(40), **customer(rep, health_score=80, executive_sponsor="Priya Patel"))
    crm.account("A-1", ago(5), health_score=30, executive_sponsor=None)
    account = Account.objects.get(external_id="A-1")

    (item,) = ExceptionItem.objects.filter(object_type="account", object_id=account.pk)
    assert item.title == "Acme Corp: renewal risks (2)"
    assert "Health dropped to red:" in item.reason and "Executive sponsor lost:" in item.reason

    crm.account("A-1", ago(1), health_score=70)  # one fixed: the item stays with the other
    item.refresh_from_db()
    assert item.status == "open" and item.title == "Acme Corp: renewal risk (1)"


def test_changes_are_recorded_once_per_event_and_only_for_tracked_fields(crm, sales):
    _, _, rep = sales
    crm.account("A-1", ago(40), **customer(rep, health_score=80, industry="Retail"))
    crm.account("A-1", ago(5), health_score=30, industry="Software")
    account = Account.objects.get(external_id="A-1")
    assert list(AccountChange.objects.filter(account=account).values_list("field", "old_value", "new_value")) == [
        ("health_score", "80", "30")
    ]
    event = OutboxEvent.objects.filter(object_type="account", kind="updated").get()
    assert account_changes_record(events=[event]) == set()  # re-delivered: nothing twice
    assert AccountChange.objects.count() == 1


def test_the_why_panel_lists_every_policy_with_its_values(crm, sales):
    _, _, rep = sales
    renewal_policy("health_red")
    renewal_policy("renewal_task")
    crm.account("A-1", ago(40), **customer(rep, health_score=80, renewal_date=in_days(20)))
    crm.account("A-1", ago(5), health_score=30)
    account = Account.objects.get(external_id="A-1")

    panel = why_renewal_panel("account", account.pk)

    rows = {row["name"]: row for row in panel["policies"]}
    assert rows["Renewal: health_red"]["verdict"] == "Risk"
    assert "down from 80" in rows["Renewal: health_red"]["text"]
    assert rows["Renewal: renewal_task"]["verdict"] == "Task"
    assert rows["Renewal: renewal_task"]["text"].startswith("Renews ")
    assert panel["segment"] == ("MM", "the owner's team")
    assert any("Health score 80 → 30" in line for line in panel["changes"])
    assert why_renewal_panel("opportunity", 1) is None


def test_the_why_page_of_an_account_shows_the_renewal_panel(client, admin_user, crm, sales):
    from revops.admin.links import why_url

    _, _, rep = sales
    renewal_policy("sponsor_loss")
    crm.account("A-1", ago(40), **customer(rep, executive_sponsor="Priya Patel"))
    crm.account("A-1", ago(5), executive_sponsor=None)
    client.force_login(admin_user)

    page = client.get(why_url("account", Account.objects.get(external_id="A-1").pk)).content.decode()

    assert "Renewal monitors" in page
    assert "Executive sponsor changed from Priya Patel to — (emptied)" in page
