"""Hostile inputs in the admin's JSON and condition editors: a form error on the field, never a 500.

NUL characters (escaped in the JSON text or raw in the POST), lone surrogates, bare NaN/Infinity,
numbers that overflow a float, nesting beyond ``MAX_VALUE_DEPTH`` and integers too long to parse are
each refused on the field with a message saying what is accepted, and nothing is saved.
"""

import pytest
from django.urls import reverse

from revops.models import Automation, FieldDefinition
from routing.models import BusinessCalendar, Pool, RoutingRule, SlaPolicy
from tests.factories import RepFactory
from tests.revops.automation_support import TEST_KIND, ensure_test_kind, make_automation
from tests.revops.test_admin_automation import form_data

pytestmark = pytest.mark.django_db

DEEP = "[" * 10_000 + "]" * 10_000
LONG_INT = "1" * 10_000

# (JSON text to put into a field, a fragment of the error it must produce)
HOSTILE = {
    "nul-escape": ('{"all": [{"field": "lead.country", "op": "eq", "value": "D\\u0000E"}]}', "NUL"),
    "nul-raw": ('{"all": [{"field": "lead.country", "op": "eq", "value": "D\x00E"}]}', "NUL"),
    "surrogate": ('{"all": [{"field": "lead.country", "op": "eq", "value": "\\ud800"}]}', "surrogate"),
    "nan": ('{"all": [{"field": "lead.score", "op": "gte", "value": NaN}]}', "NaN"),
    "infinity": ('{"all": [{"field": "lead.score", "op": "gte", "value": Infinity}]}', "Infinity"),
    "minus-infinity": ('{"all": [{"field": "lead.score", "op": "gte", "value": -Infinity}]}', "Infinity"),
    "overflow": ('{"all": [{"field": "lead.score", "op": "gte", "value": 1e999}]}', "finite"),
    "bare-nan": ("NaN", "NaN"),
    "deep": (DEEP, "nested more than 16 levels"),
    "long-int": ('{"all": [{"field": "lead.score", "op": "gte", "value": ' + LONG_INT + "}]}", "digits"),
}
CASES = pytest.mark.parametrize("text,expected", list(HOSTILE.values()), ids=list(HOSTILE))


