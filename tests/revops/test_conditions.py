"""The condition language: validation, rendering, compiled predicates, explain mode and ORM filters."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from revops.conditions import (
    ConditionError,
    ConditionNotQueryable,
    Context,
    Field,
    clean_condition,
    compile_condition,
    default_fields,
    explain,
    explain_text,
    fields_used,
    render,
    to_q,
    validate_condition,
)
from revops.models import Account, FieldDefinition, Lead, Opportunity, Rep

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
FIELDS = {
    **default_fields(),
    ("lead", "tier"): Field("lead", "tier", "Tier", "choice", False, ("gold", "silver")),
    ("lead", "intent"): Field("lead", "intent", "Intent", "integer", False),
    ("lead", "first_touch"): Field("lead", "first_touch", "First touch", "date", False),
    ("lead", "tags"): Field("lead", "tags", "Tags", "multi_choice", False, ("a", "b")),
}

ROUTING = {
    "all": [
        {"field": "lead.country", "op": "in", "value": ["US", "CA"]},
        {"field": "lead.matched_account.employees", "op": "gte", "value": 500},
    ]
}


def errors(tree, object_type="lead"):
    return validate_condition(tree, object_type=object_type, fields=FIELDS)


def check(tree, record, *, changes=None, now=NOW, object_type="lead"):
    """Compiled result, asserted equal to explain mode's."""
    ctx = Context(record, changes=changes, now=now)
    result = compile_condition(tree, object_type=object_type, fields=FIELDS)(ctx)
    assert explain(tree, ctx, object_type=object_type, fields=FIELDS)["result"] == result
    return result


# --- validation ------------------------------------------------------------------------------


def test_valid_tree_has_no_errors_and_is_cleaned_to_canonical_json():
    tree = {
        "all": [
            {"field": "lead.score", "op": "between", "value": ["10", 20]},
            {"field": "lead.first_touch", "op": "gte", "value": "2026-01-05"},
            {"field": "opportunity.amount", "op": "gt", "value": 1},
        ]
    }
    assert errors(tree) == [
        "condition 3 of 'all': opportunity.amount: conditions of a lead rule start with 'lead.' (e.g. lead.amount)"
    ]
    tree["all"].pop()
    assert errors(tree) == []
    cleaned = clean_condition(tree, object_type="lead", fields=FIELDS)
    assert cleaned["all"][0]["value"] == [10, 20]
    json.dumps(cleaned)
    opp = {"field": "opportunity.amount", "op": "gte", "value": 1250.5}
    assert clean_condition(opp, object_type="opportunity", fields=FIELDS)["value"] == "1250.5"


def test_unknown_field_names_the_place_in_the_tree():
    tree = {"all": [ROUTING, {"any": [{"field": "lead.employes", "op": "eq", "value": 1}]}]}
    assert errors(tree) == [
        "condition 2 of 'all' › condition 1 of 'any': lead.employes is not a lead field in the data dictionary "
        "nor a computed lead field; computed lead fields: routing_rule"
    ]


