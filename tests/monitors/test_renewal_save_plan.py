"""Save plans: a task for the owner of a red account, once while it stays red; a new red spell gets a new one."""

import pytest

from monitors.models import RenewalTask
from monitors.renewal_scan import renewal_scan
from revops.models import Account, ChangeEntry, Task
from revops.services import record_save
from tests.factories import UserFactory

from .renewal_support import Crm, account_fields, ago, customer, renewal_policy, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(client):
    account_fields()
    return Crm(client)


def test_a_red_account_gets_one_save_plan_per_red_spell(crm):
    _, _, rep = team("MM")
    renewal_policy("save_plan", threshold=40, due_in_days=7)
    crm.account("A-1", ago(40), **customer(rep, health_score=25))
    crm.account("A-OK", ago(40), **customer(rep, health_score=75))
    account = Account.objects.get(external_id="A-1")

    renewal_scan()
    renewal_scan()

    (task,) = Task.objects.filter(account=account)
    assert task.title == "Save plan for Acme Corp" and task.owner == rep
    assert task.description.startswith("Health score 25: red (below 40).")
    assert not Task.objects.filter(account__external_id="A-OK").exists()
    assert ChangeEntry.objects.filter(kind=ChangeEntry.Kind.TASK_CREATED, payload__task_id=task.pk).count() == 1

    task.status = Task.Status.DONE
    record_save(instance=task, actor=UserFactory(), reason="plan written")
    crm.account("A-1", ago(20), health_score=20)  # still red: no second plan
    assert Task.objects.filter(account=account).count() == 1

    crm.account("A-1", ago(10), health_score=60)  # out of red: the spell ends
    spell = RenewalTask.objects.get(account=account)
    assert spell.ended_at is not None and "not red" in spell.end_reason

    crm.account("A-1", ago(1), health_score=30)  # red again: a new spell, a new plan
    assert Task.objects.filter(account=account).count() == 2
    assert RenewalTask.objects.filter(account=account, ended_at__isnull=True).count() == 1


def test_a_paused_policy_creates_nothing(crm):
    _, _, rep = team("MM")
    renewal_policy("save_plan", mode="paused")
    crm.account("A-1", ago(40), **customer(rep, health_score=25))

    renewal_scan()

    assert not Task.objects.exists()
