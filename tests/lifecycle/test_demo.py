"""The lifecycle demo: the live model built through the service and every demo lead explained; leads at
every stage, MQLs accepted and rejected with reasons, and MQLs waiting for the demo rep's login."""

import pytest
from django.db.models import Count
from django.utils import timezone

from exceptions.models import ExceptionItem
from lifecycle.demo import DEMO_MODEL
from lifecycle.models import LeadScore, LeadStage, ScoringModel, Stage, StageTransition
from lifecycle.stage_demo import REP_USERNAME
from revops.demo import demo_load
from revops.models import ChangeEntry, Lead

pytestmark = pytest.mark.django_db


def test_the_demo_scores_every_lead_live_and_stages_them():
    now = timezone.now()
    result = demo_load(seed=42, now=now)
    model = ScoringModel.objects.get(name=DEMO_MODEL)
    assert model.status == "live" and model.history.exists()
    assert LeadScore.objects.filter(model=model).count() == Lead.objects.count()
    for row in LeadScore.objects.filter(model=model)[:200]:
        assert sum(line["points"] for line in row.explanation) == row.total
    kinds = {line["kind"] for row in LeadScore.objects.filter(model=model) for line in row.explanation}
    assert {"fit", "engagement"} <= kinds
    assert LeadScore.objects.filter(model=model, total__gt=0).values("total").annotate(n=Count("id")).count() > 5
    live = LeadScore.objects.filter(model=model).select_related("lead")[:200]
    assert all(row.lead.score == row.total for row in live)  # the live score is the lead's score
    assert ChangeEntry.objects.filter(payload__field="score").exists()
    assert any("scored" in line for line in result.lines())

    # Leads at every stage, by the real code: criteria, answers (accepted, rejected with a reason), recycling.
    staged = set(LeadStage.objects.values_list("stage__key", flat=True))
    assert staged == set(Stage.objects.values_list("key", flat=True))
    assert StageTransition.objects.filter(cause="accepted").exists()
    rejection = StageTransition.objects.filter(cause="rejected").exclude(reason_code="").first()
    assert rejection is not None and rejection.note and rejection.to_stage.key == "recycled"
    mql = Stage.objects.get(key="mql")
    assert mql.sla_policy == "MQL: 24 hours" and mql.entry_condition
    waiting = LeadStage.objects.filter(stage=mql, lead__owner__user__username=REP_USERNAME)
    assert waiting.count() >= 3 and waiting.filter(overdue_at=None).exists()
    assert ExceptionItem.objects.filter(kind="mql_unanswered").exists()
    assert ChangeEntry.objects.filter(payload__field="lifecycle_stage").count() >= LeadStage.objects.count()

    # a second load changes nothing
    before = LeadScore.objects.count(), StageTransition.objects.count()
    demo_load(seed=42, now=now)
    assert (LeadScore.objects.count(), StageTransition.objects.count()) == before
