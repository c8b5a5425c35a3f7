"""Authorisation matrix: every API endpoint and admin page for exception items × role × own/other team's item.

An item a role may not see answers 404 (or the admin's "doesn't exist"), never 403 — a 403 would confirm
it exists. A missing scope is a 403: it says something about the token, nothing about an item.
Managers cannot change rules (automations, the data dictionary) in the admin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework.test import APIClient

from exceptions import roles
from exceptions.models import ExceptionItem, Queue
from tests.factories import RepFactory, TeamFactory, UserFactory
from tests.revops.api_support import token_client

SESSION_ROLES = ("superuser", "revops_admin", "manager_a", "manager_b", "rep_owner", "rep_other")
TOKEN_ROLES = {"token_write": ("exceptions:write",), "token_read": ("read",), "token_sync": ("sync:write",)}
ROLES = (*SESSION_ROLES, *TOKEN_ROLES, "anonymous")

# Which of the two items ("a": team A's queue, "b": team B's) each role can see.
VISIBLE = {
    "superuser": {"a", "b"},
    "revops_admin": {"a", "b"},
    "manager_a": {"a"},
    "manager_b": {"b"},
    "rep_owner": {"a"},
    "rep_other": set(),
    "token_write": {"a", "b"},
    "token_read": {"a", "b"},
    "token_sync": {"a", "b"},
    "anonymous": set(),
}
SCOPES = {
    **{role: {"read", "exceptions:write"} for role in SESSION_ROLES},
    **{role: set(scopes) for role, scopes in TOKEN_ROLES.items()},
    "anonymous": set(),
}
REP_FORBIDDEN_ACTIONS = {"assign", "approve", "reject", "override"}


@dataclass
class World:
    users: dict = field(default_factory=dict)
    items: dict = field(default_factory=dict)
    queues: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        """An API client acting as ``role`` (signed in, with a token, or anonymous)."""
        if role not in self.clients:
            if role in TOKEN_ROLES:
                client = token_client(*TOKEN_ROLES[role], name=role)
            else:
                client = APIClient()
                if role != "anonymous":
                    client.force_login(self.users[role])
            self.clients[role] = client
        return self.clients[role]


def user_with_role(username: str, role: str, *, rep_team=None):
    """A staff user in ``role``'s group; with ``rep_team``, linked to a CRM rep on that team."""
    user = UserFactory(username=username)
    roles.assign_role(user, role)
    if rep_team is not None:
        RepFactory(user=user, team=rep_team, email=f"{username}@acme.test")
    return user


def make_item(queue, *, owner=None, key: str, **fields) -> ExceptionItem:
    values = {
        "kind": "missing_data",
        "title": f"Item {key}",
        "reason": "Country is missing.",
        "expected_action": "Fill in the country.",
        "dedupe_key": key,
        "queue": queue,
        "queue_name": queue.name if queue else "",
        "owner": owner,
        **fields,
    }
    return ExceptionItem.objects.create(**values)


def build_world() -> World:
    """Team A (with sub-team A1, whose queue is A's manager's too) and team B, one item each.

    Team A's manager is a user through their CRM rep (``Rep.user`` managing ``Team``), not named
    on the queue, so the test covers team-tree visibility; team B's manager is named on the queue.
    """
    roles.ensure_roles()
    world = World()
    team_a, team_b = TeamFactory(name="Team A"), TeamFactory(name="Team B")
    team_a1 = TeamFactory(name="Team A1", parent=team_a)
    users = world.users
    users["superuser"] = UserFactory(username="root", is_staff=True, is_superuser=True)
    users["revops_admin"] = user_with_role("ops", roles.ADMIN)
    users["manager_a"] = user_with_role("manager_a", roles.MANAGER, rep_team=team_a)
    team_a.manager = users["manager_a"].rep
    team_a.save()
    users["manager_b"] = user_with_role("manager_b", roles.MANAGER, rep_team=team_b)
    users["rep_owner"] = user_with_role("rep_a", roles.REP, rep_team=team_a1)
    users["rep_other"] = user_with_role("rep_a2", roles.REP, rep_team=team_a1)
    users["rep_b"] = user_with_role("rep_b", roles.REP, rep_team=team_b)
    world.queues["a"] = Queue.objects.create(name="Team A1 triage", team=team_a1)
    world.queues["b"] = Queue.objects.create(
        name="Team B triage",
        team=team_b,
        manager=users["manager_b"],
        # someone above the manager: an escalation never goes to the person escalating
        escalation_target=UserFactory(username="director_b"),
    )
    world.items["a"] = make_item(world.queues["a"], owner=users["rep_owner"], key="item-a")
    world.items["b"] = make_item(world.queues["b"], owner=users["rep_b"], key="item-b")
    return world


