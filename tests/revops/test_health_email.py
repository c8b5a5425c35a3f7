"""The weekly e-mail to RevOps admins (locmem backend): its content and links, once per week per
person, the per-recipient rate limit, and who gets it."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from exceptions.models import ExceptionItem, Notification
from exceptions.roles import ADMIN, MANAGER, assign_role
from revops.engine.health_email import weekly_key, weekly_revops_email_send
from revops.engine.health_review import ITEM_KIND, automation_health_review
from revops.metrics.rollup import metrics_rollup
from revops.models import Automation
from tests.exceptions.support import make_queue
from tests.factories import LeadFactory, UserFactory
from tests.revops.automation_support import make_automation, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(settings):
    settings.TIME_ZONE = "Europe/Paris"
    settings.PORTAL_BASE_URL = "https://revops.example.com"
    settings.EXCEPTION_NOTIFY_MAX_PER_HOUR = 2
    now = timezone.now()
    owner = UserFactory(username="olga.owner", first_name="Olga", last_name="Owner")
    make_queue("RevOps triage")
    automation = make_automation(rule_owner=owner, failure_owner=owner, exception_queue="RevOps triage")
    Automation.objects.filter(pk=automation.pk).update(mode="live", created_at=now - dt.timedelta(days=200))
    lead = LeadFactory()
    three_days_ago = now - dt.timedelta(days=3)
    for n, outcome in enumerate(["not_fired", "not_fired", "error"]):
        make_run(automation, lead, key=f"r{n}", outcome=outcome, when=three_days_ago)
    metrics_rollup(now=now, full=True)
    automation_health_review(rollup=False)
    admin = UserFactory(username="rita.revops", email="rita@example.com", first_name="Rita")
    assign_role(admin, ADMIN)
    return now, automation, admin


def test_the_weekly_email_has_the_headlines_the_suggestions_and_links(week):
    now, automation, admin = week
    manager = UserFactory(username="mo.manager", email="mo@example.com")
    assign_role(manager, MANAGER)
    UserFactory(username="root", email="root@example.com", is_superuser=True, is_staff=True)
    done = weekly_revops_email_send(now=now)
    assert done == {"sent": 2}
    assert sorted(m.to[0] for m in mail.outbox) == ["rita@example.com", "root@example.com"]  # not the manager
    message = next(m for m in mail.outbox if m.to == ["rita@example.com"])
    end = timezone.localdate(now) - dt.timedelta(days=1)
    assert message.subject.startswith("RevOps weekly, ")
    assert message.subject.endswith(": 1 automation health suggestion open")
    body = message.body
    assert body.startswith("Hello Rita,")
    assert "Error rate: 33.3 %" in body
    assert "Automation health: 1 retire\n" in body
    assert "Consider retiring Hot lead follow-up: no fires in 90 days (owner Olga Owner" in body
    suggestion = ExceptionItem.objects.get(kind=ITEM_KIND)
    assert f"https://revops.example.com/admin/exceptions/exceptionitem/{suggestion.pk}/change/" in body
    assert f"https://revops.example.com/admin/revops/automation/{automation.pk}/health/" in body
    assert "https://revops.example.com/admin/revops/automation/health-review/" in body
    assert f"https://revops.example.com/admin/dashboard/?start={end - dt.timedelta(days=6):%Y-%m-%d}" in body
    assert "CET" in body or "CEST" in body  # local time with the zone's name
    html = message.alternatives[0][0]
    assert "Consider retiring Hot lead follow-up" in html
    assert Notification.objects.get(recipient=admin).key == weekly_key(end)


def test_once_per_week_per_person(week):
    now, _, admin = week
    assert weekly_revops_email_send(now=now) == {"sent": 1}
    later = now + dt.timedelta(hours=2)
    if timezone.localdate(later) != timezone.localdate(now):  # past midnight in Paris: a Monday's starts a new week
        later = now - dt.timedelta(hours=2)
    assert weekly_revops_email_send(now=later) == {}
    assert len(mail.outbox) == 1


def test_rate_limited_like_every_notification(week):
    now, _, admin = week
    for n in range(2):
        Notification.objects.create(recipient=admin, key=f"item:{n}:critical", reason="critical", status="sent")
    assert weekly_revops_email_send(now=timezone.now()) == {"rate_limited": 1}
    assert mail.outbox == []
    assert Notification.objects.get(recipient=admin, reason="weekly_revops").status == "rate_limited"


def test_no_address(week):
    now, _, admin = week
    admin.email = ""
    admin.save()
    assert weekly_revops_email_send(now=now) == {"no_address": 1}
    assert mail.outbox == []
