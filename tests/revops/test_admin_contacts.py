"""The admin's contacts: the list names accounts and roles, an account's page shows its key contacts, a lead's
page the contact it became, and hand edits are audited with the roles from the checkboxes."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from revops.models import Contact
from tests.factories import AccountFactory, ContactFactory, LeadFactory, RepFactory
from tests.revops.test_admin import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


@pytest.fixture
def acme():
    account = AccountFactory(name="Acme Inc.", owner=RepFactory(name="Ada Owner"))
    sponsor = ContactFactory(
        account=account, first_name="Dana", last_name="Whitfield", title="CFO", roles=["executive_sponsor"]
    )
    champion = ContactFactory(account=account, first_name="Kim", last_name="Lee", roles=["champion", "decision_maker"])
    ContactFactory(account=account, first_name="Old", last_name="Sponsor", roles=["executive_sponsor"], is_active=False)
    ContactFactory(account=account, first_name="No", last_name="Role", roles=[])
    return account, sponsor, champion


def test_the_contact_list_shows_names_accounts_and_roles_and_filters_by_role(admin_client, acme):
    account, sponsor, champion = acme
    changelist = reverse("admin:revops_contact_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "Dana Whitfield" in page and "Acme Inc." in page and "Executive sponsor" in page
    assert f">{account.pk}<" not in page  # names, not ids
    results = admin_client.get(changelist, {"role": "champion"}).context["cl"].result_list
    assert list(results) == [champion]
    results = admin_client.get(changelist, {"role": "none"}).context["cl"].result_list
    assert [c.first_name for c in results] == ["No"]
    results = admin_client.get(changelist, {"account__id__exact": account.pk}).context["cl"].result_list
    assert len(results) == 4


def test_an_accounts_page_shows_its_key_contacts_most_senior_first(admin_client, acme):
    account, sponsor, champion = acme
    page = admin_client.get(reverse("admin:revops_account_change", args=[account.pk])).content.decode()
    table = page[page.index('id="rv-key-contacts"') :]
    table = table[: table.index("</table>")]
    assert table.index("Dana Whitfield") < table.index("Kim Lee")
    assert "Champion, Decision maker" in table and "CFO" in table
    assert "Old Sponsor" not in table and "No Role" not in table
    assert "All 3 active contacts" in page and "(1 without a role)" in page


def test_a_leads_page_shows_the_contact_it_was_converted_into(admin_client, acme):
    account, sponsor, _ = acme
    lead = LeadFactory(status="converted")
    sponsor.converted_from_lead = lead
    sponsor.save()
    page = admin_client.get(reverse("admin:revops_lead_change", args=[lead.pk])).content.decode()
    assert "converted to contact" in page.lower()
    assert reverse("admin:revops_contact_change", args=[sponsor.pk]) in page and "(Acme Inc.)" in page


def test_editing_a_contacts_roles_in_the_admin_is_audited(admin_client, admin_user, acme):
    _, sponsor, _ = acme
    change = reverse("admin:revops_contact_change", args=[sponsor.pk])
    data = form_data(admin_client.get(change), roles=["executive_sponsor", "billing_contact"])
    response = admin_client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    sponsor.refresh_from_db()
    assert sponsor.roles == ["executive_sponsor", "billing_contact"]
    latest = sponsor.history.latest()
    assert latest.history_user == admin_user and latest.history_change_reason == "admin: changed roles"
    history = admin_client.get(reverse("admin:revops_contact_history", args=[sponsor.pk]))
    assert history.status_code == 200 and "Billing contact" in history.content.decode()
    assert Contact.history.filter(id=sponsor.pk).count() == 2


def test_email_and_phone_typed_in_the_admin_are_stored_normalised(admin_client, acme):
    account, sponsor, _ = acme
    account.country = "GB"
    account.save()
    change = reverse("admin:revops_contact_change", args=[sponsor.pk])
    response = admin_client.post(
        change, form_data(admin_client.get(change), email=" Dana@ACME.test ", phone="020 7946 0958")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    sponsor.refresh_from_db()
    assert (sponsor.email, sponsor.phone) == ("dana@acme.test", "+442079460958")
    response = admin_client.post(change, form_data(admin_client.get(change), phone="call me"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == [
        "'call me' is not a phone number: send it with its country code, e.g. +44 20 7946 0958 "
        "(national numbers are read as GB)."
    ]
