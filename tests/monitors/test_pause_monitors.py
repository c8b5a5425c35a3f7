"""Kill switches and the monitors' scans: a paused policy does not run; pausing all leaves the scans' results as they are."""

import pytest

from monitors.renewal_scan import renewal_scan
from revops.engine.pause import automation_pause, automation_resume, automations_pause_all, automations_resume_all
from revops.models import Task

from .renewal_support import Crm, account_fields, ago, customer, renewal_policy, team

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(client):
    account_fields()
    return Crm(client)


def test_a_paused_renewal_policy_does_not_run_until_resumed(crm):
    _, _, rep = team("MM")
    policy = renewal_policy("save_plan", threshold=40, due_in_days=7)
    automation_pause(automation=policy, actor=None, reason="Too many save plans")
    crm.account("A-1", ago(40), **customer(rep, health_score=25))
    renewal_scan()
    assert not Task.objects.exists()
    automation_resume(automation=policy, actor=None, reason="Threshold fixed", held="skip")
    renewal_scan()
    assert Task.objects.count() == 1


def test_pause_all_skips_the_scans(crm):
    _, _, rep = team("MM")
    renewal_policy("save_plan", threshold=40, due_in_days=7)
    automations_pause_all(actor=None, reason="Incident")
    crm.account("A-1", ago(40), **customer(rep, health_score=25))
    assert renewal_scan() == {"skipped_all_paused": 1}
    assert not Task.objects.exists()
    automations_resume_all(actor=None, reason="Over", held="skip")
    renewal_scan()
    assert Task.objects.count() == 1
