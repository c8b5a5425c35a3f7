"""The event hook re-scores a lead when the CRM syncs a new activity of it, through the outbox and a
real RQ worker; the nightly job re-scores leads whose points decayed."""

import datetime as dt

import django_rq
import pytest
from django.utils import timezone

from lifecycle.jobs import lifecycle_rescore
from lifecycle.models import LeadScore, ScoringModel
from lifecycle.selectors import leads_to_rescore
from lifecycle.services import active_specs, lead_scores_refresh
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


@pytest.mark.django_db(transaction=True)
def test_the_nightly_job_rescores_decayed_and_unscored_leads_in_ranges_shared_by_workers(
    redis_conn, run_worker, monkeypatch
):
    monkeypatch.setattr("lifecycle.jobs.RANGE", 2)
    model = scoring_model(status="shadow", fit=[])
    lead = LeadFactory()
    lead.activities.create(
        external_id="A-1",
        kind="call",
        subject="pricing",
        occurred_at=timezone.now() - dt.timedelta(days=1),
        source_updated_at=timezone.now(),
    )
    others = [LeadFactory() for _ in range(4)]
    lead_scores_refresh(lead_ids=[lead.pk], now=timezone.now() - dt.timedelta(days=1))
    assert LeadScore.objects.get(lead=lead).total == 20

    assert lifecycle_rescore() == {"jobs": 3}  # five leads, two ids per job
    ranges = [i for i in django_rq.get_queue("low").job_ids if i.startswith("lifecycle-rescore-")]
    assert len(ranges) == 3
    assert run_worker("low") == 0
    assert LeadScore.objects.get(lead=lead, model=model).total < 20  # a day of decay
    assert {s.total for s in LeadScore.objects.filter(lead__in=others, model=model)} == {0}  # scored at last


@pytest.mark.django_db
def test_a_model_change_leaves_no_lead_waiting_even_when_its_score_stays_the_same():
    model = scoring_model(status="shadow", fit=[])
    unchanged, pricing = LeadFactory(), LeadFactory()
    pricing.activities.create(
        external_id="A-2", kind="call", subject="pricing", occurred_at=timezone.now(), source_updated_at=timezone.now()
    )
    lead_scores_refresh(lead_ids=[unchanged.pk, pricing.pk])
    before = LeadScore.objects.get(lead=unchanged).computed_at
    ScoringModel.objects.filter(pk=model.pk).update(updated_at=timezone.now() + dt.timedelta(seconds=1))
    later = timezone.now() + dt.timedelta(seconds=2)

    specs = active_specs()
    waiting = [pk for chunk in leads_to_rescore(specs=specs, now=later) for pk in chunk]
    assert set(waiting) == {unchanged.pk, pricing.pk}
    lead_scores_refresh(lead_ids=waiting, now=later, specs=specs)
    assert LeadScore.objects.get(lead=unchanged).computed_at > before  # stamped, though its score is the same
    assert [pk for chunk in leads_to_rescore(specs=specs, now=later) for pk in chunk] == [pricing.pk]  # engaged only


def test_the_rescore_is_nightly_on_the_low_queue_and_a_bad_cron_is_refused(tmp_path):
    schedule = next(s for s in schedules() if s.name == "lifecycle_rescore")
    assert (schedule.queue, schedule.cron) == ("low", "30 2 * * *")

    result = run_python(LOAD_SETTINGS, clean_env(tmp_path, LIFECYCLE_RESCORE_CRON="nightly"))
    assert result.returncode != 0
    assert "LIFECYCLE_RESCORE_CRON='nightly'" in result.stderr, result.stderr
