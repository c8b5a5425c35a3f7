"""Bulk writes with history: rows written, one history row each with the actor and the reason — on
PostgreSQL (COPY, UPDATE … FROM, INSERT … SELECT) and through simple-history's helpers elsewhere."""

import datetime as dt

import pytest
from django.db import connection

from revops import bulk_writes
from revops.audit import audited
from revops.bulk_writes import bulk_create_audited, bulk_update_audited
from revops.models import Rep, Team
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["postgresql", "orm"])
def backend(request, monkeypatch):
    """Each test twice: the PostgreSQL path, and the ORM fallback SQLite takes."""
    if request.param == "postgresql" and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    if request.param == "orm":
        monkeypatch.setattr(bulk_writes, "_pg", lambda model: None)
    return request.param


def reps(team: Team, count: int = 3) -> list[Rep]:
    return [
        Rep(external_id=f"R-{i}", name=f"Rep {i}", email=f"rep{i}@example.test", team=team, segments=["SMB"])
        for i in range(count)
    ]


def history_of(rep: Rep) -> list[tuple[str, str | None, str]]:
    return [
        (h.history_type, h.history_user.username if h.history_user else None, h.history_change_reason)
        for h in rep.history.order_by("history_id")
    ]


def test_create_stores_the_rows_and_one_history_row_each(backend):
    team = Team.objects.create(external_id="T-1", name="Sales")
    user = UserFactory(username="ops")
    created = bulk_create_audited(model=Rep, objs=reps(team), actor=user, reason="bulk import")
    assert all(rep.pk for rep in created)
    stored = Rep.objects.filter(pk__in=[rep.pk for rep in created]).order_by("external_id")
    assert [(r.name, r.team_id, r.segments, r.time_zone) for r in stored] == [
        (f"Rep {i}", team.pk, ["SMB"], "UTC") for i in range(3)
    ]
    assert all(r.created_at is not None for r in stored)  # auto_now_add, as bulk_create does
    for rep in stored:
        assert history_of(rep) == [("+", "ops", "bulk import")]
        assert rep.history.get().name == rep.name


def test_update_writes_only_the_fields_and_a_history_row_with_the_new_values(backend):
    team = Team.objects.create(external_id="T-1", name="Sales")
    user = UserFactory(username="ops")
    created = bulk_create_audited(model=Rep, objs=reps(team), actor=user, reason="bulk import")
    other = Team.objects.create(external_id="T-2", name="Success")
    for i, rep in enumerate(created):
        rep.name, rep.segments, rep.team = f"Renamed {i}", ["MM", f"#{i}"], other
        rep.title = "not written"  # not in fields
    when = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    updated = bulk_update_audited(
        model=Rep, objs=created, fields=["name", "segments", "team"], actor=user, reason="re-org", date=when
    )
    assert updated == 3
    for i, rep in enumerate(Rep.objects.filter(pk__in=[r.pk for r in created]).order_by("external_id")):
        assert (rep.name, rep.segments, rep.team_id, rep.title) == (f"Renamed {i}", ["MM", f"#{i}"], other.pk, "")
        assert history_of(rep) == [("+", "ops", "bulk import"), ("~", "ops", "re-org")]
        latest = rep.history.order_by("-history_id").first()
        assert (latest.name, latest.segments, latest.team_id, latest.history_date) == (
            f"Renamed {i}",
            ["MM", f"#{i}"],
            other.pk,
            when,
        )
    assert Rep.objects.filter(team=team).count() == 0


def test_actor_and_reason_default_to_the_audited_block(backend):
    team = Team.objects.create(external_id="T-1", name="Sales")
    bot = UserFactory(username="automation")
    with audited(actor=bot, reason="nightly sync"):
        created = bulk_create_audited(model=Rep, objs=reps(team, 1))
        created[0].name = "Changed"
        bulk_update_audited(model=Rep, objs=created, fields=["name"])
    assert history_of(created[0]) == [("+", "automation", "nightly sync"), ("~", "automation", "nightly sync")]


def test_nothing_to_write_writes_nothing(backend, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert bulk_create_audited(model=Rep, objs=[], actor=None, reason="x") == []
        assert bulk_update_audited(model=Rep, objs=[], fields=["name"], actor=None, reason="x") == 0


def test_update_rows_writes_the_values_without_instances_and_a_history_row_each(backend):
    team = Team.objects.create(external_id="T-1", name="Sales")
    other = Team.objects.create(external_id="T-2", name="Success")
    user = UserFactory(username="ops")
    created = bulk_create_audited(model=Rep, objs=reps(team), actor=user, reason="bulk import")
    when = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    rows = {rep.pk: {"name": f"Renamed {i}", "segments": ["MM"], "team_id": other.pk} for i, rep in enumerate(created)}
    updated = bulk_writes.bulk_update_rows_audited(
        model=Rep, rows=rows, fields=["name", "segments", "team"], actor=user, reason="re-org", date=when
    )
    assert updated == 3
    for i, rep in enumerate(Rep.objects.filter(pk__in=rows).order_by("external_id")):
        assert (rep.name, rep.segments, rep.team_id, rep.email) == (
            f"Renamed {i}",
            ["MM"],
            other.pk,
            f"rep{i}@example.test",
        )
        assert history_of(rep) == [("+", "ops", "bulk import"), ("~", "ops", "re-org")]
        latest = rep.history.order_by("-history_id").first()
        assert (latest.name, latest.team_id, latest.email, latest.history_date) == (
            f"Renamed {i}",
            other.pk,
            f"rep{i}@example.test",
            when,
        )


def test_update_rows_takes_the_audited_block_and_writes_nothing_for_no_rows(backend, django_assert_num_queries):
    team = Team.objects.create(external_id="T-1", name="Sales")
    bot = UserFactory(username="automation")
    with audited(actor=bot, reason="nightly sync"):
        rep = bulk_create_audited(model=Rep, objs=reps(team, 1))[0]
        bulk_writes.bulk_update_rows_audited(model=Rep, rows={rep.pk: {"name": "Changed"}}, fields=["name"])
    rep.refresh_from_db()
    assert rep.name == "Changed"
    assert history_of(rep) == [("+", "automation", "nightly sync"), ("~", "automation", "nightly sync")]
    with django_assert_num_queries(0):
        assert bulk_writes.bulk_update_rows_audited(model=Rep, rows={}, fields=["name"]) == 0
