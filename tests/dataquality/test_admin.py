"""The admin pages render in plain words: rules (with their fields), duplicate sets named by their
records with the evidence, dismissing with a reason, the scans, and the Why page's Duplicates panel."""

import pytest
from django.urls import reverse

from dataquality.models import DuplicateRule, DuplicateSet
from dataquality.scan import scan_start, scan_step
from tests.factories import AccountFactory, LeadFactory

from .support import rule

pytestmark = pytest.mark.django_db


def _found():
    rule()
    ada = LeadFactory(external_id="L-1003", first_name="Ada", last_name="Moreno", email="ada@x.com")
    LeadFactory(external_id="L-2001", first_name="Ada", last_name="Moreon", email="ADA@x.com")
    scan = scan_start()
    while scan_step(scan_id=scan.pk):
        pass
    return ada, DuplicateSet.objects.get()


def test_rule_pages_render_and_a_rule_is_added_with_its_fields(admin_client):
    rule()
    listing = admin_client.get(reverse("admin:dataquality_duplicaterule_changelist")).content.decode()
    assert "Leads: same person" in listing and "email (same once normalised, 100 points)" in listing
    saved = DuplicateRule.objects.get()
    assert admin_client.get(reverse("admin:dataquality_duplicaterule_change", args=[saved.pk])).status_code == 200
    assert admin_client.get(reverse("admin:dataquality_duplicaterule_add")).status_code == 200
    data = {
        "name": "Accounts: same company",
        "object_type": "account",
        "description": "",
        "is_active": "on",
        "action": "report",
        "threshold": "100",
        "fields-TOTAL_FORMS": "2",
        "fields-INITIAL_FORMS": "0",
        "fields-0-field": "name",
        "fields-0-method": "fuzzy",
        "fields-0-similarity": "85",
        "fields-0-weight": "60",
        "fields-0-blocking": "on",
        "fields-1-field": "web_domain",
        "fields-1-method": "domain",
        "fields-1-similarity": "90",
        "fields-1-weight": "60",
        "fields-1-blocking": "on",
    }
    response = admin_client.post(reverse("admin:dataquality_duplicaterule_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    added = DuplicateRule.objects.get(name="Accounts: same company")
    assert [f.field for f in added.fields.all()] == ["name", "web_domain"]
    # Without a blocking key the form says why instead of saving.
    data.update({"name": "Unblocked", "fields-0-blocking": "", "fields-1-blocking": ""})
    response = admin_client.post(reverse("admin:dataquality_duplicaterule_add"), data)
    assert response.status_code == 200 and "must be a blocking key" in response.content.decode()


def test_set_pages_name_the_records_and_dismiss_takes_a_reason(admin_client):
    ada, dup_set = _found()
    listing = admin_client.get(reverse("admin:dataquality_duplicateset_changelist")).content.decode()
    assert "Ada Moreno and Ada Moreon" in listing or "Ada Moreon and Ada Moreno" in listing
    page = admin_client.get(reverse("admin:dataquality_duplicateset_change", args=[dup_set.pk])).content.decode()
    assert "L-1003" in page and "email: same once normalised (ada@x.com)" in page and "Dismiss: not duplicates" in page
    assert "<title>Ada Moreno and Ada Moreon" in page or "<title>Ada Moreon and Ada Moreno" in page
    url = reverse("admin:dataquality_duplicateset_dismiss", args=[dup_set.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"reason": ""})
    assert response.status_code == 200 and DuplicateSet.objects.get().status == "open"
    response = admin_client.post(url, {"reason": "Different people"})
    assert response.status_code == 302 and DuplicateSet.objects.get().status == "dismissed"
    page = admin_client.get(reverse("admin:dataquality_duplicateset_change", args=[dup_set.pk])).content.decode()
    assert "Different people" in page
    assert admin_client.get(reverse("admin:dataquality_duplicatescan_changelist")).status_code == 200
    # The rule that found the set cannot be deleted (it is made inactive instead).
    delete = admin_client.get(reverse("admin:dataquality_duplicaterule_delete", args=[dup_set.rule_id]))
    assert delete.status_code == 403


def test_the_why_page_shows_the_duplicates_panel(admin_client):
    ada, dup_set = _found()
    why = admin_client.get(reverse("admin:revops_lead_why", args=[ada.pk])).content.decode()
    assert "rv-panel-duplicates" in why and "Ada Moreon" in why and "L-2001" in why
    account = AccountFactory()
    why = admin_client.get(reverse("admin:revops_account_why", args=[account.pk])).content.decode()
    assert "rv-panel-duplicates" not in why
