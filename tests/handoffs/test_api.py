"""``/api/v1/handoffs/``: read what you may see, answer with the right side's rights; 400/403/404/409 as documented."""

import json

import pytest
from rest_framework.test import APIClient

from exceptions import roles
from handoffs.models import Handoff
from tests.factories import RepFactory, UserFactory
from tests.handoffs.test_acceptance import COMPLETE
from tests.handoffs.test_readiness import deal, sync, world  # noqa: F401
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]


def session(username, role, rep=None) -> APIClient:
    user = UserFactory(username=username)
    roles.assign_role(user, role)
    if rep is not None:
        rep.user = user
        rep.save(update_fields=["user"])
    client = APIClient()
    client.force_login(user)
    return client


def post(client, handoff, answer, body=None):
    return client.post(
        f"/api/v1/handoffs/{handoff.pk}/{answer}/", json.dumps(body or {}), content_type="application/json"
    )


def test_read_and_answer_through_the_api(sync, world):  # noqa: F811
    sync(deal(**COMPLETE))
    handoff = Handoff.objects.get()
    reader = token_client("read")
    rows = reader.get("/api/v1/handoffs/", {"status": "sent"}).json()["results"]
    assert [(r["id"], r["opportunity"], r["receiver"], r["checklist"]) for r in rows] == [
        (handoff.pk, "O-1", world["csm"].external_id, "Sales → Onboarding")
    ]
    assert reader.get("/api/v1/handoffs/", {"status": "nonsense"}).status_code == 400
    assert reader.get(f"/api/v1/handoffs/{handoff.pk}/").json()["status"] == "sent"
    assert reader.get("/api/v1/handoffs/abc/").status_code == 404

    cora = session("cora", roles.REP, world["csm"])
    assert post(cora, handoff, "reject", {"reason_code": "bogus"}).status_code == 400
    response = post(cora, handoff, "reject", {"reason_code": "missing_contact", "note": "No sponsor named."})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected" and response.json()["rejection_note"] == "No sponsor named."
    assert post(cora, handoff, "accept").status_code == 409  # rejected: the deal side must send it again
    assert post(cora, handoff, "resend").status_code == 403  # not the receiver's to send

    writer = token_client("exceptions:write")
    assert post(writer, handoff, "resend").status_code == 204  # done; a token without read gets no body
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.SENT
    assert reader.post(f"/api/v1/handoffs/{handoff.pk}/accept/", {}, format="json").status_code == 403  # scope


def test_another_teams_handoff_is_a_404(sync, world):  # noqa: F811
    sync(deal(**COMPLETE))
    handoff = Handoff.objects.get()
    stranger = session("sol", roles.REP, RepFactory(name="Sol Other"))
    assert stranger.get("/api/v1/handoffs/").json()["results"] == []
    assert stranger.get(f"/api/v1/handoffs/{handoff.pk}/").status_code == 404
    assert post(stranger, handoff, "accept").status_code == 404