def test_unknown_relation_and_bad_path():
    assert errors({"field": "lead.account.employees", "op": "gte", "value": 1}) == [
        "lead.account.employees: 'account' is not a relation of lead (use one of: owner, matched_account)"
    ]
    assert "is not a field path" in errors({"field": "Lead Country", "op": "eq", "value": "US"})[0]
    assert "is not an account field" in errors({"field": "lead.matched_account.nope", "op": "is_empty"})[0]


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        ({"field": "lead.country", "op": "gt", "value": "US"}, "'gt' cannot be used with Country (text)"),
        ({"field": "lead.score", "op": "contains", "value": 1}, "'contains' cannot be used with Lead score (integer)"),
        ({"field": "lead.score", "op": "eq", "value": "abc"}, "'abc' is not a whole number for Lead score"),
        (
            {"field": "lead.matched_account.employees", "op": "gte", "value": "many"},
            "'many' is not a whole number for Employees (matched account)",
        ),
        ({"field": "lead.status", "op": "eq", "value": "won"}, "'won' is not an allowed value"),
        ({"field": "lead.first_touch", "op": "lt", "value": "next week"}, "is not a date (expected YYYY-MM-DD)"),
        ({"field": "lead.country", "op": "in", "value": []}, "is not a non-empty list of values"),
        ({"field": "lead.country", "op": "in", "value": "US"}, "is not a non-empty list of values"),
        ({"field": "lead.score", "op": "between", "value": [20, 10]}, "the range 20–10 is empty"),
        ({"field": "lead.score", "op": "between", "value": 5}, "is not a [lowest, highest] pair"),
        ({"field": "lead.country", "op": "eq", "value": " "}, "use 'is empty'"),
        ({"field": "lead.country", "op": "eq"}, "'eq' on Country needs a value"),
        ({"field": "lead.country", "op": "is_empty", "value": "US"}, "'is_empty' takes no value"),
        ({"field": "lead.first_touch", "op": "older_than_days", "value": -1}, "is not a number of days"),
        ({"field": "lead.country", "op": "like", "value": "US"}, "'like' is not a condition operator"),
        ({"field": "lead.owner.region", "op": "changed"}, "'changed' only applies to the lead's own fields"),
        ({"field": "lead.tags", "op": "contains", "value": "z"}, "'z' is not an allowed value"),
    ],
)
def test_bad_leaves_are_refused_with_a_clear_message(leaf, message):
    found = errors({"all": [leaf]})
    assert len(found) == 1 and found[0].startswith("condition 1 of 'all': ")
    assert message in found[0], found


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ([], "expected a condition object, got []"),
        ({"all": {"field": "lead.country"}}, "'all' needs a list of conditions"),
        ({"all": [], "any": []}, "a group has exactly one key"),
        (
            {"field": "lead.country", "op": "eq", "value": "US", "extra": 1},
            "got keys ['extra', 'field', 'op', 'value']",
        ),
        ({"not": "lead.country"}, "'not': expected a condition object"),
    ],
)
def test_bad_shapes_are_refused(tree, message):
    found = errors(tree)
    assert found and message in found[0], found


def test_clean_raises_a_validation_error_for_forms():
    with pytest.raises(ConditionError) as exc:
        clean_condition({"field": "lead.nope", "op": "is_empty"}, object_type="lead", fields=FIELDS)
    assert exc.value.messages == [
        "lead.nope is not a lead field in the data dictionary nor a computed lead field; computed lead fields: "
        "routing_rule"
    ]


@pytest.mark.django_db
def test_validation_reads_the_database_dictionary_by_default():
    FieldDefinition.objects.create(
        object_type="lead",
        key="segment_hint",
        label="Segment hint",
        definition="x",
        field_type="text",
        owning_team="RO",
    )
    tree = {"field": "lead.segment_hint", "op": "eq", "value": "MM"}
    assert validate_condition(tree, object_type="lead") == []
    assert render(tree) == "Segment hint is MM"
    assert validate_condition({"field": "lead.nope", "op": "is_empty"}, object_type="lead")


def test_fields_used():
    tree = {"all": [ROUTING, {"not": {"field": "lead.owner.region", "op": "eq", "value": "NA"}}]}
    assert fields_used(tree) == {
        "lead.country",
        "lead.matched_account",
        "account.employees",
        "lead.owner",
        "rep.region",
    }


# --- rendering -------------------------------------------------------------------------------


def test_render_plain_language():
    labels = {"lead.matched_account.employees": "Employees"}
    assert render(ROUTING, fields=FIELDS, labels=labels) == "Country is one of US, CA and Employees ≥ 500"
    tree = {
        "all": [
            {"field": "lead.status", "op": "eq", "value": "new"},
            {
                "any": [
                    {"field": "lead.score", "op": "between", "value": [10, 20]},
                    {"not": {"field": "lead.title", "op": "contains", "value": "intern"}},
                ]
            },
            {"field": "lead.owner", "op": "is_empty"},
            {"field": "lead.first_touch", "op": "older_than_days", "value": 30},
        ]
    }
    assert render(tree, fields=FIELDS) == (
        'Status is new and (Lead score is between 10 and 20 or not (Job title contains "intern")) '
        "and Owner is empty and First touch is more than 30 days ago"
    )
    assert render({"all": []}, object_type="lead", fields=FIELDS) == "always"
    assert render(ROUTING, fields=FIELDS) == "Country is one of US, CA and Employees (matched account) ≥ 500"


# --- evaluation ------------------------------------------------------------------------------


