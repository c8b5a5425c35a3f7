"""Row scoping of the read API for browser sessions: a rep reads their own records, a manager their
teams' (sub-teams included), RevOps admins and integration tokens everything; another's record is a 404."""

import pytest
from rest_framework.test import APIClient

from exceptions import roles
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    RepFactory,
    TaskFactory,
    TeamFactory,
    UserFactory,
)
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]

OBJECTS = ("teams", "reps", "accounts", "leads", "contacts", "opportunities", "activities", "tasks")


def login(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def person(username, role, team):
    user = UserFactory(username=username)
    roles.assign_role(user, role)
    return user, RepFactory(user=user, team=team, name=username, email=f"{username}@acme.test")


@pytest.fixture
def world():
    """Team A (sub-team A1) managed by manager_a; team B with rep_b. Each rep owns one of everything."""
    roles.ensure_roles()
    team_a, team_b = TeamFactory(name="A"), TeamFactory(name="B")
    team_a1 = TeamFactory(name="A1", parent=team_a)
    manager, manager_rep = person("manager_a", roles.MANAGER, team_a)
    team_a.manager = manager_rep
    team_a.save()
    rep_a, rep_a_rep = person("rep_a", roles.REP, team_a1)
    rep_a2_rep = RepFactory(team=team_a1, name="rep_a2")
    rep_b, rep_b_rep = person("rep_b", roles.REP, team_b)
    owned = {}
    for rep in (rep_a_rep, rep_a2_rep, rep_b_rep):
        account = AccountFactory(owner=rep)
        lead = LeadFactory(owner=rep)
        opp = OpportunityFactory(owner=rep, account=account)
        owned[rep.name] = {
            "accounts": account.external_id,
            "leads": lead.external_id,
            "opportunities": opp.external_id,
            # An activity logged by nobody on the rep's lead, a task on their opportunity owned by nobody:
            # both belong to the rep through the record they are about.
            "activities": ActivityFactory(rep=None, lead=lead).external_id,
            "tasks": str(TaskFactory(owner=None, opportunity=opp).pk),
            "reps": rep.external_id,
            # A contact without an owner of its own: the rep's through the account they own.
            "contacts": ContactFactory(account=account, owner=None).external_id,
        }
    admin = UserFactory(username="ops")
    roles.assign_role(admin, roles.ADMIN)
    staff = UserFactory(username="norole", is_staff=True)
    return {
        "users": {"manager_a": manager, "rep_a": rep_a, "rep_b": rep_b, "ops": admin, "norole": staff},
        "owned": owned,
        "teams": {"A": team_a.external_id, "A1": team_a1.external_id, "B": team_b.external_id},
        "manager_rep": manager_rep.external_id,
    }


def keys(response, object_type):
    assert response.status_code == 200, response.content
    field = "id" if object_type == "tasks" else "external_id"
    return {str(row[field]) for row in response.json()["results"]}


def owned_by(world, names, object_type):
    return {world["owned"][name][object_type] for name in names}


@pytest.mark.parametrize("object_type", [o for o in OBJECTS if o != "teams"])
def test_a_rep_reads_only_their_own_records(world, object_type):
    client = login(world["users"]["rep_a"])
    assert keys(client.get(f"/api/v1/{object_type}/"), object_type) == owned_by(world, ["rep_a"], object_type)
    other = world["owned"]["rep_a2"][object_type]  # a teammate's record: still not theirs
    assert client.get(f"/api/v1/{object_type}/{other}/").status_code == 404
    mine = world["owned"]["rep_a"][object_type]
    assert client.get(f"/api/v1/{object_type}/{mine}/").status_code == 200


@pytest.mark.parametrize("object_type", [o for o in OBJECTS if o != "teams"])
def test_a_manager_reads_their_teams_records_sub_teams_included(world, object_type):
    client = login(world["users"]["manager_a"])
    expected = owned_by(world, ["rep_a", "rep_a2"], object_type)
    if object_type == "reps":
        expected.add(world["manager_rep"])
    assert keys(client.get(f"/api/v1/{object_type}/"), object_type) == expected
    other_team = world["owned"]["rep_b"][object_type]
    assert client.get(f"/api/v1/{object_type}/{other_team}/").status_code == 404


def test_teams_in_reach(world):
    teams = world["teams"]
    assert keys(login(world["users"]["rep_a"]).get("/api/v1/teams/"), "teams") == {teams["A1"]}
    assert keys(login(world["users"]["manager_a"]).get("/api/v1/teams/"), "teams") == {teams["A"], teams["A1"]}
    assert login(world["users"]["manager_a"]).get(f"/api/v1/teams/{teams['B']}/").status_code == 404


@pytest.mark.parametrize("object_type", OBJECTS)
def test_admins_and_read_tokens_read_everything(world, object_type):
    for client in (login(world["users"]["ops"]), token_client("read")):
        listed = keys(client.get(f"/api/v1/{object_type}/"), object_type)
        if object_type != "teams":
            assert owned_by(world, ["rep_a", "rep_a2", "rep_b"], object_type) <= listed


def test_filters_cannot_reach_records_out_of_reach(world):
    client = login(world["users"]["rep_a"])
    for params in ({"owner": world["owned"]["rep_b"]["reps"]}, {"external_id": world["owned"]["rep_b"]["leads"]}):
        response = client.get("/api/v1/leads/", params)
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            assert world["owned"]["rep_b"]["leads"] not in keys(response, "leads")


def test_a_staff_login_without_a_role_reads_nothing(world):
    response = login(world["users"]["norole"]).get("/api/v1/leads/")
    assert response.status_code == 403


def test_the_changes_feed_is_for_tokens_and_revops_admins(world):
    for name in ("rep_a", "manager_a"):
        response = login(world["users"][name]).get("/api/v1/changes/")
        assert response.status_code == 403
        assert "RevOps admins" in response.json()["detail"]
    assert login(world["users"]["ops"]).get("/api/v1/changes/").status_code == 200
    assert token_client("read").get("/api/v1/changes/").status_code == 200
