"""POST /api/v1/sync/<object>/: statuses, references, atomic batches, bad input and authorization."""

import json

import pytest

from revops.models import (
    Account,
    Activity,
    Contact,
    FieldDefinition,
    Lead,
    Opportunity,
    OutboxEvent,
    Rep,
    SyncBatch,
    SyncFailure,
    Team,
)
from revops.tokens import api_token_create, api_token_revoke
from tests.factories import AccountFactory, RepFactory

pytestmark = pytest.mark.django_db

T1, T2, T0 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-02-01T10:00:00Z"

# object name -> (model, minimal new record, a changing update, an invalid record)
OBJECTS = {
    "teams": (Team, {"name": "West"}, {"region": "EMEA"}, {"name": None}),
    "reps": (Rep, {"name": "Ada", "email": "ada@acme.test"}, {"title": "AE"}, {"email": "not-an-email"}),
    "accounts": (Account, {"name": "Acme"}, {"employees": 500}, {"employees": "many"}),
    "leads": (Lead, {"email": "jo@prospect.test"}, {"score": 70}, {"status": "hot"}),
    "contacts": (Contact, {"email": "jo@customer.test"}, {"roles": ["champion"]}, {"roles": ["boss"]}),
    "opportunities": (Opportunity, {"name": "Acme - New"}, {"amount": "1000.50"}, {"close_date": "next tuesday"}),
    "activities": (
        Activity,
        {"occurred_at": "2026-03-01T09:00:00Z"},
        {"subject": "Intro call"},
        {"occurred_at": None},
    ),
}


@pytest.fixture
def token():
    return api_token_create(name="hubspot", scopes=["sync:write"])


@pytest.fixture
def sync(client, token):
    """POST records to the sync endpoint with the token; returns the response."""
    _, raw = token

    def post(object_name, records=None, *, body=None, query="", content_type="application/json", **headers):
        data = body if body is not None else json.dumps({"records": records})
        return client.post(
            f"/api/v1/sync/{object_name}/{query}",
            data=data,
            content_type=content_type,
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
            **headers,
        )

    return post


def rec(ext, when=T1, **values):
    return {"external_id": ext, "source_updated_at": when, **values}


def totals():
    counts = {m.__name__: m.objects.count() for m in (Team, Rep, Account, Lead, Opportunity, Activity)}
    counts["history"] = sum(m.history.count() for m in (Team, Rep, Account, Lead, Opportunity, Activity))
    counts["events"] = OutboxEvent.objects.count()
    counts["batches"] = SyncBatch.objects.count()
    counts["failures"] = SyncFailure.objects.count()
    return counts


@pytest.mark.parametrize("object_name", list(OBJECTS))
def test_every_status_for_every_object(sync, token, object_name):
    model, new, update, invalid = OBJECTS[object_name]
    response = sync(object_name, [rec("X1", **new)])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["results"] == [{"index": 0, "external_id": "X1", "status": "created"}]
    assert body["counts"]["created"] == 1
    obj = model.objects.get(external_id="X1")
    assert obj.history.count() == 1

    body = sync(object_name, [rec("X1", T2, **update)]).json()
    (field,) = update
    assert body["results"] == [{"index": 0, "external_id": "X1", "status": "updated", "changed_fields": [field]}]
    assert obj.history.count() == 2

    body = sync(object_name, [rec("X1", T2, **update)]).json()
    assert body["results"][0]["status"] == "unchanged"
    body = sync(object_name, [rec("X1", T1, **new)]).json()
    assert body["results"][0]["status"] == "stale"
    assert obj.history.count() == 2
    assert OutboxEvent.objects.filter(external_id="X1").count() == 2

    body = sync(object_name, [rec("X2", **(new | invalid))]).json()
    result = body["results"][0]
    assert result["status"] == "rejected" and list(result["errors"]) == list(invalid)
    assert not model.objects.filter(external_id="X2").exists()
    failure = SyncFailure.objects.get(external_id="X2")
    assert failure.errors == result["errors"] and failure.token == token[0] and failure.object_type


def test_history_rows_carry_the_token_user_and_batch_reason(sync, token):
    body = sync("leads", [rec("L1", email="a@b.test"), rec("L2", email="c@d.test")]).json()
    rows = list(Lead.history.all())
    assert len(rows) == 2
    assert {r.history_user for r in rows} == {token[0].user}
    assert {r.history_change_reason for r in rows} == {f"sync leads batch #{body['batch']} (token 'hubspot')"}
    assert {r.history_type for r in rows} == {"+"}
    batch = SyncBatch.objects.get(pk=body["batch"])
    assert batch.counts["created"] == 2 and batch.record_count == 2 and batch.user == token[0].user


