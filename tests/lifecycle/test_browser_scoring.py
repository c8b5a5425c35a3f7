"""In a real browser: a RevOps admin builds a scoring model's fit rule with the condition builder in a row
added with "Add another fit rule" (no JSON typed) and saves it through the service."""

import pytest
from django.urls import reverse

from lifecycle.models import FitRule, ScoringModel
from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_fit_rule_is_built_with_the_condition_builder_in_an_added_inline_row(admin_page, screenshot):
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    page = admin_page
    page.goto(reverse("admin:lifecycle_scoringmodel_add"))
    page.fill("#id_name", "Browser model")
    page.select_option("#id_status", "shadow")
    page.click("#fit_rules-group .add-row a")
    row = page.locator("#fit_rules-0")
    row.locator(".rv-cb-root > .rv-cb-actions .rv-cb-add-condition").click()
    leaf = row.locator(".rv-cb-leaf").nth(0)
    leaf.locator(".rv-cb-field").select_option("lead.matched_account.employees")
    leaf.locator(".rv-cb-op").select_option("gte")
    leaf.locator("input.rv-cb-value").fill("500")
    page.fill("#id_fit_rules-0-points", "20")
    screenshot(page, "scoring-model-fit-rule")
    page.click("input[name=_save]")
    page.wait_for_url(f"**{reverse('admin:lifecycle_scoringmodel_changelist')}")
    model = ScoringModel.objects.get(name="Browser model")
    rule = FitRule.objects.get(model=model)
    assert rule.points == 20
    assert rule.condition == {"all": [{"field": "lead.matched_account.employees", "op": "gte", "value": 500}]}


def test_the_why_page_explains_the_score_point_by_point(admin_page, screenshot):
    import datetime as dt

    from django.utils import timezone

    from lifecycle.services import lead_scores_refresh
    from tests.factories import AccountFactory, ActivityFactory, LeadFactory

    from .support import scoring_model

    load_default_dictionary(FieldDefinition)
    scoring_model(status="shadow", agreement_points=10)
    lead = LeadFactory(matched_account=AccountFactory(employees=900), email="ann@gmail.com", score=60)
    ActivityFactory(lead=lead, kind="call", subject="Pricing call", occurred_at=timezone.now() - dt.timedelta(days=7))
    lead_scores_refresh(lead_ids=[lead.pk])
    admin_page.goto(reverse("admin:revops_lead_why", args=[lead.pk]))
    panel = admin_page.locator(".rv-panel-score")
    text = panel.inner_text()
    assert "Inbound: 20 points" in text and "differs from the CRM's 60" in text
    lines = panel.locator(".rv-score-lines li").all_inner_texts()
    assert lines == [
        "+20 Employees (matched account) ≥ 500",
        "−10 Free-mail address",
        "+10 Pricing interest: Pricing call, 7 days ago (decayed from +20)",
    ]
    screenshot(admin_page, "why-lead-score")
