"""End to end in a real browser: log into the admin and read the data dictionary."""

import re

import pytest
from django.urls import reverse

from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_login_and_data_dictionary(admin_page, screenshot):
    # The default dictionary comes from a data migration; the flush after an earlier transactional
    # test wipes it. (Not serialized_rollback: it breaks when a plain transactional test ran before.)
    load_default_dictionary(FieldDefinition)
    page = admin_page

    page.goto("/admin/revops/fielddefinition/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() > 0, "the data dictionary changelist shows no entries"
    assert re.search(r"\blead\b", page.locator("#result_list").inner_text(), re.IGNORECASE)
    screenshot(page, "data-dictionary-changelist")

    entry = FieldDefinition.objects.get(object_type="opportunity", key="contract_start_date")
    page.goto(reverse("admin:revops_fielddefinition_change", args=[entry.pk]))
    assert page.locator("#id_key").input_value() == "contract_start_date"
    assert "contract starts" in page.content()
    screenshot(page, "data-dictionary-entry")
