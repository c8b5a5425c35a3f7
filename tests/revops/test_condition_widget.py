"""The condition builder's server side: the vocabulary it offers, the page it renders, the JSON it saves.

The builder itself (JSON → builder → JSON round trips in a real browser) is
tests/test_browser_condition_builder.py.
"""

import json
import re

import pytest
from django.urls import reverse

from exceptions.models import Queue
from revops.admin.condition_widget import OP_LABELS, OP_ORDER, ConditionBuilderWidget, condition_schema
from revops.conditions import ALL_OPS, OPS_BY_TYPE, RELATIONS, default_fields
from revops.conditions.computed import unregister_computed_field
from revops.conditions.schema import DAY_OPS, EVENT_OPS, LIST_OPS, NO_VALUE_OPS
from revops.plugins import register_computed_field
from routing.models import RoutingRule

FIELDS = default_fields()


@pytest.fixture
def computed():
    register_computed_field(
        "lead", "test_touches", label="Test touches", field_type="integer", compute=lambda records, now: {}
    )
    yield
    unregister_computed_field("lead", "test_touches")


def entries(object_type="lead", fields=FIELDS):
    return {e["path"]: e for e in condition_schema((object_type,), fields)["objects"][object_type]}


def test_every_operator_has_a_place_and_a_label():
    assert sorted(OP_ORDER) == sorted(ALL_OPS) and len(OP_ORDER) == len(set(OP_ORDER))
    assert set(OP_LABELS) == set(ALL_OPS)
    schema = condition_schema(("lead",), FIELDS)
    assert set(schema["no_value"]) == NO_VALUE_OPS
    assert set(schema["lists"]) == LIST_OPS and set(schema["days"]) == DAY_OPS


@pytest.mark.parametrize("object_type", sorted(RELATIONS))
def test_own_fields_offer_the_operators_of_their_type(object_type):
    offered = entries(object_type)
    own = {key: spec for (obj, key), spec in FIELDS.items() if obj == object_type}
    assert own, object_type
    for key, spec in own.items():
        entry = offered[f"{object_type}.{key}"]
        assert {op for op, _label in entry["ops"]} == set(OPS_BY_TYPE[spec.field_type]), key
        assert entry["type"] == spec.field_type and entry["label"] == spec.label
        assert entry["choices"] == [str(v) for v in spec.allowed_values]


def test_related_fields_are_one_hop_and_have_no_event_operators():
    offered = entries("lead")
    for relation, target in RELATIONS["lead"].items():
        keys = [key for (obj, key) in FIELDS if obj == target]
        for key in keys:
            entry = offered[f"lead.{relation}.{key}"]
            ops = {op for op, _label in entry["ops"]}
            assert ops == set(OPS_BY_TYPE[entry["type"]]) - EVENT_OPS
            assert entry["group"].endswith(f"({target})")
    assert not [path for path in offered if path.count(".") > 2]


def test_operator_labels_read_as_the_field_type():
    offered = entries("opportunity")
    close = dict(offered["opportunity.close_date"]["ops"])
    assert close["gt"] == "is after" and close["lte"] == "is on or before"
    amount = dict(offered["opportunity.amount"]["ops"])
    assert amount["gt"] == "is more than"


def test_computed_fields_are_offered_without_event_operators(computed):
    entry = entries("lead")["lead.test_touches"]
    assert entry["group"] == "Computed" and entry["label"] == "Test touches"
    assert {op for op, _label in entry["ops"]} == set(OPS_BY_TYPE["integer"]) - EVENT_OPS


def test_the_widget_keeps_the_json_textarea_and_embeds_its_vocabulary_as_data(db):
    html = ConditionBuilderWidget(object_type="lead").render("conditions", '{"all": []}', attrs={"id": "id_conditions"})
    assert '<textarea name="conditions"' in html and 'id="id_conditions"' in html
    data = re.search(r'<script id="id_conditions-schema" type="application/json">(.*?)</script>', html, re.S)
    assert data, "the schema is a JSON data block"
    schema = json.loads(data.group(1))
    assert list(schema["objects"]) == ["lead"] and "lead.country" in {e["path"] for e in schema["objects"]["lead"]}
    assert not re.search(r"<script(?![^>]*application/json)[^>]*>", html), "no executable inline script"


def test_automation_widget_follows_the_object_type_select(db):
    html = ConditionBuilderWidget(object_type_field="object_type").render("conditions", "", attrs={"id": "id_c"})
    assert 'data-object-type-input="id_object_type"' in html
    schema = json.loads(re.search(r'type="application/json">(.*?)</script>', html, re.S).group(1))
    assert {"lead", "opportunity", "account"} <= set(schema["objects"])


@pytest.mark.django_db
def test_rule_and_automation_forms_load_the_builder_assets(admin_client, settings):
    settings.SECURE_SSL_REDIRECT = False
    for url in (reverse("admin:routing_routingrule_add"), reverse("admin:revops_automation_add")):
        page = admin_client.get(url).content.decode()
        assert "revops/condition_builder.js" in page and "revops/condition_builder.css" in page, url
        assert 'class="rv-cb"' in page, url


@pytest.mark.django_db
def test_the_json_the_builder_writes_saves_as_canonical_json(admin_client, settings):
    """The builder posts the textarea's JSON (sorted keys, typed values); the form stores it canonically."""
    settings.SECURE_SSL_REDIRECT = False
    Queue.objects.get_or_create(name="RevOps")
    written = {
        "any": [
            {"field": "lead.country", "op": "in", "value": ["DE", "AT"]},
            {"not": {"all": [{"field": "lead.score", "op": "between", "value": [10, 50]}]}},
        ]
    }
    response = admin_client.post(
        reverse("admin:routing_routingrule_add"),
        {
            "name": "DACH",
            "priority": "10",
            "status": "draft",
            "conditions": json.dumps(written, indent=2, sort_keys=True),
            "target_type": "queue",
            "target_queue": "RevOps",
            "when_unavailable": "next_rule",
        },
    )
    rule = RoutingRule.objects.filter(name="DACH").first()
    assert rule is not None, response.content.decode()[:3000]
    assert rule.conditions == written