def lead(**kw):
    account = kw.pop("account", None)
    owner = kw.pop("owner", None)
    record = Lead(external_id="L1", **kw)
    record.matched_account = account
    record.owner = owner
    return record


def test_compiled_predicate_on_model_instances_and_dicts():
    big = Account(external_id="A1", name="Acme", employees=800)
    assert check(ROUTING, lead(country="US", account=big)) is True
    assert check(ROUTING, lead(country="DE", account=big)) is False
    assert check(ROUTING, lead(country="US", account=None)) is False
    assert check(ROUTING, {"country": "CA", "matched_account": {"employees": 500}}) is True
    assert check(ROUTING, {"country": "CA", "matched_account": None}) is False


def test_null_semantics():
    empty = lead(country="", score=None)
    assert check({"field": "lead.country", "op": "is_empty"}, empty) is True
    assert check({"field": "lead.country", "op": "eq", "value": "US"}, empty) is False
    assert check({"field": "lead.country", "op": "ne", "value": "US"}, empty) is True
    assert check({"field": "lead.country", "op": "not_in", "value": ["US"]}, empty) is True
    assert check({"field": "lead.score", "op": "lt", "value": 10}, empty) is False
    assert check({"field": "lead.score", "op": "gte", "value": 10}, empty) is False
    assert check({"not": {"field": "lead.score", "op": "gte", "value": 10}}, empty) is True
    assert check({"field": "lead.matched_account.industry", "op": "ne", "value": "x"}, empty) is True
    assert check({"field": "lead.matched_account.industry", "op": "is_empty"}, empty) is True
    assert check({"field": "lead.tier", "op": "is_empty"}, lead(attributes={"tier": None})) is True
    assert check({"field": "lead.tags", "op": "is_empty"}, lead(attributes={"tags": []})) is True
    assert check({"field": "lead.tags", "op": "contains", "value": "a"}, lead(attributes={"tags": ["a"]})) is True
    assert check({"any": []}, empty) is False and check({"all": []}, empty) is True


def test_text_patterns_ignore_case_but_equality_does_not():
    record = lead(title="VP of Sales", country="US")
    assert check({"field": "lead.title", "op": "contains", "value": "vp"}, record) is True
    assert check({"field": "lead.title", "op": "starts_with", "value": "vp of"}, record) is True
    assert check({"field": "lead.title", "op": "ends_with", "value": "SALES"}, record) is True
    assert check({"field": "lead.country", "op": "eq", "value": "us"}, record) is False


def test_changed_and_changed_to_read_the_event_changes():
    record = lead(status="working")
    changed = {"field": "lead.status", "op": "changed"}
    changed_to = {"field": "lead.status", "op": "changed_to", "value": "working"}
    assert check(changed, record, changes={"status": ["new", "working"]}) is True
    assert check(changed, record, changes={"status": ["new", "new"]}) is False
    assert check(changed, record, changes={}) is False
    assert check(changed_to, record, changes={"status": ["new", "working"]}) is True
    assert check(changed_to, record, changes={"status": ["working", "qualified"]}) is False
    assert check({"field": "lead.first_touch", "op": "changed_to", "value": "2026-03-01"}, record,
                 changes={"first_touch": [None, "2026-03-01"]}) is True  # fmt: skip
    pred = compile_condition(changed, object_type="lead", fields=FIELDS)
    assert pred.uses_changes
    with pytest.raises(ConditionNotQueryable, match="reads the event's changes"):
        to_q({"all": [ROUTING, changed]}, object_type="lead", fields=FIELDS, now=NOW)


def test_relative_dates_use_the_given_clock():
    old = lead(source_updated_at=NOW - dt.timedelta(days=31), attributes={"first_touch": "2026-02-01"})
    recent = lead(source_updated_at=NOW - dt.timedelta(days=2), attributes={"first_touch": "2026-03-09"})
    older = {"field": "lead.source_updated_at", "op": "older_than_days", "value": 30}
    within = {"field": "lead.first_touch", "op": "within_days", "value": 7}
    assert check(older, old) is True and check(older, recent) is False
    assert check(within, recent) is True and check(within, old) is False
    assert check(within, old, now=dt.datetime(2026, 2, 5, tzinfo=dt.UTC)) is True
    assert check(older, lead(source_updated_at=None)) is False


