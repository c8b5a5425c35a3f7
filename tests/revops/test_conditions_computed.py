"""Computed fields: a plug-in point for values an app computes, usable in every condition, evaluated in Python."""

import datetime as dt
from decimal import Decimal

import pytest

from revops.conditions import (
    ConditionNotQueryable,
    Context,
    Field,
    batch_contexts,
    candidates_q,
    compile_condition,
    default_fields,
    explain,
    explain_text,
    render,
    to_q,
    validate_condition,
)
from revops.conditions.computed import computed_fields, unregister_computed_field
from revops.models import Opportunity
from revops.plugins import register_computed_field
from tests.factories import OpportunityFactory

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
FIELDS = default_fields()
CALLS = []


def _heat(records, now):
    """A test signal: the deal's amount in thousands, or None without an amount."""
    CALLS.append(sorted(r.pk for r in records))
    return {r.pk: None if r.amount is None else int(r.amount // 1000) for r in records}


def _ratio(records, now):
    return {r.pk: 0.125 for r in records}


@pytest.fixture(autouse=True)
def heat():
    CALLS.clear()
    register_computed_field("opportunity", "test_heat", label="Test heat", field_type="integer", compute=_heat)
    register_computed_field("opportunity", "test_ratio", label="Test ratio", field_type="decimal", compute=_ratio)
    yield
    unregister_computed_field("opportunity", "test_heat")
    unregister_computed_field("opportunity", "test_ratio")


HOT = {"field": "opportunity.test_heat", "op": "gte", "value": 40}


def errors(tree, object_type="opportunity", fields=FIELDS):
    return validate_condition(tree, object_type=object_type, fields=fields)


def test_registration_refuses_core_columns_and_odd_types():
    with pytest.raises(ValueError, match="already a core field of opportunity"):
        register_computed_field("opportunity", "amount", label="Amount", field_type="decimal", compute=_heat)
    with pytest.raises(ValueError, match="already a core field"):
        register_computed_field("opportunity", "owner_id", label="x", field_type="integer", compute=_heat)
    with pytest.raises(ValueError, match="type 'multi_choice' is not one of"):
        register_computed_field("opportunity", "test_tags", label="x", field_type="multi_choice", compute=_heat)
    assert "test_heat" in [spec.key for spec in computed_fields("opportunity")]


def test_validation_in_words():
    assert errors({"all": [HOT, {"field": "opportunity.test_ratio", "op": "between", "value": ["0.1", "0.2"]}]}) == []
    assert errors({"field": "opportunity.test_heat", "op": "is_empty"}) == []
    (changed,) = errors({"field": "opportunity.test_heat", "op": "changed"})
    assert changed.startswith(
        "'changed' cannot be used with Test heat (a computed integer; a computed field has no event changes); "
        "use one of eq, ne, in, not_in, gt"
    )
    (unknown,) = errors({"field": "opportunity.test_heats", "op": "gt", "value": 1})
    assert unknown.startswith(
        "opportunity.test_heats is not an opportunity field in the data dictionary nor a computed opportunity "
        "field (did you mean opportunity.test_heat?); computed opportunity fields: "
    )
    assert "test_heat" in unknown and "test_ratio" in unknown
    (related,) = errors({"field": "task.opportunity.test_heat", "op": "gt", "value": 1}, object_type="task")
    assert related == (
        "task.opportunity.test_heat: Test heat is a computed opportunity field, usable only in conditions of an "
        "opportunity rule (opportunity.test_heat), not through a relation"
    )
    assert errors({"field": "opportunity.test_heat", "op": "gt", "value": "x"})[0].endswith("for Test heat")
    assert render(HOT, object_type="opportunity", fields=FIELDS) == "Test heat ≥ 40"


def test_a_dictionary_field_of_the_same_key_wins():
    fields = {**FIELDS, ("opportunity", "test_heat"): Field("opportunity", "test_heat", "Heat", "integer", False)}
    pred = compile_condition(HOT, object_type="opportunity", fields=fields)
    assert pred(Context({"attributes": {"test_heat": 50}}))
    assert not CALLS
    assert to_q(HOT, object_type="opportunity", fields=fields, now=NOW) is not None  # a stored attribute: SQL


@pytest.mark.django_db
def test_evaluated_lazily_once_per_context_and_once_per_batch():
    hot = OpportunityFactory(amount=Decimal("48000"))
    cold = OpportunityFactory(amount=Decimal("9000"))
    unknown = OpportunityFactory(amount=None)
    pred = compile_condition(
        {"all": [HOT, {"not": {"field": "opportunity.test_heat", "op": "gt", "value": 100}}]},
        object_type="opportunity",
        fields=FIELDS,
    )
    assert [spec.key for spec in pred.computed] == ["test_heat"]
    ctx = Context(Opportunity.objects.get(pk=hot.pk), now=NOW)
    assert pred(ctx) and pred(ctx)
    assert CALLS == [[hot.pk]]  # one compute for the context, however many leaves and calls read it

    CALLS.clear()
    deals = list(Opportunity.objects.filter(pk__in=[hot.pk, cold.pk, unknown.pk]).order_by("pk"))
    contexts = batch_contexts(deals, predicate=pred, now=NOW)
    assert [pred(c) for c in contexts] == [True, False, False]
    assert CALLS == [sorted([hot.pk, cold.pk, unknown.pk])]

    empty = compile_condition({"field": "opportunity.test_heat", "op": "is_empty"}, object_type="opportunity")
    assert empty(Context(Opportunity.objects.get(pk=unknown.pk), now=NOW))
    assert not compile_condition(HOT, object_type="opportunity", fields=FIELDS)(Context({"amount": 90000}, now=NOW))


@pytest.mark.django_db
def test_explain_shows_the_computed_value():
    deal = OpportunityFactory(amount=Decimal("48000"))
    tree = {"all": [HOT, {"field": "opportunity.test_ratio", "op": "lt", "value": "0.2"}]}
    result = explain(tree, Context(deal, now=NOW), object_type="opportunity", fields=FIELDS)
    assert explain_text(result) == [
        "✓ all of:",
        "  ✓ Test heat ≥ 40 (actual: 48)",
        "  ✓ Test ratio < 0.2 (actual: 0.125)",
    ]


@pytest.mark.django_db
def test_to_q_refuses_and_candidates_q_keeps_the_sql_part():
    big = OpportunityFactory(amount=Decimal("48000"), stage="negotiation")
    OpportunityFactory(amount=Decimal("90000"), stage="discovery")
    tree = {"all": [{"field": "opportunity.stage", "op": "eq", "value": "negotiation"}, HOT]}
    with pytest.raises(ConditionNotQueryable, match=r"Test heat \(opportunity.test_heat\) is a computed field"):
        to_q(tree, object_type="opportunity", fields=FIELDS, now=NOW)
    q = candidates_q(tree, object_type="opportunity", fields=FIELDS, now=NOW)
    assert list(Opportunity.objects.filter(q).values_list("pk", flat=True)) == [big.pk]
    assert candidates_q({"any": [tree, HOT]}, object_type="opportunity", fields=FIELDS, now=NOW) is None
    assert candidates_q({"not": tree}, object_type="opportunity", fields=FIELDS, now=NOW) is None
