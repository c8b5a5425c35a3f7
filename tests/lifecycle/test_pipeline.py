"""The event hook re-scores a lead when the CRM syncs a new activity of it, through the outbox and a
real RQ worker; the nightly job re-scores leads whose points decayed."""

import datetime as dt

import pytest
from django.utils import timezone

from lifecycle.jobs import lifecycle_rescore
from lifecycle.models import LeadScore
from lifecycle.services import lead_scores_refresh
from revops.models import Lead
from revops.plugins import schedules
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from tests.factories import LeadFactory, RepFactory
from tests.test_settings import LOAD_SETTINGS, clean_env, run_python

from .support import scoring_model


@pytest.mark.django_db(transaction=True)
def test_a_synced_activity_rescores_its_lead_through_the_pipeline(redis_conn, run_worker):
    model = scoring_model(status="live", fit=[])
    rep = RepFactory()
    lead = LeadFactory(score=None)
    token, _raw = api_token_create(name="crm", scopes=["sync:write"])
    when = (timezone.now() - dt.timedelta(hours=2)).isoformat()
    record = {
        "external_id": "ACT-SCORE-1",
        "source_updated_at": when,
        "occurred_at": when,
        "kind": "call",
        "subject": "Pricing call",
        "lead": lead.external_id,
        "rep": rep.external_id,
    }
    outcome = sync_batch_apply(object_name="activities", records=[record], actor=token.user, token=token)
    assert [r["status"] for r in outcome.results] == ["created"], outcome.results
    assert run_worker("hot") == 0

    row = LeadScore.objects.get(lead=lead, model=model)
    assert row.total == 20 and row.explanation[0]["text"].startswith("Pricing interest: Pricing call")
    assert Lead.objects.get(pk=lead.pk).score == 20


@pytest.mark.django_db
def test_the_nightly_job_rescores_decayed_and_unscored_leads():
    model = scoring_model(status="shadow", fit=[])
    lead = LeadFactory()
    lead.activities.create(
        external_id="A-1",
        kind="call",
        subject="pricing",
        occurred_at=timezone.now() - dt.timedelta(days=1),
        source_updated_at=timezone.now(),
    )
    other = LeadFactory()
    lead_scores_refresh(lead_ids=[lead.pk], now=timezone.now() - dt.timedelta(days=1))
    assert LeadScore.objects.get(lead=lead).total == 20
    counts = lifecycle_rescore()
    assert counts["changed"] >= 1
    assert LeadScore.objects.get(lead=lead, model=model).total < 20  # a day of decay
    assert LeadScore.objects.get(lead=other, model=model).total == 0  # scored for the first time


def test_the_rescore_is_nightly_on_the_low_queue_and_a_bad_cron_is_refused(tmp_path):
    schedule = next(s for s in schedules() if s.name == "lifecycle_rescore")
    assert (schedule.queue, schedule.cron) == ("low", "30 2 * * *")

    result = run_python(LOAD_SETTINGS, clean_env(tmp_path, LIFECYCLE_RESCORE_CRON="nightly"))
    assert result.returncode != 0
    assert "LIFECYCLE_RESCORE_CRON='nightly'" in result.stderr, result.stderr
