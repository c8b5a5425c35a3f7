"""The exception API: filters, pagination, input validation, actions through the services, the schema."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from tests.exceptions.test_authorization import build_world, make_item
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]


@pytest.fixture
def world(db):
    return build_world()


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_item_shape(world):
    item = world.items["a"]
    row = token_client("read").get(f"/api/v1/exceptions/{item.pk}/").json()
    assert row["id"] == item.pk
    assert row["owner"] == "rep_a"
    assert row["queue"] == "Team A1 triage"
    assert row["kind"] == "missing_data"
    assert row["overdue"] is False
    assert {"reason", "expected_action", "due_at", "proposal", "decision"} <= set(row)


def test_filters(world):
    client = token_client("read")
    a, b = world.items["a"], world.items["b"]
    now = timezone.now()
    ExceptionItem.objects.filter(pk=a.pk).update(
        severity="critical", due_at=now - dt.timedelta(hours=1), external_id="L1", object_type="lead"
    )
    ExceptionItem.objects.filter(pk=b.pk).update(first_seen_at=now - dt.timedelta(days=10), status="snoozed")
    assert ids(client.get("/api/v1/exceptions/", {"queue": "Team B triage"})) == {b.pk}
    assert ids(client.get("/api/v1/exceptions/", {"severity": "critical"})) == {a.pk}
    assert ids(client.get("/api/v1/exceptions/", {"status": ["snoozed", "resolved"]})) == {b.pk}
    assert ids(client.get("/api/v1/exceptions/", {"kind": "missing_data"})) == {a.pk, b.pk}
    assert ids(client.get("/api/v1/exceptions/", {"owner": "rep_b"})) == {b.pk}
    assert ids(client.get("/api/v1/exceptions/", {"owner": "none"})) == set()
    assert ids(client.get("/api/v1/exceptions/", {"overdue": "true"})) == {a.pk}
    assert ids(client.get("/api/v1/exceptions/", {"overdue": "false"})) == {b.pk}
    assert ids(client.get("/api/v1/exceptions/", {"age": "today"})) == {a.pk}
    assert ids(client.get("/api/v1/exceptions/", {"age": ">7d"})) == {b.pk}
    assert ids(client.get("/api/v1/exceptions/", {"age": "1-3d"})) == set()
    assert ids(client.get("/api/v1/exceptions/", {"external_id": "L1", "object_type": "lead"})) == {a.pk}


def test_owner_me_is_the_signed_in_user(world):
    client = world.client("rep_owner")
    assert ids(client.get("/api/v1/exceptions/", {"owner": "me"})) == {world.items["a"].pk}


def test_filter_by_automation(world):
    from tests.revops.automation_support import make_automation

    automation = make_automation(name="Rule")
    ExceptionItem.objects.filter(pk=world.items["b"].pk).update(automation=automation)
    client = token_client("read")
    assert ids(client.get("/api/v1/exceptions/", {"automation": automation.pk})) == {world.items["b"].pk}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "bogus"}, "status"),
        ({"overdue": "maybe"}, "overdue"),
        ({"age": "forever"}, "age"),
        ({"automation": "x"}, "automation"),
        ({"automation": str(2**70)}, "automation"),
        ({"owner": "a\x00b"}, "owner"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "junk"}, "cursor"),
    ],
)
def test_bad_filters_are_400_with_the_parameter_named(world, params, field):
    response = token_client("read").get("/api/v1/exceptions/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_cursor_pagination(world):
    for n in range(5):
        make_item(world.queues["a"], key=f"more-{n}")
    client = token_client("read")
    first = client.get("/api/v1/exceptions/", {"limit": 3}).json()
    assert len(first["results"]) == 3 and first["next"]
    seen, page = [r["id"] for r in first["results"]], first
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert len(seen) == len(set(seen)) == ExceptionItem.objects.count() == 7


@pytest.mark.parametrize("pk", ["0", "-1", "abc", str(2**63), str(2**80)])
def test_out_of_range_ids_are_404(world, pk):
    client = token_client("read", "exceptions:write")
    response = client.get(f"/api/v1/exceptions/{pk}/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert client.post(f"/api/v1/exceptions/{pk}/claim/", {}, format="json").status_code == 404


# --- actions ------------------------------------------------------------------------------------


def post(client, item, action, body=None):
    return client.post(f"/api/v1/exceptions/{item.pk}/{action}/", body or {}, format="json")


def test_resolve_through_the_service(world):
    item = world.items["a"]
    response = post(world.client("rep_owner"), item, "resolve", {"reason_code": "fixed_in_crm", "note": "ok"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    item.refresh_from_db()
    assert (item.status, item.resolution_code, item.resolved_by) == (
        "resolved",
        "fixed_in_crm",
        world.users["rep_owner"],
    )
    assert post(world.client("rep_owner"), item, "resolve", {"reason_code": "other", "note": "x"}).status_code == 409


def test_claim_and_conflict(world):
    item = make_item(world.queues["a"], key="free")
    client = world.client("manager_a")
    response = post(client, item, "claim")
    assert response.status_code == 200
    assert response.json()["owner"] == "manager_a"
    assert post(token_client("exceptions:write"), item, "claim").status_code == 409


def test_assign_snooze_dismiss_escalate(world):
    client = world.client("manager_a")
    item = world.items["a"]
    assert post(client, item, "assign", {"owner": "rep_a2"}).json()["owner"] == "rep_a2"
    until = timezone.now() + dt.timedelta(days=2)
    assert post(client, item, "snooze", {"until": until.isoformat()}).json()["status"] == "snoozed"
    other = make_item(world.queues["a"], key="other")
    assert post(client, other, "escalate").status_code == 400  # a reason is required
    assert post(client, other, "escalate", {"reason": "Customer waiting"}).status_code == 200
    assert post(client, other, "dismiss", {"reason": "noise"}).json()["status"] == "dismissed"


@pytest.mark.parametrize(
    "action, body, field",
    [
        ("assign", {}, "owner"),
        ("assign", {"owner": "nobody"}, "owner"),
        ("resolve", {}, "reason_code"),
        ("resolve", {"reason_code": "made_up"}, "reason_code"),
        ("resolve", {"reason_code": "other"}, "note"),
        ("dismiss", {"reason": ""}, "reason"),
        ("snooze", {"until": "yesterday"}, "until"),
        ("snooze", {"until": "2001-01-01T00:00:00Z"}, "until"),
        ("reject", {}, "reason"),
        ("override", {"params": "not an object"}, "params"),
        ("override", {"params": {"owner": "a\x00b"}}, "params"),
        ("dismiss", {"reason": "a\x00b"}, "reason"),
        # a value of another JSON type than the schema documents (these were taken as text before)
        ("dismiss", {"reason": False}, "reason"),
        ("resolve", {"reason_code": "fixed_in_crm", "note": 5}, "note"),
        ("escalate", {"reason": 12}, "reason"),
        ("assign", {"owner": ["rep_a"]}, "owner"),
    ],
)
def test_bad_action_input_is_400_and_changes_nothing(world, action, body, field):
    item = world.items["a"]
    response = post(token_client("exceptions:write"), item, action, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    after = ExceptionItem.objects.get(pk=item.pk)
    assert (after.status, after.owner_id) == (item.status, item.owner_id)


def test_null_for_an_optional_field_means_not_given(world):
    response = post(
        token_client("read", "exceptions:write"),
        world.items["a"],
        "resolve",
        {"reason_code": "fixed_in_crm", "note": None},
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"


def test_action_and_next_bodies_are_json_only(world):
    client = token_client("read", "exceptions:write")
    item = world.items["a"]
    form = client.post(f"/api/v1/exceptions/{item.pk}/resolve/", {"reason_code": "fixed_in_crm"}, format="multipart")
    assert form.status_code == 415
    assert client.post("/api/v1/exceptions/next/", {"queues": "x"}, format="multipart").status_code == 415
    assert ExceptionItem.objects.get(pk=item.pk).status == item.status
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    for path in ("/api/v1/exceptions/{item_id}/resolve/", "/api/v1/exceptions/next/"):
        assert set(schema[path]["post"]["requestBody"]["content"]) == {"application/json"}, path
        assert "415" in schema[path]["post"]["responses"]


def test_next_refuses_queue_names_that_are_not_text(world):
    response = world.client("manager_b").post("/api/v1/exceptions/next/", {"queues": [0]}, format="json")
    assert response.status_code == 400
    assert "queues" in response.json()


def test_approval_actions_need_an_approval_item(world):
    response = post(world.client("manager_a"), world.items["a"], "approve")
    assert response.status_code == 409
    assert "approval" in response.json()["detail"]


def test_rep_cannot_approve_their_own_item_but_manager_can_try(world):
    item = make_item(
        world.queues["a"],
        owner=world.users["rep_owner"],
        key="approval",
        kind="approval_required",
        proposal={"action": "assign_owner"},
    )
    assert post(world.client("rep_owner"), item, "approve").status_code == 403
    assert post(world.client("rep_owner"), item, "reject", {"reason": "no"}).status_code == 403
    response = post(world.client("manager_a"), item, "reject", {"reason": "Wrong owner."})
    assert response.status_code == 200, response.content
    assert response.json()["decision"] == "rejected"


def test_next_item_and_nothing_waiting(world):
    client = world.client("manager_b")
    ExceptionItem.objects.filter(pk=world.items["b"].pk).update(claimed_at=timezone.now(), status="in_progress")
    assert client.post("/api/v1/exceptions/next/", {}, format="json").status_code == 204
    free = make_item(world.queues["b"], key="free-b")
    response = client.post("/api/v1/exceptions/next/", {"queues": ["Team B triage"]}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == free.pk
    assert response.json()["owner"] == "manager_b"


def test_next_item_only_in_named_visible_queues(world):
    make_item(world.queues["a"], key="free-a")
    client = world.client("manager_b")
    ExceptionItem.objects.filter(pk=world.items["b"].pk).update(claimed_at=timezone.now(), status="in_progress")
    # Naming another team's queue gives nothing: it is not one of the manager's queues.
    assert client.post("/api/v1/exceptions/next/", {"queues": ["Team A1 triage"]}, format="json").status_code == 204


def test_schema_documents_the_exception_endpoints(world):
    schema = token_client("read").get("/api/v1/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "get" in paths["/api/v1/exceptions/"]
    assert "get" in paths["/api/v1/exceptions/{item_id}/"]
    assert "post" in paths["/api/v1/exceptions/next/"]
    for action in ("claim", "assign", "resolve", "dismiss", "snooze", "escalate", "approve", "reject", "override"):
        operation = paths[f"/api/v1/exceptions/{{item_id}}/{action}/"]["post"]
        assert "exceptions:write" in operation["description"]
        assert {"200", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    filters = {p["name"] for p in paths["/api/v1/exceptions/"]["get"]["parameters"]}
    assert {"queue", "kind", "severity", "status", "owner", "automation", "overdue", "age", "external_id"} <= filters