@pytest.fixture
def admin_client(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    return admin_client


def refused(response, field: str, expected: str) -> None:
    assert response.status_code == 200, response.status_code
    errors = " ".join(response.context["adminform"].form.errors.get(field, []))
    assert expected in errors, response.context["adminform"].form.errors
    page = response.content.decode()
    assert "errornote" in page and expected in page


# --- Automations: conditions and config ----------------------------------------------------------


@CASES
@pytest.mark.parametrize("field", ["conditions", "config"])
def test_automation_add_refuses_hostile_json(admin_client, admin_user, field, text, expected):
    ensure_test_kind()
    response = admin_client.get(reverse("admin:revops_automation_add"))
    data = form_data(
        response,
        name="Hostile",
        purpose="Hostile input.",
        kind=TEST_KIND,
        object_type="lead",
        trigger="created",
        conditions='{"all": []}',
        config="{}",
        rule_owner=str(admin_user.pk),
        mode="draft",
        risk="low",
        review_cadence_days="90",
    )
    data[field] = text
    response = admin_client.post(reverse("admin:revops_automation_add"), data)
    refused(response, field, expected)
    assert not Automation.objects.filter(name="Hostile").exists()


@CASES
def test_automation_change_refuses_hostile_conditions(admin_client, admin_user, text, expected):
    automation = make_automation(actor=admin_user, rule_owner=admin_user)
    url = reverse("admin:revops_automation_change", args=[automation.pk])
    before = (automation.version, automation.conditions, automation.config)
    response = admin_client.post(url, form_data(admin_client.get(url), conditions=text))
    refused(response, "conditions", expected)
    automation.refresh_from_db()
    assert (automation.version, automation.conditions, automation.config) == before


# --- Routing: rules, SLA policies, pools, calendars ----------------------------------------------


def rule_form(**values):
    return {
        "name": "Hostile",
        "description": "",
        "priority": "40",
        "status": "live",
        "conditions": '{"all": []}',
        "target_type": "rep",
        "target_rep": str(RepFactory().pk),
        "target_pool": "",
        "target_queue": "",
        "approval_owner": "",
        "use_parent_account": "on",
        "when_unavailable": "next_rule",
        **values,
    }


@CASES
def test_routing_rule_refuses_hostile_conditions(admin_client, text, expected):
    response = admin_client.post(reverse("admin:routing_routingrule_add"), rule_form(conditions=text))
    refused(response, "conditions", expected)
    assert not RoutingRule.objects.exists()


@CASES
def test_sla_policy_refuses_hostile_conditions(admin_client, text, expected):
    data = {
        "name": "Hostile",
        "description": "",
        "priority": "10",
        "is_active": "on",
        "conditions": text,
        "target_minutes": "60",
        "reminder_share": "0.5",
    }
    response = admin_client.post(reverse("admin:routing_slapolicy_add"), data)
    refused(response, "conditions", expected)
    assert not SlaPolicy.objects.exists()


WEEKDAY_CASES = pytest.mark.parametrize(
    "text,expected",
    [
        ("[0, NaN]", "NaN"),
        ("[0, 1e999]", "finite"),
        ('["\\u0000"]', "NUL"),
        ("[0, \x00 1]", "NUL"),
        (DEEP, "nested more than 16 levels"),
        ("[" + LONG_INT + "]", "digits"),
    ],
    ids=["nan", "overflow", "nul-escape", "nul-raw", "deep", "long-int"],
)


@WEEKDAY_CASES
def test_pool_refuses_hostile_working_days(admin_client, text, expected):
    data = {
        "name": "Hostile",
        "description": "",
        "strategy": "round_robin",
        "is_active": "on",
        "working_hours_start": "09:00",
        "working_hours_end": "17:00",
        "working_days": text,
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(reverse("admin:routing_pool_add"), data)
    refused(response, "working_days", expected)
    assert not Pool.objects.exists()


@WEEKDAY_CASES
@pytest.mark.parametrize("field", ["working_days", "holidays"])
def test_calendar_refuses_hostile_json(admin_client, field, text, expected):
    data = {
        "name": "Hostile",
        "time_zone": "Europe/Berlin",
        "working_days": "[0, 1, 2, 3, 4]",
        "day_start": "09:00",
        "day_end": "17:00",
        "holidays": "[]",
        field: text,
    }
    response = admin_client.post(reverse("admin:routing_businesscalendar_add"), data)
    refused(response, field, expected)
    assert not BusinessCalendar.objects.filter(name="Hostile").exists()


# --- The data dictionary ------------------------------------------------------------------------


def dictionary_form(**values):
    return {
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
        **values,
    }


@pytest.mark.parametrize(
    "field,value",
    [
        ("allowed_values", "research\nevalu\x00ation"),
        ("required_from", "evalu\x00ation"),
        ("label", "Buying\x00stage"),
        ("definition", "Where\x00 the buyer is."),
        ("owning_team", "Mark\x00eting"),
        ("key", "buying\x00stage"),
    ],
)
def test_dictionary_form_refuses_nul(admin_client, field, value):
    data = dictionary_form(**{field: value})
    if field == "required_from":
        data["required"] = "from_stages"
    response = admin_client.post(reverse("admin:revops_fielddefinition_add"), data)
    assert response.status_code == 200, response.status_code
    errors = " ".join(response.context["adminform"].form.errors.get(field, []))
    assert "NUL" in errors or "Null characters are not allowed" in errors, response.context["adminform"].form.errors
    assert not FieldDefinition.objects.filter(label__startswith="Buying").exists()
