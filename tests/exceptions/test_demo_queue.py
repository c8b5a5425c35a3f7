"""The demo's morning queue: only items the real code opened from the demo's records and configuration; idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from exceptions import roles
from exceptions.models import ExceptionItem, Queue
from exceptions.selectors import visible_items, visible_queues
from handoffs.models import Handoff
from revops.demo import demo_load
from revops.models import SyncFailure
from routing.models import SlaClock

pytestmark = pytest.mark.django_db

# Workflows that are not built yet (or demo automations that do not open items) show nothing.
NOT_PRODUCED = {
    "duplicate_conflict",
    "hygiene_alert",
    "missing_data",
    "automation_failed",
    "review_overdue",
}


def test_demo_queue_holds_only_what_the_real_code_opened_and_is_idempotent():
    demo_load()
    items = ExceptionItem.objects.all()
    total = items.count()
    assert 30 <= total <= 150  # about 125 today: the hygiene and renewal monitors add about 50
    kinds = set(items.values_list("kind", flat=True))
    assert {
        "no_routing_match",
        "account_match",
        "approval_required",
        "sla_breach",
        "sync_rejected",
        "handoff_incomplete",
        "handoff_returned",
        "forecast_hygiene",
    } <= kinds
    assert not kinds & NOT_PRODUCED
    assert not items.filter(reason="").exists() and not items.filter(expected_action="").exists()
    assert not items.filter(due_at__isnull=True).exists()

    # Routing the leads opened its items in the run that decided them.
    for item in items.filter(kind__in=["no_routing_match", "account_match", "routing_review"]):
        assert item.run_id and item.automation.name == "Lead routing" and item.object_type == "lead", item
        assert item.run.object_id == item.object_id
    assert items.filter(kind="routing_review", queue__name="Strategic review").exists()
    # Every breach is a clock that started when its lead arrived and ran past its due time.
    now = timezone.now()
    for item in items.filter(kind="sla_breach"):
        clock = SlaClock.objects.select_related("lead").get(pk=int(item.dedupe_key.rsplit(":", 1)[1]))
        assert clock.status == "breached" and clock.lead_id == item.object_id
        assert clock.started_at < clock.due_at <= clock.breached_at <= now
        assert clock.first_touch_at is None
    # Every refused CRM record was refused by the sync (its failure row is kept); it may not exist here.
    rejected = items.filter(kind="sync_rejected")
    assert rejected.count() == SyncFailure.objects.count()
    assert set(rejected.values_list("external_id", flat=True)) == set(
        SyncFailure.objects.values_list("external_id", flat=True)
    )
    # Won deals (and renewals) without their handoff context wait, each with one open item (not one per
    # field) naming what is missing; the handoff CS sent back is an item for the deal owner's manager.
    waiting = Handoff.objects.filter(status="waiting")
    gaps = items.filter(kind="handoff_incomplete", status="open")
    assert gaps.count() == waiting.count() > 0
    for item in gaps:
        handoff = waiting.get(pk=int(item.dedupe_key.split(":")[1]))
        assert handoff.subject.pk == item.object_id and handoff.subject_type == item.object_type
        assert handoff.renewal_date or handoff.opportunity.stage == "closed_won"
        assert all(m["label"] in item.reason for m in handoff.missing)
        assert item.owner_id is not None and item.queue_id is not None
    returned = items.get(kind="handoff_returned")
    assert Handoff.objects.get(status="rejected").opportunity_id == returned.object_id
    # Approvals were prepared by a real run of the high-risk forecast automation on a CRM update.
    approvals = items.filter(kind="approval_required", decision="")
    assert approvals.count() >= 2
    assert all(a.run_id and a.run.event_id and a.proposal.get("action") for a in approvals)
    # Items about a stored record link to it (a refused CRM record is named by its external id).
    assert not items.exclude(object_type="").exclude(kind="sync_rejected").filter(object_id__isnull=True).exists()

    # Idempotent: loading again opens nothing new.
    assert not demo_load().created
    assert ExceptionItem.objects.count() == total
    assert (
        Queue.objects.filter(name__in=["NA Sales ops", "EMEA Sales ops", "RevOps triage", "Strategic review"]).count()
        == 4
    )


def test_demo_managers_see_their_own_teams_queue():
    demo_load()
    User = get_user_model()
    na, emea = User.objects.get(username="manager.na"), User.objects.get(username="manager.emea")
    for user in (na, emea):
        assert roles.user_role(user) == roles.MANAGER and user.is_staff
        assert user.rep.team.manager_id == user.rep.pk
    assert list(visible_queues(user=na).values_list("name", flat=True)) == ["NA Sales ops"]
    assert list(visible_queues(user=emea).values_list("name", flat=True)) == ["EMEA Sales ops"]
    na_items = visible_items(user=na)
    assert na_items.count() >= 10
    assert not na_items.filter(queue__name="EMEA Sales ops").exists()
    assert na_items.filter(kind="approval_required").exists()


def test_demo_managers_first_next_item_is_the_most_urgent_overdue_item():
    """The acceptance of issue 20: in `make run`, the manager's first "Next item" is the most urgent overdue
    item — after the scheduled escalation has marked the overdue items escalated, as it does in `make run`."""
    from exceptions.services import SEVERITY_RANK, exception_escalate_overdue, exception_next_item

    demo_load()
    assert exception_escalate_overdue() > 0
    na = get_user_model().objects.get(username="manager.na")
    now = timezone.now()
    waiting = visible_items(user=na).filter(status__in=["open", "escalated"], claimed_at__isnull=True)
    overdue = [item for item in waiting if item.due_at is not None and item.due_at < now]
    assert any(item.status == "escalated" for item in overdue)
    most_urgent = min(overdue, key=lambda item: (SEVERITY_RANK[item.severity], item.due_at, item.pk))
    served = exception_next_item(actor=na, queues=visible_queues(user=na))
    assert served.pk == most_urgent.pk and served.owner == na
