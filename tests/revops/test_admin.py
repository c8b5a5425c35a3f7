"""The admin: every page renders, lists stay N+1 free, and every save is audited through services."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from revops.models import Account, Activity, Contact, FieldDefinition, Lead, Opportunity, Rep, Task, Team
from tests.factories import (
    AccountFactory,
    ActivityFactory,
    ContactFactory,
    LeadFactory,
    OpportunityFactory,
    RepFactory,
    TaskFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [Team, Rep, Account, Lead, Contact, Opportunity, Activity, Task, FieldDefinition]


@pytest.fixture
def admin_user(db):
    """A superuser without a password hash (hashing costs most of a second per test)."""
    return get_user_model().objects.create(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_client, settings):
    """The signed-in client; production settings (DEBUG off) would redirect its plain HTTP to HTTPS."""
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


def make(model):
    if model is FieldDefinition:
        return FieldDefinition.objects.get(object_type="opportunity", key="use_case")
    if model is Opportunity:
        return OpportunityFactory(stage="closed_won", attributes={"use_case": "Faster routing", "surprise": 1})
    if model is Activity:
        return ActivityFactory(lead=LeadFactory())
    if model is Account:
        return AccountFactory(attributes={"arr": 1000}, parent=AccountFactory())
    if model is Rep:
        return RepFactory(manager=RepFactory(), segments=["SMB", "MM"])
    if model is Team:
        return TeamFactory(parent=TeamFactory())
    if model is Contact:
        return ContactFactory(roles=["champion"], owner=RepFactory(), converted_from_lead=LeadFactory())
    return {Lead: LeadFactory, Task: TaskFactory}[model]()


def url(model, view, *args):
    return reverse(f"admin:revops_{model._meta.model_name}_{view}", args=args)


def form_data(response, **overrides):
    """The POST data that re-submits the change form as rendered, with ``overrides``."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        subwidgets = getattr(field.widget, "widgets", None)
        if subwidgets:
            parts = value if isinstance(value, list) else field.widget.decompress(value)
            for index, part in enumerate(parts):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = value
        else:
            data[name] = "" if value is None else str(value)
        if field.show_hidden_initial:  # fields with callable defaults post their initial value too
            data[f"initial-{name}"] = data.get(name, "")
    data.update(overrides)
    return data


def results(response):
    return list(response.context["cl"].result_list)


def test_every_record_model_has_an_audited_admin():
    from revops.admin.base import AuditedAdmin

    for model in MODELS:
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, AuditedAdmin), model
        for name in model_admin.autocomplete_fields:
            target = model._meta.get_field(name).related_model
            assert admin.site._registry[target].search_fields, f"{model.__name__}.{name} target needs search_fields"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_pages_render(admin_client, model):
    obj = make(model)
    for page in (
        url(model, "changelist"),
        url(model, "add"),
        url(model, "change", obj.pk),
        url(model, "history", obj.pk),
    ):
        response = admin_client.get(page)
        assert response.status_code == 200, page


@pytest.mark.parametrize(
    "model", [Team, Rep, Account, Lead, Contact, Opportunity, Activity, Task], ids=lambda m: m.__name__
)
def test_changelists_do_not_query_per_row(admin_client, model):
    make(model)
    admin_client.get(url(model, "changelist"))  # warm caches (content types, filter values)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url(model, "changelist")).status_code == 200
    for _ in range(6):
        make(model)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url(model, "changelist")).status_code == 200
    assert len(many) <= len(few), [q["sql"] for q in many.captured_queries]


def test_big_tables_skip_the_full_count():
    for model in (Lead, Contact, Activity, Opportunity, Account):
        assert admin.site._registry[model].show_full_result_count is False


def test_lead_changelist_search_and_filters(admin_client):
    ada = LeadFactory(first_name="Ada", email="ada@lovelace.test", company="Analytical Engines", status="new")
    bob = LeadFactory(first_name="Bob", email="bob@babbage.test", status="working", owner=RepFactory())
    changelist = url(Lead, "changelist")

    assert results(admin_client.get(changelist, {"q": "lovelace"})) == [ada]
    assert results(admin_client.get(changelist, {"q": "Analytical"})) == [ada]
    assert results(admin_client.get(changelist, {"status__exact": "working"})) == [bob]
    assert results(admin_client.get(changelist, {"owner_state": "unassigned"})) == [ada]
    response = admin_client.get(changelist, {"owner_state": "assigned", "q": "babbage"})
    assert results(response) == [bob]
    assert b"unassigned" in admin_client.get(changelist).content


def test_opportunity_close_date_filter_finds_overdue_open_deals(admin_client):
    import datetime as dt

    from django.utils import timezone

    past = timezone.localdate() - dt.timedelta(days=3)
    overdue = OpportunityFactory(stage="proposal", close_date=past)
    OpportunityFactory(stage="closed_won", close_date=past)
    OpportunityFactory(stage="proposal")
    response = admin_client.get(url(Opportunity, "changelist"), {"close": "overdue"})
    assert results(response) == [overdue]
    assert b"passed" in response.content


def test_saving_a_lead_writes_history_with_the_admin_user_and_reason(admin_client, admin_user):
    lead = LeadFactory(status="new", source_updated_at=None)
    change = url(Lead, "change", lead.pk)
    data = form_data(admin_client.get(change), status="working", score="80")

    response = admin_client.post(change, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert (lead.status, lead.score) == ("working", 80)
    latest = lead.history.latest()
    assert latest.history_user == admin_user
    assert latest.history_change_reason == "admin: changed status, score"


def test_adding_a_lead_in_the_admin_is_audited(admin_client, admin_user):
    response = admin_client.post(
        url(Lead, "add"),
        {
            "external_id": "L-ADMIN-1",
            "first_name": "Grace",
            "email": "grace@navy.test",
            "status": "new",
            "attributes": "{}",
        },
    )
    assert response.status_code == 302
    row = Lead.objects.get(external_id="L-ADMIN-1").history.get()
    assert (row.history_type, row.history_user, row.history_change_reason) == ("+", admin_user, "admin: created")


def test_custom_attributes_are_checked_against_the_dictionary(admin_client):
    opportunity = OpportunityFactory(source_updated_at=None, last_activity_at=None)
    change = url(Opportunity, "change", opportunity.pk)
    data = form_data(
        admin_client.get(change), attributes='{"use_case": "Routing", "colour": "red", "contract_start_date": "soon"}'
    )

    response = admin_client.post(change, data)

    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["attributes"])
    assert "colour" in errors and "contract_start_date" in errors
    opportunity.refresh_from_db()
    assert opportunity.attributes == {}


def test_opportunity_change_page_shows_attributes_and_dictionary_check(admin_client):
    opportunity = make(Opportunity)
    content = admin_client.get(url(Opportunity, "change", opportunity.pk)).content.decode()
    assert "Faster routing" in content and "Use case" in content  # labelled from the dictionary
    assert "not in dictionary" in content  # "surprise"
    assert "products_purchased: is required when stage is closed_won but missing" in content


def test_deleting_a_record_in_the_admin_is_audited(admin_client, admin_user):
    task = TaskFactory()
    response = admin_client.post(url(Task, "delete", task.pk), {"post": "yes"})
    assert response.status_code == 302
    row = Task.history.get(id=task.pk, history_type="-")
    assert (row.history_user, row.history_change_reason) == (admin_user, "admin: deleted")


# --- Data dictionary -------------------------------------------------------------------------


def test_dictionary_list_shows_core_and_custom_badges(admin_client):
    content = admin_client.get(url(FieldDefinition, "changelist"), {"object_type__exact": "opportunity"}).content
    assert b"Core column" in content
    assert b"Custom attribute" in content
    assert b"From closed_won" in content
    custom = admin_client.get(url(FieldDefinition, "changelist"), {"kind": "custom"})
    assert {f.is_core for f in results(custom)} == {False}


def test_core_entries_are_read_only_where_they_mirror_a_column(admin_client, admin_user):
    field = FieldDefinition.objects.get(object_type="lead", key="score")
    change = url(FieldDefinition, "change", field.pk)
    response = admin_client.get(change)
    form = response.context["adminform"].form
    assert {"key", "object_type", "field_type", "is_core"}.isdisjoint(form.fields)
    assert {"definition", "owning_team", "source_of_truth", "required"} <= set(form.fields)
    assert b"Core column" in response.content

    response = admin_client.post(change, form_data(response, definition="Fit and intent, 0-100.", key="hacked"))

    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.key, field.definition) == ("score", "Fit and intent, 0-100.")
    latest = field.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (admin_user, "admin: changed definition")


def test_deleting_a_core_entry_is_refused(admin_client):
    field = FieldDefinition.objects.get(object_type="lead", key="email")
    change = admin_client.get(url(FieldDefinition, "change", field.pk))
    assert url(FieldDefinition, "delete", field.pk).encode() not in change.content

    assert admin_client.get(url(FieldDefinition, "delete", field.pk)).status_code == 403
    assert admin_client.post(url(FieldDefinition, "delete", field.pk), {"post": "yes"}).status_code == 403
    assert FieldDefinition.objects.filter(pk=field.pk).exists()
    assert "delete_selected" not in admin.site._registry[FieldDefinition].get_actions(change.wsgi_request)


def add_custom_field(admin_client, **overrides):
    data = {
        "object_type": "lead",
        "key": "buying_stage",
        "label": "Buying stage",
        "definition": "Where the buyer is in their purchase.",
        "is_core": "",
        "field_type": "choice",
        "allowed_values": "research\nevaluation\npurchase",
        "reference_to": "",
        "source_of_truth": "marketing_automation",
        "owning_team": "Marketing",
        "required": "never",
        "required_from": "",
        **overrides,
    }
    return admin_client.post(url(FieldDefinition, "add"), data)


def test_adding_a_custom_field_goes_through_the_service(admin_client, admin_user):
    response = add_custom_field(admin_client)

    assert response.status_code == 302
    field = FieldDefinition.objects.get(object_type="lead", key="buying_stage")
    assert field.allowed_values == ["research", "evaluation", "purchase"]
    row = field.history.get()
    assert (row.history_user, row.history_change_reason) == (admin_user, "admin: created")


@pytest.mark.parametrize(
    "overrides, field_name",
    [
        ({"allowed_values": ""}, "allowed_values"),
        ({"allowed_values": "research\nresearch"}, "allowed_values"),
        ({"object_type": "rep", "key": "user"}, "key"),  # a rep column the dictionary does not describe
        ({"required": "from_stages", "required_from": "signed"}, "required_from"),
    ],
)
def test_invalid_custom_fields_are_refused_in_the_form(admin_client, overrides, field_name):
    response = add_custom_field(admin_client, **overrides)
    assert response.status_code == 200
    assert field_name in response.context["adminform"].form.errors
    assert not FieldDefinition.objects.filter(key=overrides.get("key", "buying_stage")).exists()


def test_custom_field_delete_is_audited_and_refused_while_in_use(admin_client, admin_user):
    add_custom_field(admin_client)
    field = FieldDefinition.objects.get(object_type="lead", key="buying_stage")
    lead = LeadFactory(attributes={"buying_stage": "research"})
    delete = url(FieldDefinition, "delete", field.pk)

    response = admin_client.post(delete, {"post": "yes"}, follow=True)
    assert FieldDefinition.objects.filter(pk=field.pk).exists()
    assert "mark the field deprecated" in response.content.decode()

    Lead.objects.filter(pk=lead.pk).update(attributes={})
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not FieldDefinition.objects.filter(pk=field.pk).exists()
    row = FieldDefinition.history.get(id=field.pk, history_type="-")
    assert (row.history_user, row.history_change_reason) == (admin_user, "admin: deleted")


def test_reverting_from_history_is_audited_as_a_revert(admin_client, admin_user):
    lead = LeadFactory(status="new", source_updated_at=None)
    first = lead.history.get()
    lead.status = "working"
    lead.save()
    revert = reverse("admin:revops_lead_simple_history", args=[lead.pk, first.history_id])

    response = admin_client.post(revert, form_data(admin_client.get(revert)))

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.status == "new"
    latest = lead.history.latest()
    assert latest.history_user == admin_user
    assert latest.history_change_reason.startswith(f"admin: reverted to version {first.history_id} (")
    assert "status" in latest.history_change_reason
    history_page = admin_client.get(url(Lead, "history", lead.pk)).content.decode()
    assert "admin: reverted to version" in history_page
