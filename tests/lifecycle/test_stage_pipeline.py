"""Through the real pipeline: the CRM syncs a lead's activity, the live model re-scores it and the stage
hook (registered after the scoring hook) moves it to MQL in the same worker batch, reading the fresh
score; the stage tick is a schedule; the rep's page and the report keep to the viewer's reach."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exceptions import roles
from lifecycle.models import LeadStage, StageTransition
from lifecycle.stage_services import lead_reject, lead_stages_evaluate
from revops.plugins import schedules
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from tests.factories import LeadFactory, RepFactory, TeamFactory, UserFactory

from .stage_support import funnel, rep_login
from .support import scoring_model


@pytest.mark.django_db(transaction=True)
def test_a_synced_activity_scores_the_lead_and_moves_it_to_mql_in_one_batch(redis_conn, run_worker):
    funnel()
    scoring_model(status="live", fit=[], engagement=[{"activity_kind": "call", "points": 70, "window_days": 30}])
    lead = LeadFactory(score=None, owner=RepFactory())
    lead_stages_evaluate(lead_ids=[lead.pk])
    token, _raw = api_token_create(name="crm", scopes=["sync:write"])
    when = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    record = {
        "external_id": "ACT-MQL-1",
        "source_updated_at": when,
        "occurred_at": when,
        "kind": "call",
        "subject": "Discovery",
        "lead": lead.external_id,
    }
    outcome = sync_batch_apply(object_name="activities", records=[record], actor=token.user, token=token)
    assert [r["status"] for r in outcome.results] == ["created"], outcome.results
    assert run_worker("hot") == 0
    assert LeadStage.objects.get(lead=lead).stage.key == "mql"
    move = StageTransition.objects.filter(lead=lead).last()
    assert move.text == "Entry criteria of MQL held: Lead score ≥ 60 (actual: 70) (after a CRM change)"
    assert move.event_id is not None


def test_the_tick_runs_every_five_minutes():
    tick = next(s for s in schedules() if s.name == "lifecycle_stage_tick")
    assert (tick.interval, tick.queue) == (300, "default")


@pytest.mark.django_db
def test_pages_keep_to_the_viewers_reach():
    funnel()
    team, other = TeamFactory(name="West"), TeamFactory(name="East")
    mona_user, mona = rep_login("mona", roles.MANAGER, RepFactory(team=team))
    team.manager = mona
    team.save()
    ria_user, ria = rep_login("ria", rep=RepFactory(team=team, name="Ria Rep"))
    _, ola = rep_login("ola", rep=RepFactory(team=other, name="Ola Other"))
    mine, theirs = LeadFactory(score=70, owner=ria, company="Mineco"), LeadFactory(score=70, owner=ola, company="Farco")
    lead_stages_evaluate(lead_ids=[mine.pk, theirs.pk])
    lead_reject(lead=mine, reason_code="bad_data", note="Bounces.", actor=ria_user)
    lead_reject(lead=theirs, reason_code="duplicate", note="Twice.", actor=ria_user)

    client = Client()
    client.force_login(mona_user)
    report = client.get(reverse("admin:lifecycle_rejection_changelist")).content.decode()
    assert "Mineco" in report and "Farco" not in report and "East" not in report  # nor the other team's name
    assert "Bad or missing data" in report
    filtered = client.get(reverse("admin:lifecycle_rejection_changelist"), {"reason_code": "duplicate"})
    assert "Mineco" not in filtered.content.decode()
    revops = Client()
    revops.force_login(UserFactory(is_staff=True, is_superuser=True))
    everything = revops.get(reverse("admin:lifecycle_rejection_changelist")).content.decode()
    assert everything.index("Farco") < everything.index("Mineco")  # the latest rejection first

    rep = Client()
    rep.force_login(ria_user)
    other_lead = LeadFactory(score=80, owner=ola)
    lead_stages_evaluate(lead_ids=[other_lead.pk])
    url = reverse("admin:lifecycle_waitinglead_answer", args=[other_lead.pk, "accept"])
    assert rep.post(url).status_code == 404  # another rep's MQL does not exist for her
    assert rep.get(reverse("admin:lifecycle_waitinglead_changelist")).status_code == 200
    assert LeadStage.objects.get(lead=other_lead).stage.key == "mql"
