"""The acceptance API: a rep answers their own waiting MQLs, never another rep's (404: it does not exist
for them); a manager answers and lists only their teams'; a token needs ``exceptions:write`` to answer;
bad bodies are 400 with sentences, a lead not waiting is a 409. The schema documents the routes."""

import json

import pytest
from rest_framework.test import APIClient

from exceptions import roles
from lifecycle.models import LeadStage
from lifecycle.stage_services import lead_stages_evaluate
from tests.factories import LeadFactory, RepFactory, TeamFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401

from .stage_support import MONDAY_9, funnel, rep_login

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def post(client, lead, answer, body=None):
    return client.post(
        f"/api/v1/leads/{lead.external_id}/{answer}/", json.dumps(body or {}), content_type="application/json"
    )


@pytest.fixture
def world():
    funnel()
    team, other_team = TeamFactory(name="NA"), TeamFactory(name="EMEA")
    manager_user, manager = rep_login("mona", roles.MANAGER, RepFactory(team=team))
    team.manager = manager
    team.save()
    ria_user, ria = rep_login("ria", rep=RepFactory(team=team))
    sam_user, sam = rep_login("sam", rep=RepFactory(team=team))
    _, ola = rep_login("ola", rep=RepFactory(team=other_team))
    leads = {
        "ria1": LeadFactory(score=70, owner=ria),
        "ria2": LeadFactory(score=70, owner=ria),
        "sam": LeadFactory(score=70, owner=sam),
        "ola": LeadFactory(score=70, owner=ola),
    }
    lead_stages_evaluate(lead_ids=[lead.pk for lead in leads.values()], now=MONDAY_9)
    return {"ria": ria_user, "sam": sam_user, "mona": manager_user, "leads": leads}


def test_a_rep_answers_their_own_mqls_and_not_another_reps(world):
    ria, leads = client_for(world["ria"]), world["leads"]
    listed = ria.get("/api/v1/lifecycle/mqls/").json()["results"]
    assert sorted(row["lead"] for row in listed) == sorted([leads["ria1"].external_id, leads["ria2"].external_id])
    assert listed[0]["stage"] == "mql" and listed[0]["awaits_answer"] is True

    assert post(ria, leads["sam"], "accept").status_code == 404  # not theirs: it does not exist for them
    response = post(ria, leads["ria1"], "accept")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["transition"]["to_stage"], body["transition"]["actor"], body["stage"]["stage"]) == (
        "sal",
        "ria",
        "sal",
    )
    assert post(ria, leads["ria1"], "accept").status_code == 409
    assert (
        "not waiting for sales"
        in post(ria, leads["ria1"], "reject", {"reason_code": "other", "note": "x"}).json()["detail"]
    )

    bad = post(ria, leads["ria2"], "reject", {"reason_code": "nope"})
    assert bad.status_code == 400 and set(bad.json()) >= {"reason_code", "note"}
    good = post(ria, leads["ria2"], "reject", {"reason_code": "no_contact", "note": "Three calls, no answer."})
    assert good.status_code == 200 and good.json()["transition"]["reason_code"] == "no_contact"
    assert LeadStage.objects.get(lead=leads["ria2"]).stage.key == "recycled"


def test_a_manager_sees_and_answers_only_their_teams_mqls(world):
    mona, leads = client_for(world["mona"]), world["leads"]
    listed = {row["lead"] for row in mona.get("/api/v1/lifecycle/mqls/").json()["results"]}
    assert listed == {leads[k].external_id for k in ("ria1", "ria2", "sam")}
    assert post(mona, leads["ola"], "accept").status_code == 404
    assert post(mona, leads["sam"], "accept").status_code == 200


def test_tokens_need_the_scope_and_the_schema_documents_the_routes(world):
    lead = world["leads"]["ola"]
    reader, writer = token_client("read", name="reader"), token_client("exceptions:write", name="writer")
    assert post(reader, lead, "accept").status_code == 403
    assert post(writer, lead, "accept").status_code == 204  # no read scope: no body
    assert post(writer, LeadFactory.build(external_id="NOPE"), "accept").status_code == 404
    schema = reader.get("/api/v1/schema/", {"format": "json"}).json()
    assert {"/api/v1/leads/{key}/accept/", "/api/v1/leads/{key}/reject/", "/api/v1/lifecycle/mqls/"} <= set(
        schema["paths"]
    )
    reject = schema["paths"]["/api/v1/leads/{key}/reject/"]["post"]
    assert reject["operationId"] == "leads_reject" and "409" in reject["responses"]
