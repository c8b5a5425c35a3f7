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
