"""Renewal tasks: one for the account owner N days before the renewal date (N per segment), once per
account and renewal, following a corrected date, not re-created once done; reported to the CRM on the
changes feed."""

import datetime as dt

import pytest
from django.utils import timezone

from monitors.models import RenewalTask
from monitors.renewal_scan import renewal_scan
from revops.models import Account, ChangeEntry, Task
from revops.services import record_save
from tests.factories import UserFactory

from .renewal_support import Crm, account_fields, ago, customer, in_days, renewal_policy, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(client):
    account_fields()
    return Crm(client)


def tasks(account):
    return list(Task.objects.filter(account=account).order_by("pk"))


def test_the_window_depends_on_the_owner_teams_segment(crm):
    renewal_policy("renewal_task", days_before={"SMB": 60, "MM": 90, "ENT": 120}, default=90)
    _, _, smb_rep = team("SMB", name="NA SMB", manager="m.smb")
    _, _, ent_rep = team("ENT", name="NA ENT", manager="m.ent")
    crm.account("A-SMB", ago(40), **customer(smb_rep, renewal_date=in_days(80)))
    crm.account("A-ENT", ago(40), **customer(ent_rep, renewal_date=in_days(80)))

    renewal_scan()

    smb, ent = Account.objects.get(external_id="A-SMB"), Account.objects.get(external_id="A-ENT")
    assert tasks(smb) == []  # SMB asks 60 days before: 80 is too early
    (task,) = tasks(ent)
    assert task.owner == ent_rep and task.status == Task.Status.OPEN
    assert task.title.startswith("Prepare the renewal of Acme Corp")
    assert "120 days before the renewal (ENT)" in task.description
    assert task.due_at <= timezone.now() + dt.timedelta(days=14, minutes=1)
    entry = ChangeEntry.objects.get(kind=ChangeEntry.Kind.TASK_CREATED, external_id="A-ENT")
    assert entry.object_type == "account"
    assert entry.payload["task_id"] == task.pk and entry.payload["owner"] == ent_rep.external_id
    assert entry.payload["renewal_date"] == in_days(80)


def test_without_a_team_segment_the_employee_band_decides(crm):
    renewal_policy("renewal_task", days_before={"SMB": 60, "ENT": 120}, default=90)
    _, _, rep = team("", name="Strategic", manager="m.strat")
    crm.account("A-BIG", ago(40), **customer(rep, renewal_date=in_days(110), employees=5000))
    crm.account("A-MID", ago(40), **customer(rep, renewal_date=in_days(110), employees=800))

    renewal_scan()

    assert len(tasks(Account.objects.get(external_id="A-BIG"))) == 1  # ENT: 120 days
    assert tasks(Account.objects.get(external_id="A-MID")) == []  # MM is not named: the default 90 days


def test_the_window_opens_by_the_clock_and_the_task_is_created_once(crm):
    renewal_policy("renewal_task")
    _, _, rep = team("MM")
    crm.account("A-1", ago(40), **customer(rep, renewal_date=in_days(100)))
    account = Account.objects.get(external_id="A-1")

    assert renewal_scan().get("tasks_created", 0) == 0  # 100 days out, MM asks 90 days before
    later = timezone.now() + dt.timedelta(days=12)
    assert renewal_scan(now=later)["tasks_created"] == 1
    assert renewal_scan(now=later + dt.timedelta(days=1)).get("tasks_created", 0) == 0
    assert len(tasks(account)) == 1
    assert ChangeEntry.objects.filter(kind=ChangeEntry.Kind.TASK_CREATED, external_id="A-1").count() == 1


def test_an_open_task_follows_a_corrected_date(crm):
    renewal_policy("renewal_task")
    _, _, rep = team("MM")
    crm.account("A-1", ago(40), **customer(rep, renewal_date=in_days(30)))  # the hook scans the new account
    account = Account.objects.get(external_id="A-1")
    renewal_scan()
    (task,) = tasks(account)
    first_due = task.due_at

    crm.account("A-1", ago(1), renewal_date=in_days(5))  # the CRM corrects the date: the hook re-scans

    (moved,) = tasks(account)
    assert moved.pk == task.pk and moved.due_at < first_due
    assert RenewalTask.objects.get(account=account).renewal_date.isoformat() == in_days(5)
    entries = ChangeEntry.objects.filter(kind=ChangeEntry.Kind.TASK_CREATED, external_id="A-1").order_by("pk")
    assert [e.payload["task_id"] for e in entries] == [task.pk, task.pk]
    assert entries.last().payload["renewal_date"] == in_days(5)


def test_a_done_task_is_not_created_again_but_the_next_renewal_gets_its_own(crm):
    renewal_policy("renewal_task")
    _, _, rep = team("MM")
    crm.account("A-1", ago(40), **customer(rep, renewal_date=in_days(30)))
    account = Account.objects.get(external_id="A-1")
    renewal_scan()
    (task,) = tasks(account)
    task.status = Task.Status.DONE
    record_save(instance=task, actor=UserFactory(), reason="done")

    renewal_scan()
    crm.account("A-1", ago(2), renewal_date=in_days(40))  # a correction of the same renewal
    renewal_scan()
    assert tasks(account) == [task]

    crm.account("A-1", ago(1), renewal_date=in_days(30 + 365))  # renewed: next year's term
    renewal_scan(now=timezone.now() + dt.timedelta(days=310))  # 85 days before it
    assert len(tasks(account)) == 2
    assert RenewalTask.objects.filter(account=account).count() == 2


def test_prospects_and_accounts_without_a_renewal_date_get_no_task(crm):
    renewal_policy("renewal_task")
    _, _, rep = team("MM")
    crm.account("A-P", ago(40), **customer(rep, renewal_date=in_days(10), customer_status="prospect"))
    crm.account("A-N", ago(40), **customer(rep))

    renewal_scan()

    assert not Task.objects.exists()


def test_a_shadow_policy_creates_no_task(crm):
    renewal_policy("renewal_task", mode="shadow")
    _, _, rep = team("MM")
    crm.account("A-1", ago(40), **customer(rep, renewal_date=in_days(10)))

    renewal_scan()

    assert not Task.objects.exists()