# --- the matrix -----------------------------------------------------------------------------------

import datetime as dt  # noqa: E402

import pytest  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from revops.models import FieldDefinition  # noqa: E402
from tests.revops.automation_support import make_automation  # noqa: E402

pytestmark = pytest.mark.django_db

ACTION_BODIES = {
    "claim": {},
    "assign": {"owner": "rep_a"},
    "resolve": {"reason_code": "fixed_in_crm", "note": "Done."},
    "dismiss": {"reason": "Not a real problem."},
    "snooze": {"until": None},  # filled in per test (a time in the future)
    "escalate": {"reason": "Needs the manager."},
    "approve": {},
    "reject": {"reason": "No."},
    "override": {"params": {"owner": "R1"}},
}


@pytest.fixture
def world(db):
    return build_world()


def body_for(action):
    body = dict(ACTION_BODIES[action])
    if "until" in body:
        body["until"] = (timezone.now() + dt.timedelta(days=1)).isoformat()
    return body


def expected_status(role, which, *, scope, action=None):
    """What the API must answer: 401 anonymous, 403 missing scope, 404 invisible, 403 role, else None."""
    if role == "anonymous":
        return 401
    if scope not in SCOPES[role]:
        return 403
    if which not in VISIBLE[role]:
        return 404
    if action in REP_FORBIDDEN_ACTIONS and role in ("rep_owner", "rep_other"):
        return 403  # the rep sees the item (their own), so refusing the action reveals nothing
    return None


@pytest.mark.parametrize("which", ["a", "b"])
@pytest.mark.parametrize("role", ROLES)
def test_api_detail(world, role, which):
    item = world.items[which]
    response = world.client(role).get(f"/api/v1/exceptions/{item.pk}/")
    expected = expected_status(role, which, scope="read")
    assert response.status_code == (expected or 200), response.content
    if expected is None:
        assert response.json()["id"] == item.pk


@pytest.mark.parametrize("role", ROLES)
def test_api_list_shows_only_visible_items(world, role):
    response = world.client(role).get("/api/v1/exceptions/")
    expected = expected_status(role, "a", scope="read")
    if expected in (401, 403):
        assert response.status_code == expected
        return
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {world.items[which].pk for which in VISIBLE[role]}


@pytest.mark.parametrize("action", list(ACTION_BODIES))
@pytest.mark.parametrize("which", ["a", "b"])
@pytest.mark.parametrize("role", ROLES)
def test_api_action(world, role, which, action):
    item = world.items[which]
    before = ExceptionItem.objects.get(pk=item.pk)
    response = world.client(role).post(f"/api/v1/exceptions/{item.pk}/{action}/", body_for(action), format="json")
    expected = expected_status(role, which, scope="exceptions:write", action=action)
    if expected is not None:
        assert response.status_code == expected, response.content
        after = ExceptionItem.objects.get(pk=item.pk)
        assert (after.status, after.owner_id, after.decision) == (before.status, before.owner_id, before.decision)
    else:
        # Allowed: the service decides (approval actions on a non-approval item are a state conflict).
        assert response.status_code in (200, 204, 409), response.content
        if action in ("approve", "reject", "override"):
            assert response.status_code == 409
        elif "read" not in SCOPES[role]:
            # Done, but a token that may not read items is not handed the item back.
            assert response.status_code == 204, response.content
            assert not response.content
        else:
            assert response.status_code == 200
            assert response.json()["id"] == item.pk


@pytest.mark.parametrize("role", ROLES)
def test_api_next_claims_only_from_visible_queues(world, role):
    unclaimed = {which: make_item(world.queues[which], key=f"free-{which}") for which in ("a", "b")}
    response = world.client(role).post("/api/v1/exceptions/next/", {}, format="json")
    expected = expected_status(role, "a", scope="exceptions:write")
    if expected is None and "read" not in SCOPES[role]:
        expected = 403  # claiming hands out a full item: it needs the read scope too
        assert not ExceptionItem.objects.filter(claimed_at__isnull=False).exists()
    if expected in (401, 403):
        assert response.status_code == expected
        return
    # Which queues a role works: admins and tokens all, a manager their team's, a rep none.
    workable = {
        "manager_a": {"a"},
        "manager_b": {"b"},
        "rep_owner": set(),
        "rep_other": set(),
    }.get(role, {"a", "b"})
    if not workable:
        assert response.status_code == 204
        return
    assert response.status_code == 200, response.content
    in_my_queues = {item.pk for which in workable for item in (unclaimed[which], world.items[which])}
    assert response.json()["id"] in in_my_queues
    assert ExceptionItem.objects.get(pk=response.json()["id"]).claimed_at is not None