def test_reference_fields_compare_external_ids():
    rep = Rep(external_id="R-17", name="Ann", email="ann@example.com")
    record = lead(owner=rep)
    assert check({"field": "lead.owner", "op": "eq", "value": "R-17"}, record) is True
    assert check({"field": "lead.owner", "op": "in", "value": ["R-1", "R-2"]}, record) is False
    assert check({"field": "lead.owner", "op": "is_empty"}, lead()) is True
    assert check({"field": "lead.owner", "op": "eq", "value": "R-17"}, {"owner": "R-17"}) is True


def test_decimal_fields():
    opp = Opportunity(external_id="O1", name="Deal", amount=Decimal("1250.50"))
    tree = {"field": "opportunity.amount", "op": "between", "value": ["1000", 1250.5]}
    assert check(tree, opp, object_type="opportunity") is True


# --- explain ---------------------------------------------------------------------------------


def test_explain_reports_every_condition_with_its_actual_value():
    record = lead(country="US", account=Account(external_id="A1", name="Acme", employees=120))
    result = explain(ROUTING, Context(record, now=NOW), object_type="lead", fields=FIELDS)
    assert result["op"] == "all" and result["result"] is False
    country, employees = result["conditions"]
    assert country == {
        "field": "lead.country",
        "label": "Country",
        "op": "in",
        "expected": ["US", "CA"],
        "actual": "US",
        "result": True,
        "text": "Country is one of US, CA",
    }
    assert employees["actual"] == 120 and employees["result"] is False
    json.dumps(result)
    assert explain_text(result) == [
        "✗ all of:",
        "  ✓ Country is one of US, CA (actual: US)",
        "  ✗ Employees (matched account) ≥ 500 (actual: 120)",
    ]
    changed = explain(
        {"not": {"field": "lead.status", "op": "changed"}},
        Context(record, changes={"status": ["new", "working"]}),
        object_type="lead",
        fields=FIELDS,
    )
    assert explain_text(changed) == ["✗ not:", "  ✓ Status changed (actual: new → working)"]


# --- ORM -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_to_q_filters_like_the_predicate():
    big = Account.objects.create(external_id="A1", name="Big", employees=900, attributes={"tier": "gold"})
    small = Account.objects.create(external_id="A2", name="Small", employees=20)
    leads = {
        "us_big": Lead.objects.create(external_id="L1", country="US", matched_account=big, score=50),
        "us_small": Lead.objects.create(external_id="L2", country="US", matched_account=small),
        "ca_none": Lead.objects.create(external_id="L3", country="CA", attributes={"tier": "gold"}),
        "blank": Lead.objects.create(
            external_id="L4", country="", attributes={"tier": None, "first_touch": "2026-01-01"}
        ),
    }
    cases = [
        (ROUTING, {"us_big"}),
        ({"not": ROUTING}, {"us_small", "ca_none", "blank"}),
        ({"field": "lead.country", "op": "ne", "value": "US"}, {"ca_none", "blank"}),
        ({"field": "lead.score", "op": "lt", "value": 60}, {"us_big"}),
        ({"not": {"field": "lead.score", "op": "lt", "value": 60}}, {"us_small", "ca_none", "blank"}),
        ({"field": "lead.tier", "op": "is_empty"}, {"us_big", "us_small", "blank"}),
        ({"field": "lead.tier", "op": "eq", "value": "gold"}, {"ca_none"}),
        ({"field": "lead.first_touch", "op": "older_than_days", "value": 30}, {"blank"}),
        ({"field": "lead.matched_account.employees", "op": "is_empty"}, {"ca_none", "blank"}),
        ({"any": []}, set()),
        ({"not": {"all": []}}, set()),
    ]
    for tree, expected in cases:
        q = to_q(tree, object_type="lead", fields=FIELDS, now=NOW)
        got = {name for name, record in leads.items() if Lead.objects.filter(q, pk=record.pk).exists()}
        assert got == expected, (tree, got)
        pred = compile_condition(tree, object_type="lead", fields=FIELDS)
        for name, record in leads.items():
            fresh = Lead.objects.select_related("matched_account", "owner").get(pk=record.pk)
            assert pred(Context(fresh, now=NOW)) == (name in expected), (tree, name)
