"""Finance notices: one e-mail to a named address (a finance alias, nobody's login) when an account at risk
renews within the window with ARR at or above the threshold — once per account and renewal."""

import pytest

from exceptions.models import Notification
from monitors.renewal_scan import renewal_scan
from revops.models import Account

from .renewal_support import Crm, account_fields, ago, customer, in_days, renewal_policy, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(client):
    account_fields()
    return Crm(client)


@pytest.fixture
def at_risk(crm):
    """Accounts renewing in 60 days whose sponsor was emptied last week (a live risk), by ARR."""
    _, _, rep = team("MM")
    renewal_policy("sponsor_loss")
    renewal_policy("finance_notice", recipient="Finance@Example.com", threshold=100000, window_days=90)

    def make(external_id, arr, renews=60):
        crm.account(
            external_id,
            ago(40),
            **customer(rep, arr=arr, renewal_date=in_days(renews), executive_sponsor="Priya Patel"),
        )
        crm.account(external_id, ago(5), executive_sponsor=None)
        return Account.objects.get(external_id=external_id)

    return make


def test_one_notice_per_account_and_renewal_to_the_named_address(
    at_risk, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        account = at_risk("A-BIG", 150000)
    with django_capture_on_commit_callbacks(execute=True):
        renewal_scan()
        renewal_scan()

    (mail,) = mailoutbox
    assert mail.to == ["finance@example.com"]
    assert mail.subject.startswith("Renewal ARR at risk: Acme Corp renews")
    assert "ARR 150,000" in mail.body and "Executive sponsor lost" in mail.body
    note = Notification.objects.get(reason="renewal_finance_notice")
    assert note.key == f"renewal_finance_notice:account:{account.pk}:{account.attributes['renewal_date']}"
    assert note.recipient.email == "finance@example.com" and not note.recipient.is_active


def test_below_the_threshold_or_outside_the_window_no_notice(at_risk, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        at_risk("A-SMALL", 60000)
        at_risk("A-LATE", 500000, renews=200)
        renewal_scan()

    assert mailoutbox == []
    assert not Notification.objects.exists()


def test_an_account_without_a_risk_is_no_notice(crm, mailoutbox, django_capture_on_commit_callbacks):
    _, _, rep = team("MM")
    renewal_policy("sponsor_loss")
    renewal_policy("finance_notice", recipient="finance@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        crm.account("A-1", ago(40), **customer(rep, arr=900000, renewal_date=in_days(30), executive_sponsor="Sam"))
        renewal_scan()

    assert mailoutbox == []
