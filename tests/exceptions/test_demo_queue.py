"""The demo's morning queue: a few dozen realistic items, managers who see their team's queue, idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from exceptions import roles
from exceptions.demo import demo_exception_queue_ensure
from exceptions.models import ExceptionItem, Queue
from exceptions.selectors import visible_items, visible_queues
from revops.demo import demo_load

pytestmark = pytest.mark.django_db


def test_demo_morning_queue_is_realistic_and_idempotent():
    demo_load()
    items = ExceptionItem.objects.all()
    total = items.count()
    assert 30 <= total <= 120  # the seeded morning queue plus what routing the new leads at arrival opened
    kinds = set(items.values_list("kind", flat=True))
    assert len(kinds) >= 8
    assert {"no_routing_match", "account_match", "approval_required", "sla_breach", "sync_rejected"} <= kinds
    assert items.filter(status__in=ExceptionItem.OPEN_STATUSES, due_at__lt=timezone.now()).count() >= 5
    approvals = items.filter(kind="approval_required", decision="")
    assert approvals.count() >= 2
    assert all(a.run_id and a.proposal.get("action") for a in approvals)  # prepared by a real run
    assert not items.filter(reason="").exists() and not items.filter(expected_action="").exists()
    assert items.exclude(object_type="").filter(object_id__isnull=True).count() == 0

    # Idempotent: loading again (or calling the builder again) opens nothing new.
    demo_load()
    assert demo_exception_queue_ensure() == {"items": 0, "approvals": 0}
    assert ExceptionItem.objects.count() == total
    assert Queue.objects.filter(name__in=["NA Sales ops", "EMEA Sales ops", "RevOps triage"]).count() == 3


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