@pytest.mark.parametrize("role", ["manager_a", "rep_owner"])
def test_api_cannot_reach_hidden_items_through_filters(world, role):
    client = world.client(role)
    other = world.items["b"]
    for params in ({"queue": other.queue.name}, {"owner": "rep_b"}, {"external_id": other.external_id}):
        response = client.get("/api/v1/exceptions/", params)
        assert response.status_code == 200
        assert other.pk not in {row["id"] for row in response.json()["results"]}


# --- the admin ------------------------------------------------------------------------------------


def admin_client(world, role):
    from django.test import Client

    client = Client()
    client.force_login(world.users[role])
    return client


@pytest.mark.parametrize("role", SESSION_ROLES)
def test_admin_changelist_lists_only_visible_items(world, role):
    response = admin_client(world, role).get(reverse("admin:exceptions_exceptionitem_changelist"))
    assert response.status_code == 200
    shown = {which for which in ("a", "b") if f"Item item-{which}" in response.content.decode()}
    assert shown == VISIBLE[role]


@pytest.mark.parametrize("which", ["a", "b"])
@pytest.mark.parametrize("role", SESSION_ROLES)
def test_admin_item_pages(world, role, which):
    client = admin_client(world, role)
    pk = world.items[which].pk
    visible = which in VISIBLE[role]
    change = client.get(reverse("admin:exceptions_exceptionitem_change", args=[pk]))
    history = client.get(reverse("admin:exceptions_exceptionitem_history", args=[pk]))
    assert change.status_code == (200 if visible else 404)
    assert history.status_code == (200 if visible else 404)


@pytest.mark.parametrize("action", list(ACTION_BODIES))
@pytest.mark.parametrize("which", ["a", "b"])
@pytest.mark.parametrize("role", SESSION_ROLES)
def test_admin_item_actions(world, role, which, action):
    item = world.items[which]
    url = reverse("admin:exceptions_exceptionitem_act", args=[item.pk, action])
    data = {"_confirm": "1", **{k: v for k, v in body_for(action).items() if not isinstance(v, dict)}}
    response = admin_client(world, role).post(url, data)
    expected = expected_status(role, which, scope="exceptions:write", action=action)
    if expected is not None:
        assert response.status_code == expected
    else:
        assert response.status_code in (200, 302)  # the form again (invalid input) or done


@pytest.mark.parametrize("which", ["a", "b"])
@pytest.mark.parametrize("role", SESSION_ROLES)
def test_admin_bulk_action_cannot_touch_hidden_items(world, role, which):
    item = world.items[which]
    admin_client(world, role).post(
        reverse("admin:exceptions_exceptionitem_changelist"),
        {"action": "bulk_claim", "_selected_action": [item.pk], "index": 0},
    )
    item.refresh_from_db()
    if which not in VISIBLE[role]:
        assert item.owner_id != world.users[role].pk


# --- rules: managers and reps read, never change; tokens have no admin -----------------------------


@pytest.fixture
def rules(world):
    return {"automation": make_automation(name="Rule"), "fielddefinition": FieldDefinition.objects.first()}


@pytest.mark.parametrize("model", ["automation", "fielddefinition"])
@pytest.mark.parametrize("role", ["manager_a", "rep_owner"])
def test_managers_and_reps_cannot_edit_rules(world, rules, role, model):
    client = admin_client(world, role)
    obj = rules[model]
    change_url = reverse(f"admin:revops_{model}_change", args=[obj.pk])
    assert client.post(change_url, {"name": "hijacked"}).status_code == 403
    assert client.get(reverse(f"admin:revops_{model}_add")).status_code == 403
    assert client.post(reverse(f"admin:revops_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    if role == "manager_a":  # managers may read rules, to follow why an item fired
        page = client.get(change_url)
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
    obj.refresh_from_db()
    assert getattr(obj, "name", "") != "hijacked"


def test_manager_cannot_switch_an_automation_mode(world, rules):
    automation = rules["automation"]
    url = reverse("admin:revops_automation_mode", args=[automation.pk, "paused"])
    assert admin_client(world, "manager_a").post(url).status_code == 403


@pytest.mark.parametrize("model", ["automation", "fielddefinition"])
def test_revops_admin_can_edit_rules(world, rules, model):
    client = admin_client(world, "revops_admin")
    page = client.get(reverse(f"admin:revops_{model}_change", args=[rules[model].pk]))
    assert page.status_code == 200
    assert b'name="_save"' in page.content


def test_integration_tokens_cannot_change_rules(world):
    for scopes in (("exceptions:write",), ("read", "exceptions:write", "sync:write")):
        client = token_client(*scopes, name="-".join(scopes))
        assert client.post("/api/v1/config/apply/", {}, format="json").status_code == 403
        # A token's service login is no admin user.
        assert not client.token.user.is_staff