def test_outbox_events_name_changed_fields_with_old_and_new_values(sync):
    rep = RepFactory(external_id="R1")
    RepFactory(external_id="R2")
    FieldDefinition.objects.create(
        object_type="lead", key="plan", label="Plan", definition="x", owning_team="RevOps", field_type="text"
    )
    body = sync("leads", [rec("L1", email="a@b.test", score=10, owner="R1", plan="gold")]).json()
    assert body["results"][0]["status"] == "created", body
    created = OutboxEvent.objects.get(kind="created")
    lead = Lead.objects.get(external_id="L1")
    assert lead.owner == rep and lead.attributes == {"plan": "gold"}
    assert created.object_type == "lead" and created.object_id == lead.pk and created.external_id == "L1"
    assert created.changes == {
        "email": [None, "a@b.test"],
        "score": [None, 10],
        "owner": [None, "R1"],
        "plan": [None, "gold"],
    }
    assert created.batch_id == body["batch"] and created.status == "pending"

    body = sync("leads", [rec("L1", T2, score=20, owner="R2", plan=None)]).json()
    assert body["results"][0]["changed_fields"] == ["score", "owner", "plan"]
    updated = OutboxEvent.objects.get(kind="updated")
    assert updated.changed_fields == ["score", "owner", "plan"]
    assert updated.changes == {"score": [10, 20], "owner": ["R1", "R2"], "plan": ["gold", None]}
    lead.refresh_from_db()
    assert lead.attributes == {} and lead.owner.external_id == "R2" and lead.email == "a@b.test"


def test_unchanged_writes_nothing_but_moves_source_updated_at(sync):
    sync("leads", [rec("L1", email="a@b.test")])
    before = totals()
    body = sync("leads", [rec("L1", T2, email="a@b.test")]).json()
    assert body["results"][0]["status"] == "unchanged"
    after = totals()
    assert after["history"] == before["history"] and after["events"] == before["events"]
    assert Lead.objects.get().source_updated_at.isoformat() == "2026-03-02T10:00:00+00:00"
    # so an older, different update delivered late is stale, as in-order delivery would leave it
    assert (
        sync("leads", [rec("L1", "2026-03-01T12:00:00Z", email="x@y.test")]).json()["results"][0]["status"] == "stale"
    )


def test_source_updated_at_is_required(sync):
    body = sync("leads", [{"external_id": "L1", "email": "a@b.test"}]).json()
    assert body["results"][0]["status"] == "rejected"
    assert "source_updated_at" in body["results"][0]["errors"]


def test_update_required_checks_consider_the_stored_record(sync):
    sync("reps", [rec("R1", name="Ada", email="ada@acme.test")])
    body = sync("reps", [rec("R1", T2, title="AE")]).json()
    assert body["results"][0]["status"] == "updated"
    body = sync("reps", [rec("R2", title="AE")]).json()
    assert body["results"][0]["errors"] == {"name": ["is required but missing"], "email": ["is required but missing"]}


def test_references_resolve_within_the_batch_in_any_order(sync):
    body = sync(
        "accounts",
        [
            rec("A-child", name="Child", parent="A-parent"),
            rec("A-parent", name="Parent", parent="A-root"),
            rec("A-root", name="Root"),
        ],
    ).json()
    assert [r["status"] for r in body["results"]] == ["created"] * 3
    child = Account.objects.get(external_id="A-child")
    assert child.parent.external_id == "A-parent" and child.parent.parent.external_id == "A-root"
    history = Account.history.get(external_id="A-child")
    assert history.parent_id == child.parent_id

    body = sync(
        "reps",
        [rec("R1", name="Ada", email="ada@x.test", manager="R2"), rec("R2", name="Bo", email="bo@x.test")],
    ).json()
    assert [r["status"] for r in body["results"]] == ["created", "created"]
    assert Rep.objects.get(external_id="R1").manager.external_id == "R2"


def test_unknown_reference_is_rejected_with_a_clear_message(sync):
    body = sync("leads", [rec("L1", owner="R-9")]).json()
    assert body["results"][0]["errors"] == {
        "owner": ["points at rep 'R-9', but no rep has that external id in the portal or in this batch"]
    }


def test_reference_to_a_rejected_record_of_the_batch_is_rejected_too(sync):
    body = sync(
        "accounts",
        [
            rec("A1", name="Child", parent="A2"),
            rec("A2", name="Mid", parent="A3"),
            rec("A3", employees="x", name="Bad"),
        ],
    ).json()
    assert [r["status"] for r in body["results"]] == ["rejected"] * 3
    assert body["results"][0]["errors"]["parent"] == [
        "points at account 'A2', which is in this batch but was rejected; fix that record and send both again"
    ]
    assert Account.objects.count() == 0


