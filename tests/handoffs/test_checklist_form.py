"""The checklist admin's form: conditions, required fields, attestations and tasks as rows, never JSON."""

import pytest

from handoffs.models import Checklist
from handoffs.services import checklist_save
from tests.factories import UserFactory
from tests.handoffs.support import checklist_form as form
from tests.handoffs.support import rows

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/handoffs/checklist/add/"
BIG = {"all": [{"field": "opportunity.amount", "op": "gte", "value": "50000"}]}  # decimals are kept as text


@pytest.fixture
def admin(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


def test_the_add_page_shows_rows_not_json_boxes(admin):
    page = admin.get(ADD_URL).content.decode()
    assert 'name="required_fields-0-field"' in page and 'name="tasks-0-due_in_days"' in page
    assert 'name="conditions-0-op"' in page and 'name="attestations-0-label"' in page
    assert '<textarea name="required_fields"' not in page and '<textarea name="conditions"' not in page
    assert 'data-object="opportunity"' in page and 'data-object="account"' in page  # the kind picks the list
    assert "handoffs/checklist_form.js" in page and "<script>" not in page


def test_creating_a_checklist_with_rows(admin):
    response = admin.post(
        ADD_URL,
        form(
            conditions=rows("conditions", {"field": "opportunity.close_date", "op": "within_days", "value": "45"}),
            required_fields=rows(
                "required_fields",
                {"field": "use_case", "when_op": "eq"},
                {
                    "field": "billing_contact",
                    "when_field": "opportunity.amount",
                    "when_op": "gte",
                    "when_value": "50000",
                },
            ),
            attestations=rows("attestations", {"label": "Risks reviewed with the CSM", "role": "CSM"}),
            tasks=rows("tasks", {"title": "Onboarding kickoff", "due_in_days": "3", "description": ""}),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    saved = Checklist.objects.get()
    assert saved.conditions == {"all": [{"field": "opportunity.close_date", "op": "within_days", "value": 45}]}
    assert saved.required_fields == [{"field": "use_case"}, {"field": "billing_contact", "when": BIG}]
    assert saved.attestations == [
        {"key": "risks_reviewed_with_the_csm", "label": "Risks reviewed with the CSM", "role": "CSM"}
    ]
    assert saved.tasks == [{"title": "Onboarding kickoff", "due_in_days": 3}]
    assert saved.history.count() == 1


def test_editing_keeps_an_attestations_key_and_shows_the_stored_rows(admin):
    checklist = checklist_save(
        checklist=Checklist(
            name="Sales → Onboarding",
            required_fields=[{"field": "billing_contact", "when": BIG}],
            attestations=[{"key": "risks_reviewed", "label": "Risks reviewed", "role": "CSM"}],
            tasks=[{"title": "Kickoff", "due_in_days": 2, "description": "Book the call."}],
        ),
        actor=UserFactory(),
    )
    url = f"/admin/handoffs/checklist/{checklist.pk}/change/"
    page = admin.get(url).content.decode()
    assert 'value="Risks reviewed"' in page and 'value="Book the call."' in page and 'value="50000"' in page

    response = admin.post(
        url,
        form(
            name="Sales → Onboarding",
            required_fields=rows(
                "required_fields",
                {
                    "field": "billing_contact",
                    "when_field": "opportunity.amount",
                    "when_op": "gte",
                    "when_value": "50000",
                },
                initial=1,
            ),
            attestations=rows(
                "attestations",
                {"label": "Risks and promises reviewed", "role": "Onboarding lead"},
                {"label": "Risks reviewed", "role": "AE"},  # a new one whose slug the first already uses
                initial=1,
            ),
            tasks=rows(
                "tasks",
                {"title": "Kickoff", "due_in_days": "2", "description": "Book the call.", "DELETE": "on"},
                {"title": "Welcome pack", "due_in_days": "", "description": ""},
                initial=1,
            ),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    checklist.refresh_from_db()
    assert checklist.attestations == [
        {"key": "risks_reviewed", "label": "Risks and promises reviewed", "role": "Onboarding lead"},
        {"key": "risks_reviewed_2", "label": "Risks reviewed", "role": "AE"},
    ]
    assert checklist.required_fields == [{"field": "billing_contact", "when": BIG}]
    assert checklist.tasks == [{"title": "Welcome pack"}]


def test_a_renewal_checklist_requires_account_fields(admin):
    data = form(kind="renewal", required_fields=rows("required_fields", {"field": "billing_contact", "when_op": "eq"}))
    response = admin.post(ADD_URL, data)
    assert response.status_code == 200
    assert "“billing_contact” is not a field of accounts in the data dictionary." in response.content.decode()
    assert not Checklist.objects.exists()


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            {"required_fields": rows("required_fields", {"field": "colour", "when_op": "eq"})},
            "Choose a field from the list (“colour” is not in the data dictionary).",
        ),
        (
            {"conditions": rows("conditions", {"field": "opportunity.amount", "op": "gte", "value": "lots"})},
            "&#x27;lots&#x27; is not a number",
        ),
        (
            {"conditions": rows("conditions", {"field": "opportunity.amount", "op": "starts_with", "value": "5"})},
            "“starts with” does not apply to Amount",
        ),
        (
            {
                "required_fields": rows(
                    "required_fields",
                    {
                        "field": "use_case",
                        "when_field": "opportunity.close_date",
                        "when_op": "within_days",
                        "when_value": "soon",
                    },
                )
            },
            "Give a whole number of days, e.g. 30.",
        ),
        (
            {"attestations": rows("attestations", {"label": "", "role": "CSM"})},
            "Say what must be confirmed, or tick Remove.",
        ),
        (
            {"tasks": rows("tasks", {"title": "Kickoff", "due_in_days": "-1", "description": ""})},
            "Ensure this value is greater than or equal to 0.",
        ),
    ],
)
def test_an_invalid_row_gives_a_form_error_on_the_row_and_saves_nothing(admin, parts, message):
    response = admin.post(ADD_URL, form(**parts))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page, page[page.find("errorlist") - 500 : page.find("errorlist") + 1500]
    assert "Some rows need a fix: see the message on each of them." in page
    assert 'class="rv-row rv-row-error"' in page
    assert not Checklist.objects.exists()


def test_a_condition_the_rows_cannot_show_is_kept(admin):
    nested = {"any": [BIG, {"not": {"field": "opportunity.next_step", "op": "is_empty"}}]}
    checklist = checklist_save(checklist=Checklist(name="Nested", conditions=nested), actor=UserFactory())
    nested = checklist.conditions  # as the engine stores it
    url = f"/admin/handoffs/checklist/{checklist.pk}/change/"
    assert "kept as it is" in admin.get(url).content.decode()
    response = admin.post(url, form(name="Nested", **{"conditions-match": "all"}))
    assert response.status_code == 302, response.content.decode()[:3000]
    checklist.refresh_from_db()
    assert checklist.conditions == nested
    response = admin.post(url, form(name="Nested", **{"conditions-replace": "on"}))
    assert response.status_code == 302
    checklist.refresh_from_db()
    assert checklist.conditions == {}
