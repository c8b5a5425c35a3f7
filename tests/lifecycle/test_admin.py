"""The scoring model admin: list, add with the condition builder, save with rules through the service,
the shadow report on the model's page, and the Why page's score panel."""

import pytest
from django.urls import reverse

from lifecycle.models import FitRule, ScoringModel
from lifecycle.services import lead_scores_refresh
from tests.factories import AccountFactory, LeadFactory

from .support import scoring_model

pytestmark = pytest.mark.django_db


def test_the_admin_pages_render_with_the_condition_builder_and_the_shadow_report(admin_client):
    model = scoring_model(status="shadow")
    lead = LeadFactory(matched_account=AccountFactory(employees=900), score=90)
    lead_scores_refresh(lead_ids=[lead.pk])

    listing = admin_client.get(reverse("admin:lifecycle_scoringmodel_changelist")).content.decode()
    assert "Inbound" in listing and "1 fit" not in listing and "2 fit, 1 engagement" in listing

    add = admin_client.get(reverse("admin:lifecycle_scoringmodel_add")).content.decode()
    assert "revops/condition_builder.js" in add and 'class="rv-cb"' in add  # in the inline's template row

    page = admin_client.get(reverse("admin:lifecycle_scoringmodel_change", args=[model.pk])).content.decode()
    assert page.count('class="rv-cb"') == 3  # the two fit rules and the template row of "Add another"
    assert "0%</strong> of 1 leads with a CRM score agree within 10 points" in page
    assert lead.external_id in page or str(lead.first_name) in page

    why = admin_client.get(reverse("admin:revops_lead_why", args=[lead.pk])).content.decode()
    assert "rv-panel-score" in why and "+20 Employees (matched account) ≥ 500" in why
    assert "differs from the CRM&#x27;s 90" in why or "differs from the CRM's 90" in why


def _formset(prefix, rows):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        data.update({f"{prefix}-{i}-{k}": v for k, v in row.items()})
    return data


def test_adding_a_model_with_rules_in_the_admin_goes_through_the_service(admin_client):
    data = {"name": "Admin model", "status": "shadow", "min_total": "0", "max_total": "100", "agreement_points": "10"}
    data.update(
        _formset(
            "fit_rules",
            [
                {
                    "label": "Big",
                    "condition": '{"field": "lead.matched_account.employees", "op": "gte", "value": 500}',
                    "points": "20",
                }
            ],
        )
    )
    data.update(
        _formset(
            "engagement_rules",
            [
                {
                    "label": "Pricing",
                    "activity_kind": "call",
                    "subject_contains": "pricing",
                    "points": "20",
                    "window_days": "30",
                    "decay": "half_life",
                    "half_life_days": "",
                }
            ],
        )
    )
    response = admin_client.post(reverse("admin:lifecycle_scoringmodel_add"), data)
    assert response.status_code == 200  # half-life without its days: the form says so
    assert "half-life in days" in response.content.decode()
    assert not ScoringModel.objects.exists()

    data["engagement_rules-0-half_life_days"] = "7"
    response = admin_client.post(reverse("admin:lifecycle_scoringmodel_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    model = ScoringModel.objects.get(name="Admin model")
    assert FitRule.objects.get(model=model).points == 20
    assert model.engagement_rules.get().half_life_days == 7
    assert model.history.first().history_user is not None
