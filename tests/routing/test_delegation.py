"""Pool managers and queue managers run what RevOps delegated to them, and nothing else: a pool
manager changes caps, weights and their reps' out of office (audited, versioned, and honoured by the
next pick); a queue's manager changes its escalation; another manager gets a 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exceptions.models import Queue
from revops.access import ADMIN, MANAGER
from revops.models import ObjectVersion, OutboxEvent, Rep
from revops.people import set_role
from revops.values import datetime_text
from routing.delegation import MemberChange, pool_delegated_update
from routing.models import Pool, PoolMember
from routing.pools import pool_pick
from tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool_world():
    team = TeamFactory(name="Inbound East")
    ana, ben = RepFactory(name="Ana Ruiz", team=team), RepFactory(name="Ben Okafor", team=team)
    outsider = RepFactory(name="Cy Other")
    pool = Pool.objects.create(name="East inbound", strategy=Pool.Strategy.WEIGHTED)
    rows = [PoolMember.objects.create(pool=pool, rep=rep, position=i) for i, rep in enumerate((ana, ben))]
    lead = UserFactory(username="lena.lead", email="lena@example.com")
    set_role(lead, MANAGER)
    pool.managers.add(lead)
    other = UserFactory(username="omar.other")
    set_role(other, MANAGER)
    return {"pool": pool, "ana": ana, "ben": ben, "outsider": outsider, "rows": rows, "lead": lead, "other": other}


def _same(row: PoolMember, **changes) -> MemberChange:
    values = {"weight": row.weight, "max_open_leads": row.max_open_leads, "max_per_day": row.max_per_day}
    return MemberChange(**{**values, "is_active": row.is_active, **changes})


def test_a_pool_manager_changes_weights_caps_and_out_of_office_audited(pool_world):
    w = pool_world
    pool, ana_row, ben_row = w["pool"], *w["rows"]
    back = timezone.now() + dt.timedelta(days=3)
    events_before = OutboxEvent.objects.count()
    changes = pool_delegated_update(
        pool=pool,
        max_open_leads=20,
        max_per_day=None,
        members={ana_row.pk: _same(ana_row, weight=3), ben_row.pk: _same(ben_row, max_per_day=5)},
        away={w["ben"].pk: back},
        actor=w["lead"],
    )
    assert changes == [
        "pool caps: ≤ 20 open",
        "Ana Ruiz: weight 1 → 3",
        "Ben Okafor: caps no cap → ≤ 5/day",
        f"Ben Okafor: out of office until {datetime_text(back)}",
    ]
    ana_row.refresh_from_db()
    assert ana_row.weight == 3 and ana_row.history.latest().history_user == w["lead"]
    assert Rep.objects.get(pk=w["ben"].pk).history.latest().history_user == w["lead"]
    assert OutboxEvent.objects.count() == events_before + 1  # the rep's change reaches the automations
    version = ObjectVersion.objects.filter(object_id=str(pool.pk)).order_by("-pk").first()
    assert version is not None and version.created_by == w["lead"]
    # The next pick honours it: Ben is away, Ana takes the lead.
    with timezone.override(dt.UTC):
        pick = pool_pick(pool.pk, now=timezone.now(), lock=False)
    assert pick.rep_id == w["ana"].pk
    assert (
        pool_delegated_update(
            pool=pool,
            max_open_leads=20,
            max_per_day=None,
            members={},
            away={w["ben"].pk: Rep.objects.get(pk=w["ben"].pk).out_of_office_until},
            actor=w["lead"],
        )
        == []
    )


def test_only_what_was_delegated_and_only_to_who_was_named(pool_world):
    w = pool_world
    pool, ana_row, _ = w["pool"], *w["rows"]
    common = {"pool": pool, "max_open_leads": None, "max_per_day": None, "members": {}, "away": {}}
    with pytest.raises(ValidationError, match="do not manage"):
        pool_delegated_update(**common, actor=w["other"])
    with pytest.raises(ValidationError, match="Only the reps of East inbound"):
        pool_delegated_update(**{**common, "away": {w["outsider"].pk: None}}, actor=w["lead"])
    stranger = PoolMember.objects.create(pool=Pool.objects.create(name="West"), rep=w["outsider"])
    with pytest.raises(ValidationError, match="Not members"):
        pool_delegated_update(**{**common, "members": {stranger.pk: _same(stranger)}}, actor=w["lead"])
    with pytest.raises(ValidationError):
        pool_delegated_update(**{**common, "members": {ana_row.pk: _same(ana_row, weight=0)}}, actor=w["lead"])
    ana_row.refresh_from_db()
    assert ana_row.weight == 1


def test_the_manage_page_as_the_pool_manager_and_as_another_manager(pool_world):
    w = pool_world
    pool, ana_row, ben_row = w["pool"], *w["rows"]
    url = reverse("admin:routing_pool_manage", args=[pool.pk])
    client = Client()
    client.force_login(w["lead"])
    listing = client.get(reverse("admin:routing_pool_changelist")).content.decode()
    assert "East inbound" in listing
    Pool.objects.create(name="Hidden pool")
    assert "Hidden pool" not in client.get(reverse("admin:routing_pool_changelist")).content.decode()
    assert "Manage the pool" in client.get(reverse("admin:routing_pool_change", args=[pool.pk])).content.decode()
    page = client.get(url)
    assert page.status_code == 200 and "Ana Ruiz" in page.content.decode()
    form = {
        "max_open_leads": "",
        "max_per_day": "",
        f"weight-{ana_row.pk}": "1",
        f"weight-{ben_row.pk}": "4",
        f"active-{ana_row.pk}": "on",
        f"active-{ben_row.pk}": "on",
        f"away-{w['ana'].pk}": "2026-12-24T18:00",
        f"away-{w['ben'].pk}": "",
    }
    saved = client.post(url, form, follow=True)
    assert "Saved: Ben Okafor: weight 1 → 4; Ana Ruiz: out of office until" in saved.content.decode()
    assert PoolMember.objects.get(pk=ben_row.pk).weight == 4
    assert Rep.objects.get(pk=w["ana"].pk).out_of_office_until is not None
    refused = client.post(url, {**form, f"weight-{ben_row.pk}": "500"})
    assert "is not a whole number 1–100" in refused.content.decode()
    assert PoolMember.objects.get(pk=ben_row.pk).weight == 4

    other = Client()
    other.force_login(w["other"])
    assert other.get(url).status_code == 404
    assert other.post(url, form).status_code == 404
    assert "East inbound" not in other.get(reverse("admin:routing_pool_changelist")).content.decode()


def test_a_queues_manager_changes_its_escalation_but_nothing_else():
    boss = UserFactory(username="quinn")
    set_role(boss, MANAGER)
    director = UserFactory(username="dora")
    set_role(director, ADMIN)  # a queue's manager escalates to RevOps or to their own teams' people
    UserFactory(username="sam.stranger")  # neither RevOps nor on their teams
    team = TeamFactory(name="Queue team")
    RepFactory(team=team, user=boss, email="quinn@example.com")
    team.manager = boss.rep
    team.save()
    queue = Queue.objects.create(name="East queue", team=team, manager=boss)
    client = Client()
    client.force_login(boss)
    url = reverse("admin:exceptions_queue_change", args=[queue.pk])
    page = client.get(url).content.decode()
    assert 'name="escalation_target"' in page and 'name="name"' not in page
    assert "dora" in page and "sam.stranger" not in page
    answer = client.post(
        url,
        {
            "name": "Renamed",
            "description": "East's items",
            "escalation_target": director.pk,
            "due_hours_critical": 2,
            "due_hours_high": 12,
            "due_hours_medium": 48,
            "due_hours_low": 120,
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    queue.refresh_from_db()
    assert (queue.name, queue.escalation_target, queue.due_hours_critical) == ("East queue", director, 2)
    assert queue.history.latest().history_user == boss
    # Reverting to an old version restores every field: not for a delegated manager.
    first = queue.history.earliest()
    revert = reverse("admin:exceptions_queue_simple_history", args=[queue.pk, first.history_id])
    assert client.post(revert, {"description": "", "due_hours_critical": 4}).status_code == 403
    other = UserFactory(username="olga")
    set_role(other, MANAGER)
    client.force_login(other)
    assert client.post(url, {"escalation_target": other.pk}).status_code in (302, 403, 404)
    queue.refresh_from_db()
    assert queue.escalation_target == director


def test_a_pool_manager_adds_reps_of_their_teams_and_removes_members(pool_world):
    w = pool_world
    pool, _ana_row, ben_row = w["pool"], *w["rows"]
    team = w["ana"].team
    team.manager = RepFactory(name="Lena Lead", team=team, user=w["lead"])
    team.save()
    newcomer = RepFactory(name="Nia New", team=team)
    common = {"pool": pool, "max_open_leads": None, "max_per_day": None, "members": {}, "away": {}}
    with pytest.raises(ValidationError, match="active reps of your own teams"):
        pool_delegated_update(**common, add_rep_ids=[w["outsider"].pk], actor=w["lead"])
    changes = pool_delegated_update(
        **common, add_rep_ids=[newcomer.pk], remove_member_ids=[ben_row.pk], actor=w["lead"]
    )
    assert changes == ["Ben Okafor: removed from the pool", "Nia New: added to the pool (weight 1)"]
    assert list(pool.members.order_by("position").values_list("rep__name", flat=True)) == ["Ana Ruiz", "Nia New"]
    assert PoolMember.history.filter(rep=w["ben"], history_type="-").get().history_user == w["lead"]
    # On the page: the add list offers the team's reps who are not members yet.
    client = Client()
    client.force_login(w["lead"])
    page = client.get(reverse("admin:routing_pool_manage", args=[pool.pk])).content.decode()
    assert "Ben Okafor" in page.split('name="add_rep"')[1] and "Cy Other" not in page
