"""Risk tiers with real controls: a medium-risk automation goes live only after a shadow period of its
current rule (days and runs) whose comparable actions agree with what people did; low risk goes live
at once; high risk needs an approval for every action (tested with the approvals)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from revops.engine.services import automation_set_mode, shadow_period_gaps
from revops.models import AutomationRun, AutomationVersion
from tests.factories import LeadFactory, UserFactory
from tests.revops.test_engine import make

pytestmark = pytest.mark.django_db


def shadow_runs(auto, n, *, days_ago):
    version = AutomationVersion.objects.get(automation=auto, number=auto.version)
    AutomationVersion.objects.filter(pk=version.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    lead = LeadFactory()
    for i in range(n):
        run = AutomationRun.objects.create(
            automation=auto,
            version=version,
            trigger_key=f"s{i}",
            mode="shadow",
            object_type="lead",
            object_id=lead.pk,
            outcome="fired",
        )
        AutomationRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - dt.timedelta(days=days_ago))


def test_medium_risk_goes_live_after_its_shadow_period(settings):
    settings.AUTOMATION_SHADOW_DAYS, settings.AUTOMATION_SHADOW_MIN_RUNS = 7, 20
    auto = make("Stalled deal nudge", risk="medium", mode="shadow")
    boss = UserFactory()
    with pytest.raises(ValidationError) as exc:
        automation_set_mode(automation=auto, mode="live", actor=boss)
    message = exc.value.message_dict["mode"][0]
    assert "ran in shadow for 0 of the 7 days needed" in message and "0 of the 20 shadow runs needed" in message
    shadow_runs(auto, 25, days_ago=3)
    auto.refresh_from_db()
    assert shadow_period_gaps(auto) == ["its current rule ran in shadow for 3 of the 7 days needed"]
    AutomationRun.objects.filter(automation=auto).update(created_at=timezone.now() - dt.timedelta(days=8))
    assert shadow_period_gaps(auto) == []
    automation_set_mode(automation=auto, mode="live", actor=boss)
    auto.refresh_from_db()
    assert auto.mode == "live"


def test_low_risk_goes_live_at_once_and_a_new_medium_risk_one_cannot_start_live():
    make("Hot lead follow-up", risk="low", mode="live")
    with pytest.raises(ValidationError, match="has not run in shadow yet"):
        make("Stalled deal nudge", risk="medium", mode="live")
