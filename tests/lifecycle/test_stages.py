"""Lifecycle stages: transitions by criteria with their causes, SLAs in business hours with a controlled
clock, acceptance and rejection with reasons, recycling, the CRM's answer by status, the overdue item
(one, closed when the lead is answered) and the changes-feed entries."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from exceptions.models import ExceptionItem
from lifecycle.models import LeadStage, Stage, StageTransition
from lifecycle.stage_selectors import stage_history
from lifecycle.stage_services import (
    LifecycleStateError,
    lead_accept,
    lead_reject,
    lead_stages_evaluate,
    lead_stages_tick,
    stage_save,
)
from revops.models import ChangeEntry
from tests.factories import LeadFactory, RepFactory, TeamFactory, UserFactory

from .stage_support import MONDAY_9, calendar_for, funnel, leaf, rep_login

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


def stage_of(lead):
    return LeadStage.objects.select_related("stage").get(lead=lead).stage.key


def feed(lead):
    return [
        (e.payload["previous"], e.payload["value"])
        for e in ChangeEntry.objects.filter(external_id=lead.external_id, payload__field="lifecycle_stage").order_by(
            "id"
        )
    ]


def test_criteria_move_a_lead_forward_only_with_the_cause_in_words_and_a_feed_entry():
    funnel()
    lead = LeadFactory(score=20, owner=RepFactory())
    assert lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9) == 1
    assert stage_of(lead) == "new"
    assert lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9) == 0  # idempotent

    lead.score = 72
    lead.save()
    lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9 + HOUR, event_ids={lead.pk: 99})
    assert stage_of(lead) == "mql"
    move = StageTransition.objects.filter(lead=lead).last()
    assert move.text == "Entry criteria of MQL held: Lead score ≥ 60 (actual: 72) (after a CRM change)"
    assert (move.cause, move.event_id, move.rep_id) == ("criteria", 99, lead.owner_id)

    lead.score = 10  # the score falls: a lead never moves back by criteria
    lead.save()
    lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9 + 2 * HOUR)
    assert stage_of(lead) == "mql"
    assert feed(lead) == [(None, "new"), ("new", "mql")]

    lead.status = "unqualified"  # a closed stage's criteria win from any funnel stage
    lead.save()
    lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9 + 3 * HOUR)
    assert stage_of(lead) == "disqualified"
    lead.status, lead.score = "new", 90
    lead.save()
    lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9 + 4 * HOUR)
    assert stage_of(lead) == "disqualified"  # closed: only a person or the CRM moves it


def test_a_new_lead_goes_to_the_furthest_stage_whose_criteria_hold():
    funnel()
    lead = LeadFactory(score=80, status="qualified")
    lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9)
    assert stage_of(lead) == "sql"
    assert (
        stage_history(lead.pk)["moves"][0]["text"]
        == "Entry criteria of SQL held: Status is qualified (actual: qualified)"
    )


def test_the_mql_sla_counts_the_owners_business_hours_and_starts_when_the_lead_gets_an_owner():
    funnel(mql_minutes=8 * 60, business_hours=True)  # one working day
    team = TeamFactory()
    calendar_for(team)
    friday_4pm = MONDAY_9 + dt.timedelta(days=4, hours=7)
    lead = LeadFactory(score=75, owner=None)
    lead_stages_evaluate(lead_ids=[lead.pk], now=friday_4pm)
    state = LeadStage.objects.get(lead=lead)
    assert (state.stage.key, state.due_at) == ("mql", None)  # no owner yet: no clock

    lead.owner = RepFactory(team=team)
    lead.save()
    assert lead_stages_tick(now=friday_4pm) == {"started": 1, "overdue": 0}
    state.refresh_from_db()
    # 1 hour on Friday, 7 on Monday: due Monday 16:00.
    assert state.due_at == MONDAY_9 + dt.timedelta(days=7, hours=7)
    assert state.sla_text == f"MQL answer: 8 hours, business hours of {team.name} hours"


def test_accepting_and_rejecting_with_reasons_records_who_and_recycles():
    stages = funnel()
    user, rep = rep_login("ria")
    accepted, rejected = LeadFactory(score=70, owner=rep), LeadFactory(score=70, owner=rep)
    lead_stages_evaluate(lead_ids=[accepted.pk, rejected.pk], now=MONDAY_9)

    move = lead_accept(lead=accepted, actor=user, now=MONDAY_9 + HOUR)
    assert (stage_of(accepted), move.cause, move.actor, move.team_id) == ("sal", "accepted", user, rep.team_id)
    assert move.text == f"Accepted by ria in the portal (owner {rep.name})"  # no full name: the login
    with pytest.raises(LifecycleStateError, match="not waiting for sales to accept it: it is in Sales accepted"):
        lead_accept(lead=accepted, actor=user)

    with pytest.raises(ValidationError) as error:
        lead_reject(lead=rejected, reason_code="meh", note="", actor=user)
    assert set(error.value.message_dict) == {"reason_code", "note"}
    assert stage_of(rejected) == "mql"  # nothing written
    move = lead_reject(lead=rejected, reason_code="not_icp", note="Two people, no budget.", actor=user, now=MONDAY_9)
    assert (stage_of(rejected), move.reason_code, move.note) == ("recycled", "not_icp", "Two people, no budget.")
    assert "Not our ideal customer (ICP) — “Two people, no budget.”" in move.text
    entry = ChangeEntry.objects.filter(external_id=rejected.external_id).last()
    assert entry.payload == {
        "field": "lifecycle_stage",
        "value": "recycled",
        "previous": "mql",
        "rejection_reason": "not_icp",
        "rejection_note": "Two people, no budget.",
    }

    # Recycled: criteria bring it back to MQL only after the stage's 30 days.
    lead_stages_evaluate(lead_ids=[rejected.pk], now=MONDAY_9 + dt.timedelta(days=29))
    assert stage_of(rejected) == "recycled"
    lead_stages_evaluate(lead_ids=[rejected.pk], now=MONDAY_9 + dt.timedelta(days=31))
    assert stage_of(rejected) == "mql"
    assert stages["recycled"].leads.count() == 0


def test_the_crm_answers_by_syncing_the_leads_status():
    funnel()
    rep = RepFactory()
    yes, no, odd = (LeadFactory(score=70, owner=rep) for _ in range(3))
    lead_stages_evaluate(lead_ids=[yes.pk, no.pk, odd.pk], now=MONDAY_9)
    yes.status, no.status, odd.status = "working", "nurture", "nurture"
    no.attributes = {"rejection_reason": "duplicate"}
    odd.attributes = {"rejection_reason": "too busy"}
    for lead in (yes, no, odd):
        lead.save()
    assert lead_stages_evaluate(lead_ids=[yes.pk, no.pk, odd.pk], now=MONDAY_9 + HOUR) == 3
    assert [stage_of(lead) for lead in (yes, no, odd)] == ["sal", "recycled", "recycled"]
    moves = {m.lead_id: m for m in StageTransition.objects.filter(source="crm")}
    assert moves[yes.pk].text == f"Accepted by the CRM by syncing the lead's status (owner {rep.name})"
    assert (moves[no.pk].reason_code, moves[odd.pk].reason_code) == ("duplicate", "other")
    assert moves[odd.pk].note == "Rejected in the CRM (status Nurture); its reason 'too busy' is not a reason code"


def test_an_unanswered_mql_raises_one_item_for_its_owner_closed_by_the_answer():
    funnel(mql_minutes=60)
    user, rep = rep_login("ria")
    lead = LeadFactory(score=70, owner=rep)
    lead_stages_evaluate(lead_ids=[lead.pk], now=MONDAY_9)
    assert lead_stages_tick(now=MONDAY_9 + dt.timedelta(minutes=59))["overdue"] == 0
    assert lead_stages_tick(now=MONDAY_9 + 2 * HOUR)["overdue"] == 1
    assert lead_stages_tick(now=MONDAY_9 + 3 * HOUR)["overdue"] == 0  # one item, not one per tick
    item = ExceptionItem.objects.get(kind="mql_unanswered")
    assert (item.owner, item.object_id, item.severity) == (user, lead.pk, "high")
    assert item.title == f"MQL not answered in time: {lead}"
    assert "1 hour late" in item.reason

    lead_accept(lead=lead, actor=user, now=MONDAY_9 + 4 * HOUR)
    item.refresh_from_db()
    assert item.status == "resolved" and item.resolution_note == "The lead left MQL for Sales accepted."


def test_stage_validation_speaks_in_sentences():
    stages = funnel()
    bad = Stage(name="Hot", key="hot", awaits_acceptance=True, entry_condition=leaf("lead.nope", "eq", 1))
    with pytest.raises(ValidationError) as error:
        stage_save(stage=bad, actor=UserFactory())
    messages = error.value.message_dict
    assert messages["accept_to"] == [
        "A stage that waits for acceptance needs both: where accepted and rejected leads go."
    ]
    assert messages["entry_condition"][0].startswith("Entry criteria:")
    stages["sal"].sla_policy = "Gone"
    with pytest.raises(ValidationError, match="No SLA policy is named 'Gone'"):
        stage_save(stage=stages["sal"], actor=UserFactory())
