"""Scoring models and lead scores: validation, live scores written to the lead and the changes feed
once per change, shadow scores never written, and the shadow agreement report on known data."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from lifecycle.models import LeadScore, ScoringModel
from lifecycle.selectors import shadow_report, why_scores
from lifecycle.services import lead_scores_refresh, scoring_model_save
from revops.models import ChangeEntry
from tests.factories import AccountFactory, ActivityFactory, LeadFactory, UserFactory

from .support import BIG, scoring_model

pytestmark = pytest.mark.django_db


def score_feed():
    return list(ChangeEntry.objects.filter(kind="field_updated", payload__field="score").order_by("id"))


def test_a_live_model_writes_the_leads_score_and_one_feed_entry_per_change():
    scoring_model(status="live")
    account = AccountFactory(employees=900)
    lead = LeadFactory(matched_account=account, score=55, email="ann@bigco.test")
    now = timezone.now()

    assert lead_scores_refresh(lead_ids=[lead.pk], now=now) == 1
    lead.refresh_from_db()
    assert lead.score == 20
    assert lead.history.first().history_user.username == "lead-scoring"
    assert lead.history.first().history_change_reason == "scoring model Inbound"
    [entry] = score_feed()
    assert (entry.external_id, entry.payload["value"], entry.payload["previous"]) == (lead.external_id, 20, 55)

    lead_scores_refresh(lead_ids=[lead.pk], now=now)  # nothing changed: nothing written
    assert len(score_feed()) == 1

    ActivityFactory(lead=lead, kind="call", subject="Pricing call", occurred_at=now - dt.timedelta(hours=1))
    lead_scores_refresh(lead_ids=[lead.pk], now=now)
    lead.refresh_from_db()
    assert lead.score == 40
    assert [e.payload["value"] for e in score_feed()] == [20, 40]


def test_a_shadow_model_never_writes_the_lead_and_reports_agreement_with_the_crm():
    model = scoring_model(status="shadow", agreement_points=10)
    big = AccountFactory(employees=900)
    agree = LeadFactory(matched_account=big, score=25)  # model 20: within 10
    differ = LeadFactory(matched_account=None, score=70)  # model 0: 70 apart
    far = LeadFactory(matched_account=None, score=40)  # model 0: 40 apart
    unknown = LeadFactory(matched_account=None, score=None)
    lead_scores_refresh(lead_ids=[agree.pk, differ.pk, far.pk, unknown.pk])
    assert LeadScore.objects.filter(model=model).count() == 4
    differ.refresh_from_db()
    assert differ.score == 70 and not score_feed()

    report = shadow_report(model)
    assert (report.scored, report.compared, report.agreed) == (4, 3, 1)
    assert report.rate == pytest.approx(1 / 3)
    assert [(r["lead"], r["difference"]) for r in report.differ_most] == [(differ, 70), (far, 40)]
    assert shadow_report(model, within=40).agreed == 2

    [panel] = why_scores(agree.pk)
    assert panel["agrees"] is True and panel["crm_score"] == 25 and panel["total"] == 20
    assert why_scores(differ.pk)[0]["agrees"] is False
    assert why_scores(unknown.pk)[0]["agrees"] is None


def test_draft_models_score_nothing():
    scoring_model(status="draft")
    lead = LeadFactory()
    assert lead_scores_refresh(lead_ids=[lead.pk]) == 0
    assert not LeadScore.objects.exists()


def test_the_event_path_follows_model_changes_between_calls():
    """Without ``specs`` (the event hook), the models' version comes back with the leads: a change made
    since the last call (points, shadow to live, a deletion) is scored at once, not after a cache expires."""
    model = scoring_model(status="shadow")
    lead = LeadFactory(matched_account=AccountFactory(employees=900), score=55)
    lead_scores_refresh(lead_ids=[lead.pk])
    assert LeadScore.objects.get(lead=lead).total == 20

    actor = UserFactory()
    fit = [{"label": "Big company", "condition": BIG, "points": 30}]
    scoring_model_save(model=model, fit_rules=fit, actor=actor, reason="more points")
    lead_scores_refresh(lead_ids=[lead.pk])
    assert LeadScore.objects.get(lead=lead).total == 30
    lead.refresh_from_db()
    assert lead.score == 55  # still a shadow

    model.status = ScoringModel.Status.LIVE
    scoring_model_save(model=model, actor=actor, reason="goes live")
    lead_scores_refresh(lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert lead.score == 30 and [e.payload["value"] for e in score_feed()] == [30]

    second = scoring_model(name="Second", status="shadow", fit=[{"condition": BIG, "points": 5}], engagement=[])
    lead_scores_refresh(lead_ids=[lead.pk])
    assert LeadScore.objects.get(lead=lead, model=second).total == 5


def test_invalid_models_are_refused_with_sentences_naming_the_rule():
    user = UserFactory()
    with pytest.raises(ValidationError) as error:
        scoring_model("Bad", fit=[{"condition": {"field": "lead.nope", "op": "eq", "value": 1}, "points": 5}])
    assert "fit_rules[0]" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        scoring_model("Bad", fit=[{"condition": {"all": []}, "points": 2.5}])
    assert "whole number" in str(error.value)
    with pytest.raises(ValidationError) as error:
        scoring_model("Bad", engagement=[{"activity_kind": "call", "points": 5, "decay": "half_life"}])
    assert "half-life in days" in str(error.value)
    with pytest.raises(ValidationError) as error:
        scoring_model("Bad", engagement=[{"activity_kind": "call", "points": 5, "colour": "red"}])
    assert "Unknown keys colour" in str(error.value)
    with pytest.raises(ValidationError):
        scoring_model("Bad", min_total=50, max_total=10)

    scoring_model("First", status="live")
    with pytest.raises(ValidationError) as error:
        scoring_model("Second", status="live")
    assert "Only one model can be live" in str(error.value)
    assert not ScoringModel.objects.filter(name__in=["Bad", "Second"]).exists()
    first = ScoringModel.objects.get(name="First")
    first.status = "shadow"
    scoring_model_save(model=first, actor=user)
    scoring_model("Second", status="live")


def test_rescoring_runs_a_constant_number_of_queries_whatever_the_number_of_leads():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from lifecycle.services import active_specs

    scoring_model(status="shadow")
    now = timezone.now()
    leads = [LeadFactory(matched_account=AccountFactory(employees=900)) for _ in range(12)]
    for lead in leads:
        ActivityFactory(lead=lead, kind="call", subject="pricing", occurred_at=now - dt.timedelta(days=1))
    active_specs()  # compiled once; later calls read one row per model

    def queries(ids):
        with CaptureQueriesContext(connection) as captured:
            lead_scores_refresh(lead_ids=ids, now=now)
        return len(captured)

    one, many = queries([leads[0].pk]), queries([lead.pk for lead in leads[1:]])
    assert one == many  # models, leads, activities, stored scores, then one bulk write
    assert LeadScore.objects.filter(total=38).count() == 12  # 20 fit + 20 pricing call a day old (decayed: 18)