def test_references_resolve_from_the_portal(sync):
    account = AccountFactory(external_id="ACC-1")
    body = sync("opportunities", [rec("O1", name="Deal", account="ACC-1", owner=account.owner.external_id)]).json()
    assert body["results"][0]["status"] == "created"
    opp = Opportunity.objects.get()
    assert opp.account == account and opp.owner == account.owner


def test_successive_batches_apply_in_order(sync):
    statuses = [
        sync("leads", [record]).json()["results"][0]["status"]
        for record in (
            rec("L1", email="a@b.test", score=1),
            rec("L1", T2, score=2),
            rec("L1", T0, score=0),
            rec("L1", T2, score=2),
        )
    ]
    assert statuses == ["created", "updated", "stale", "unchanged"]
    lead = Lead.objects.get()
    assert lead.score == 2
    assert [h.score for h in lead.history.order_by("history_date")] == [1, 2]
    assert [e.kind for e in OutboxEvent.objects.all()] == ["created", "updated"]


def test_valid_records_apply_when_others_are_rejected(sync):
    body = sync("leads", [rec("L1", email="a@b.test"), rec("L2", score="lots"), rec("L3")]).json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected", "created"]
    assert body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "stale": 0, "rejected": 1}
    assert set(Lead.objects.values_list("external_id", flat=True)) == {"L1", "L3"}


def test_atomic_batch_with_a_rejected_record_writes_nothing(sync):
    before = totals()
    response = sync("leads", [rec("L1", email="a@b.test"), rec("L2", score="lots")], query="?atomic=true")
    assert response.status_code == 422
    body = response.json()
    assert body["batch"] is None
    assert [r["status"] for r in body["results"]] == ["created", "rejected"]
    assert totals() == before
    response = sync("leads", [rec("L1", email="a@b.test")], query="?atomic=true")
    assert response.status_code == 200 and Lead.objects.count() == 1


def test_out_of_range_values_are_rejected_not_a_server_error(sync):
    body = sync(
        "accounts", [rec("A1", name="X", employees=-5, annual_revenue="1e20"), rec("A2", name="Y" * 300)]
    ).json()
    assert set(body["results"][0]["errors"]) == {"employees", "annual_revenue"}
    assert "name" in body["results"][1]["errors"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ("{not json", 400, "not valid JSON"),
        ("[]", 400, "must be a JSON object"),
        ("{}", 400, 'no "records" key'),
        ('{"records": {}}', 400, "must be a list"),
        ('{"records": [1]}', 400, "records[0] must be an object"),
        ('{"records": [{"external_id": "L1"}, {"email": "x@y.test"}]}', 400, "records[1] has no external_id"),
        ('{"records": [{"external_id": ""}]}', 400, "records[0].external_id"),
        ('{"records": [], "extra": 1}', 400, "'extra'"),
        (json.dumps({"records": [rec(f"L{i}") for i in range(1001)]}), 413, "at most 1000"),
    ],
)
def test_malformed_bodies_get_a_clear_4xx_and_write_nothing(sync, body, status, fragment):
    before = totals()
    response = sync("leads", body=body)
    assert response.status_code == status
    assert fragment in response.json()["detail"]
    assert totals() == before


def test_wrong_content_type_and_unknown_object(sync):
    before = totals()
    response = sync("leads", body="records=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and "application/json" in response.json()["detail"]
    response = sync("widgets", [rec("W1")])
    assert response.status_code == 404
    assert "teams, reps, accounts, leads, contacts, opportunities, activities" in response.json()["detail"]
    response = sync("leads", [rec("L1")], query="?atomic=maybe")
    assert response.status_code == 400
    assert totals() == before


def test_oversized_body_is_413(sync, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = sync("leads", [rec(f"L{i}", company="x" * 50) for i in range(30)])
    assert response.status_code == 413 and "larger than 1024 bytes" in response.json()["detail"]
    assert Lead.objects.count() == 0


def test_authorization(client):
    url = "/api/v1/sync/leads/"
    data = json.dumps({"records": [rec("L1")]})
    assert client.post(url, data, content_type="application/json", secure=True).status_code == 401
    _, read_raw = api_token_create(name="reader", scopes=["read"])
    response = client.post(
        url, data, content_type="application/json", secure=True, HTTP_AUTHORIZATION=f"Bearer {read_raw}"
    )
    assert response.status_code == 403 and "sync:write" in response.json()["detail"]
    token, raw = api_token_create(name="crm", scopes=["sync:write"])
    api_token_revoke(token=token)
    response = client.post(url, data, content_type="application/json", secure=True, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert Lead.objects.count() == 0 and SyncBatch.objects.count() == 0
