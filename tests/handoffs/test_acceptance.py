"""The receiving team answers a sent handoff in the portal: accept, or reject with a reason that goes back
to the deal owner's manager until the deal side sends it again. Each side sees only its own handoffs."""

import pytest
from django.test import Client

from exceptions import roles
from exceptions.models import ExceptionItem
from handoffs.models import Handoff
from revops.models import ChangeEntry, Task
from tests.factories import RepFactory, UserFactory
from tests.handoffs.test_readiness import deal, sync, world  # noqa: F401

pytestmark = pytest.mark.django_db

COMPLETE = {"contract_start_date": "2026-04-01", "use_case": "Routing", "billing_contact": "ap@acme.test"}


def login(username, role, rep=None):
    user = UserFactory(username=username)
    roles.assign_role(user, role)
    if rep is not None:
        rep.user = user
        rep.save(update_fields=["user"])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sent(sync, world, settings):  # noqa: F811
    settings.SECURE_SSL_REDIRECT = False
    sync(deal(**COMPLETE))
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.SENT
    roles.ensure_roles()
    return handoff


def answer(client, handoff, what, **data):
    return client.post(f"/admin/handoffs/handoff/{handoff.pk}/answer/{what}/", data)


def signals():
    return [e.payload["signal"] for e in ChangeEntry.objects.filter(kind="handoff_signal").order_by("id")]


def test_reject_returns_it_to_the_deal_side_then_resend_and_accept(sent, world):  # noqa: F811
    cora = login("cora", roles.REP, world["csm"])
    page = cora.get(f"/admin/handoffs/handoff/{sent.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Context package" in html and "ap@acme.test" in html and "Accept the handoff" in html

    response = answer(cora, sent, "reject", reason_code="context_vague", note="Success criteria say 'faster'.")
    assert response.status_code == 302
    sent.refresh_from_db()
    assert sent.status == Handoff.Status.REJECTED and sent.rejection_code == "context_vague"
    returned = ExceptionItem.objects.get(kind="handoff_returned")
    assert returned.owner == world["manager"] and "Success criteria say 'faster'." in returned.reason

    mia = Client()
    mia.force_login(world["manager"])
    roles.assign_role(world["manager"], roles.MANAGER)
    assert answer(mia, sent, "accept").status_code == 403  # the deal side does not accept its own handoff
    assert answer(cora, sent, "resend").status_code == 403  # nor does the receiver send it again
    assert answer(mia, sent, "resend").status_code == 302
    sent.refresh_from_db()
    returned.refresh_from_db()
    assert sent.status == Handoff.Status.SENT and returned.status == ExceptionItem.Status.RESOLVED

    assert answer(cora, sent, "accept").status_code == 302
    sent.refresh_from_db()
    assert sent.status == Handoff.Status.ACCEPTED
    assert signals() == ["started", "sent", "rejected", "sent", "accepted"]
    assert Task.objects.filter(opportunity=sent.opportunity).count() == 2  # not created again on resend


def test_a_rep_sees_only_handoffs_of_their_deals_and_those_they_receive(sent, world):  # noqa: F811
    stranger = login("sol", roles.REP, RepFactory(name="Sol Other"))
    assert f"/admin/handoffs/handoff/{sent.pk}/change/" not in stranger.get("/admin/handoffs/handoff/").content.decode()
    response = stranger.get(f"/admin/handoffs/handoff/{sent.pk}/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"  # does not exist for them
    assert answer(stranger, sent, "accept").status_code == 404
    sent.refresh_from_db()
    assert sent.status == Handoff.Status.SENT
    cora = login("cora", roles.REP, world["csm"])
    assert f"/admin/handoffs/handoff/{sent.pk}/change/" in cora.get("/admin/handoffs/handoff/").content.decode()


def test_other_needs_a_note_and_only_a_sent_handoff_is_answered(sent, world):  # noqa: F811
    cora = login("cora", roles.REP, world["csm"])
    answer(cora, sent, "reject", reason_code="other", note="")
    sent.refresh_from_db()
    assert sent.status == Handoff.Status.SENT
    answer(cora, sent, "accept")
    answer(cora, sent, "reject", reason_code="context_vague")
    sent.refresh_from_db()
    assert sent.status == Handoff.Status.ACCEPTED


def test_the_deals_why_page_says_who_must_act(sync, world, settings, admin_client):  # noqa: F811
    settings.SECURE_SSL_REDIRECT = False
    sync(deal())
    handoff = Handoff.objects.get()
    page = admin_client.get(f"/admin/revops/opportunity/{handoff.opportunity_id}/why/").content.decode()
    assert "Handoffs (1)" in page and "Sales → Onboarding" in page and "Waiting for context" in page
    assert "Sam Seller to get Contract start date, Use case, Billing contact filled in the CRM" in page


def test_the_last_attestation_sends_the_handoff(sync, world, settings, admin_client):  # noqa: F811
    settings.SECURE_SSL_REDIRECT = False
    checklist = world["checklist"]
    checklist.attestations = [
        {"key": "risks_reviewed", "label": "Risks and promises reviewed with the CSM", "role": "CSM"}
    ]
    checklist.save()
    sync(deal(**COMPLETE))
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.WAITING
    assert [m["key"] for m in handoff.missing] == ["risks_reviewed"]
    page = admin_client.get(f"/admin/handoffs/handoff/{handoff.pk}/change/").content.decode()
    assert "Confirm: Risks and promises reviewed with the CSM" in page
    assert answer(admin_client, handoff, "attest", key="nonsense").status_code == 302
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.WAITING
    answer(admin_client, handoff, "attest", key="risks_reviewed")
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.SENT and handoff.attested["risks_reviewed"]["by"] == "admin"
    assert Task.objects.filter(opportunity=handoff.opportunity).count() == 2


def test_a_handoff_not_answered_in_time_is_raised_to_the_receiving_side_until_answered(sent, world):  # noqa: F811
    import datetime as dt

    from handoffs.services import handoffs_acceptance_tick

    cs_manager = UserFactory(username="cs.lead")
    team = world["csm"].team
    team.manager = RepFactory(name="CS Lead", user=cs_manager)
    team.save()
    from exceptions.models import Queue

    Queue.objects.create(name="CS triage", team=team)
    assert handoffs_acceptance_tick(now=sent.sent_at + dt.timedelta(hours=47)) == {"late": 0, "opened": 0}
    later = sent.sent_at + dt.timedelta(hours=49)
    assert handoffs_acceptance_tick(now=later) == {"late": 1, "opened": 1}
    assert handoffs_acceptance_tick(now=later) == {"late": 1, "opened": 0}  # once, not every tick
    item = ExceptionItem.objects.get(kind="handoff_not_accepted")
    assert item.queue.name == "CS triage" and item.owner == cs_manager
    assert "not been accepted or sent back within 48 hours" in item.reason
    cora = login("cora", roles.REP, world["csm"])
    answer(cora, sent, "accept")
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED
