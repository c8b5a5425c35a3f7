"""The automation registry admin: pages render, the form validates through the service, governance is enforced."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exceptions.models import Queue
from revops.models import Automation, AutomationRun, FieldDefinition
from tests.factories import LeadFactory, UserFactory
from tests.revops.automation_support import TEST_KIND, ensure_test_kind, make_automation, make_run
from tests.revops.test_admin import form_data as main_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


@pytest.fixture
def owners():
    return UserFactory(username="rule-owner"), UserFactory(username="failure-owner")


@pytest.fixture
def automation(admin_user, owners):
    return make_automation(actor=admin_user, rule_owner=owners[0])


def url(model, view, *args):
    return reverse(f"admin:revops_{model}_{view}", args=args)


def form_data(response, **overrides):
    """The change form as rendered (with the read-only inlines' management forms), with ``overrides``."""
    data = main_form_data(response, **overrides)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value() or 0)
    return data


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_render(admin_client, automation):
    lead = LeadFactory()
    run = make_run(
        automation,
        lead,
        key="event:1",
        actions=[("update_field", "applied", {"key": "status", "value": "new"}, {"key": "status", "value": "working"})],
    )
    for path in (
        url("automation", "changelist"),
        url("automation", "add"),
        url("automation", "change", automation.pk),
        url("automation", "history", automation.pk),
        url("automation", "shadow", automation.pk),
        url("automationrun", "changelist"),
        url("automationrun", "change", run.pk),
        url("automationrun", "history", run.pk),
    ):
        response = admin_client.get(path)
        assert response.status_code == 200, path


def test_changelist_is_n_plus_one_free(admin_client, admin_user, owners):
    lead = LeadFactory()
    for index in range(3):
        make_run(make_automation(actor=admin_user, name=f"rule {index}", rule_owner=owners[0]), lead, key="event:1")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url("automation", "changelist"))
    for index in range(3, 8):
        make_run(make_automation(actor=admin_user, name=f"rule {index}", failure_owner=owners[1]), lead, key="e:2")
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url("automation", "changelist"))
    assert response.status_code == 200
    assert len(many) == len(few)
    row = response.content.decode()
    assert "when created or updated" in row and "Draft" in row


def test_change_page_shows_plain_language_fields_used_and_blockers(admin_client, automation):
    page = admin_client.get(url("automation", "change", automation.pk)).content.decode()
    assert "Country is one of US, CA and Lead score ≥ 50" in page
    country = FieldDefinition.objects.get(object_type="lead", key="country")
    assert reverse("admin:revops_fielddefinition_change", args=[country.pk]) in page
    assert "<code>lead.score</code>" in page
    assert "it has no failure owner (who is told when it fails)" in page
    assert "it has no exception path" in page


def test_ready_automation_says_so(admin_client, automation, owners):
    Queue.objects.get_or_create(name="RevOps triage")  # the exception path must name a queue
    Automation.objects.filter(pk=automation.pk).update(failure_owner=owners[1], exception_queue="RevOps triage")
    page = admin_client.get(url("automation", "change", automation.pk)).content.decode()
    assert "Ready to go live" in page


def test_add_through_the_form_creates_version_one(admin_client, owners):
    ensure_test_kind()
    response = admin_client.get(url("automation", "add"))
    data = form_data(
        response,
        name="Webinar leads",
        purpose="Tell the owner about webinar leads.",
        kind=TEST_KIND,
        object_type="lead",
        trigger="field_changed",
        trigger_fields="country, score",
        conditions='{"all": [{"field": "lead.source", "op": "eq", "value": "webinar"}]}',
        config="{}",
        rule_owner=str(owners[0].pk),
        mode="draft",
        risk="low",
        review_cadence_days="90",
    )
    response = admin_client.post(url("automation", "add"), data)
    assert response.status_code == 302, _debug(response)
    automation = Automation.objects.get(name="Webinar leads")
    assert automation.version == 1 and automation.versions.count() == 1
    assert automation.trigger_fields == ["country", "score"]
    assert automation.fields_used == ["lead.country", "lead.score", "lead.source"]
    assert automation.identity is not None
    assert automation.history.first().history_user.username == "admin"


def test_form_refuses_invalid_conditions_naming_the_condition(admin_client, automation):
    response = admin_client.get(url("automation", "change", automation.pk))
    bad = '{"all": [{"field": "lead.country", "op": "eq", "value": "US"}, {"field": "lead.employes", "op": "gte", "value": 5}]}'
    response = admin_client.post(url("automation", "change", automation.pk), form_data(response, conditions=bad))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "condition 2 of 'all': lead.employes is not a lead field in the data dictionary" in errors["conditions"][0]
    assert "lead.employes is not a lead field" in response.content.decode()
    automation.refresh_from_db()
    assert automation.version == 1


def test_form_refuses_wrong_type(admin_client, automation):
    response = admin_client.get(url("automation", "change", automation.pk))
    bad = '{"field": "lead.score", "op": "gte", "value": "lots"}'
    response = admin_client.post(url("automation", "change", automation.pk), form_data(response, conditions=bad))
    assert response.status_code == 200
    assert "is not a whole number for Lead score" in " ".join(response.context["adminform"].form.errors["conditions"])


def test_rule_change_through_the_form_makes_a_new_version(admin_client, automation):
    response = admin_client.get(url("automation", "change", automation.pk))
    new = '{"field": "lead.country", "op": "eq", "value": "US"}'
    response = admin_client.post(url("automation", "change", automation.pk), form_data(response, conditions=new))
    assert response.status_code == 302
    automation.refresh_from_db()
    assert automation.version == 2 and automation.fields_used == ["lead.country"]
    response = admin_client.get(url("automation", "change", automation.pk))
    response = admin_client.post(url("automation", "change", automation.pk), form_data(response, purpose="Clearer."))
    automation.refresh_from_db()
    assert automation.version == 2 and automation.purpose == "Clearer."


def test_form_refuses_going_live_without_failure_owner(admin_client, automation):
    response = admin_client.get(url("automation", "change", automation.pk))
    response = admin_client.post(url("automation", "change", automation.pk), form_data(response, mode="live"))
    assert response.status_code == 200
    message = response.context["adminform"].form.errors["mode"][0]
    assert message.startswith("'Hot lead follow-up' cannot go live because")
    assert "it has no failure owner (who is told when it fails)" in message
    automation.refresh_from_db()
    assert automation.mode == "draft"


def test_go_live_action_refused_with_reason(admin_client, automation):
    response = admin_client.post(
        url("automation", "changelist"), {"action": "go_live", "_selected_action": [automation.pk]}, follow=True
    )
    shown = " ".join(messages_of(response))
    assert "'Hot lead follow-up' cannot go live because it has no failure owner (who is told when it fails)" in shown
    automation.refresh_from_db()
    assert automation.mode == "draft"


def test_go_live_then_pause_and_retire_actions(admin_client, automation, owners):
    Queue.objects.get_or_create(name="RevOps triage")  # the exception path must name a queue
    Automation.objects.filter(pk=automation.pk).update(failure_owner=owners[1], exception_queue="RevOps triage")
    for action, mode in (
        ("switch_to_shadow", "shadow"),
        ("go_live", "live"),
        ("pause", "paused"),
        ("retire", "retired"),
    ):
        response = admin_client.post(
            url("automation", "changelist"), {"action": action, "_selected_action": [automation.pk]}, follow=True
        )
        automation.refresh_from_db()
        assert automation.mode == mode, messages_of(response)
    assert automation.history.first().history_change_reason == "admin: mode set to retired"


def test_mode_button_on_the_change_page(admin_client, automation, owners):
    refused = admin_client.post(url("automation", "mode", automation.pk, "live"), follow=True)
    assert "cannot go live because it has no failure owner" in " ".join(messages_of(refused))
    Queue.objects.get_or_create(name="RevOps triage")  # the exception path must name a queue
    Automation.objects.filter(pk=automation.pk).update(failure_owner=owners[1], exception_queue="RevOps triage")
    admin_client.post(url("automation", "mode", automation.pk, "live"))
    automation.refresh_from_db()
    assert automation.mode == "live"
    assert admin_client.get(url("automation", "mode", automation.pk, "paused")).status_code == 405


def test_shadow_button_switches_to_shadow_not_to_the_shadow_report(admin_client, automation, owners):
    # ".../<id>/mode/shadow/" once matched the shadow report's "<path:object_id>/shadow/" and answered 404.
    Queue.objects.get_or_create(name="RevOps triage")
    Automation.objects.filter(pk=automation.pk).update(failure_owner=owners[1], exception_queue="RevOps triage")
    response = admin_client.post(url("automation", "mode", automation.pk, "shadow"))
    assert response.status_code == 302, response.content[:300]
    automation.refresh_from_db()
    assert automation.mode == "shadow"
    assert admin_client.get(url("automation", "shadow", automation.pk)).status_code == 200


def test_run_detail_explains_in_plain_language(admin_client, automation):
    lead = LeadFactory(country="US", score=80)
    run = make_run(
        automation,
        lead,
        key="event:9",
        actions=[("assign_owner", "applied", {"owner_id": None, "owner": None}, {"owner_id": 4, "owner": "R-17"})],
        actions_planned=[{"type": "assign_owner", "params": {"owner": "R-17"}}],
    )
    page = admin_client.get(url("automationrun", "change", run.pk)).content.decode()
    assert "✓" in page and "Country is one of US, CA" in page and "(actual: US)" in page
    assert "Lead score ≥ 50" in page and "(actual: 80)" in page
    assert "R-17" in page and "Assign owner" in page
    assert "The owner calls the lead within 1 hour." in page
    assert reverse("admin:revops_lead_why", args=[lead.pk]) in page


def test_run_admin_is_read_only(admin_client, automation):
    run = make_run(automation, LeadFactory(), key="event:3")
    assert admin_client.get(url("automationrun", "add")).status_code == 403
    assert admin_client.post(url("automationrun", "delete", run.pk), {"post": "yes"}).status_code == 403
    assert AutomationRun.objects.filter(pk=run.pk).exists()


def test_runs_list_filters(admin_client, automation):
    lead = LeadFactory()
    make_run(automation, lead, key="event:1", outcome="fired")
    make_run(automation, lead, key="event:2", outcome="error", error="boom")
    response = admin_client.get(url("automationrun", "changelist") + "?outcome__exact=error")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list.values_list("outcome", flat=True)) == ["error"]


def test_shadow_report_renders_counts_and_rows(admin_client, automation):
    lead = LeadFactory(status="working")
    make_run(
        automation,
        lead,
        key="event:1",
        mode="shadow",
        actions=[("update_field", "shadow", {"key": "status", "value": "new"}, {"key": "status", "value": "working"})],
    )
    make_run(automation, LeadFactory(), key="event:2", mode="shadow", outcome="not_fired")
    response = admin_client.get(url("automation", "shadow", automation.pk))
    page = response.content.decode()
    assert response.status_code == 200
    assert "agreement rate" in page and "100%" in page
    assert "would have fired" in page.lower()
    assert f"lead #{lead.pk}" in page and "status = working" in page and "✓ same" in page


def test_dictionary_entry_lists_automations_using_it(admin_client, automation, admin_user):
    other = make_automation(
        actor=admin_user, name="Unrelated", conditions={"field": "lead.source", "op": "eq", "value": "x"}
    )
    country = FieldDefinition.objects.get(object_type="lead", key="country")
    page = admin_client.get(reverse("admin:revops_fielddefinition_change", args=[country.pk])).content.decode()
    assert "used by" in page.lower() and "Automation:" in page
    assert reverse("admin:revops_automation_change", args=[automation.pk]) in page
    assert reverse("admin:revops_automation_change", args=[other.pk]) not in page
    source = FieldDefinition.objects.get(object_type="lead", key="source")
    page = admin_client.get(reverse("admin:revops_fielddefinition_change", args=[source.pk])).content.decode()
    assert "Unrelated" in page and "Hot lead follow-up" not in page
    listing = admin_client.get(reverse("admin:revops_fielddefinition_changelist") + "?object_type__exact=lead")
    assert "?uses=lead.country" in listing.content.decode()
    filtered = admin_client.get(url("automation", "changelist") + "?uses=lead.country")
    assert [a.name for a in filtered.context["cl"].result_list] == ["Hot lead follow-up"]


def test_dictionary_changelist_usage_column_costs_one_query(admin_client, admin_user):
    make_automation(actor=admin_user, name="a")
    with CaptureQueriesContext(connection) as one:
        admin_client.get(reverse("admin:revops_fielddefinition_changelist"))
    for index in range(4):
        make_automation(actor=admin_user, name=f"b{index}")
    with CaptureQueriesContext(connection) as five:
        admin_client.get(reverse("admin:revops_fielddefinition_changelist"))
    assert len(one) == len(five)


def _debug(response):
    return response.context["errors"], [f.non_form_errors() for f in response.context["inline_admin_formsets"]]
