"""The lifecycle demo: the trial model built through the service and every demo lead explained."""

import pytest
from django.db.models import Count
from django.utils import timezone

from lifecycle.demo import DEMO_MODEL
from lifecycle.models import LeadScore, ScoringModel
from lifecycle.selectors import shadow_report
from revops.demo import demo_load
from revops.models import Lead

pytestmark = pytest.mark.django_db


def test_the_demo_scores_every_lead_with_explanations_and_a_shadow_report():
    now = timezone.now()
    result = demo_load(seed=42, now=now)
    model = ScoringModel.objects.get(name=DEMO_MODEL)
    assert model.status == "shadow" and model.history.exists()
    assert LeadScore.objects.filter(model=model).count() == Lead.objects.count()
    for row in LeadScore.objects.filter(model=model)[:200]:
        assert sum(line["points"] for line in row.explanation) == row.total
    kinds = {line["kind"] for row in LeadScore.objects.filter(model=model) for line in row.explanation}
    assert {"fit", "engagement"} <= kinds
    assert LeadScore.objects.filter(model=model, total__gt=0).values("total").annotate(n=Count("id")).count() > 5
    report = shadow_report(model)
    assert report.compared > 500 and 0 < report.agreed < report.compared and report.differ_most
    assert any("scored" in line for line in result.lines())

    # a second load changes nothing
    before = LeadScore.objects.count()
    demo_load(seed=42, now=now)
    assert LeadScore.objects.count() == before
