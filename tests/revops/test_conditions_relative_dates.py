"""Relative dates in the condition language: in_past, in_future, within_next_days, within_last_days —
validated, rendered, and evaluated alike by the compiled predicate, explain mode and the SQL filter."""

import datetime as dt

import pytest

from revops.conditions import (
    Context,
    Field,
    clean_condition,
    compile_condition,
    default_fields,
    explain,
    explain_text,
    render,
    to_q,
    validate_condition,
)
from revops.models import Opportunity
from tests.factories import OpportunityFactory

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
FIELDS = {
    **default_fields(),
    ("opportunity", "signed_on"): Field("opportunity", "signed_on", "Signed on", "date", False),
    ("opportunity", "kickoff_at"): Field("opportunity", "kickoff_at", "Kickoff", "datetime", False),
}


def leaf(field, op, value=None):
    node = {"field": f"opportunity.{field}", "op": op}
    if value is not None:
        node["value"] = value
    return node


def errors(tree):
    return validate_condition(tree, object_type="opportunity", fields=FIELDS)


def test_validation_and_canonical_form():
    assert errors(leaf("close_date", "in_past")) == []
    assert errors(leaf("last_activity_at", "in_future")) == []
    assert errors(leaf("signed_on", "within_last_days", 7)) == []
    assert clean_condition(
        {"all": [leaf("close_date", "within_next_days", 30), {**leaf("close_date", "in_past"), "value": None}]},
        object_type="opportunity",
        fields=FIELDS,
    ) == {"all": [leaf("close_date", "within_next_days", 30), leaf("close_date", "in_past")]}

    assert errors(leaf("close_date", "in_past", 3)) == ["'in_past' takes no value (got 3)"]
    assert errors(leaf("close_date", "within_next_days")) == ["'within_next_days' on Close date needs a value"]
    assert errors(leaf("close_date", "within_last_days", "30")) == [
        "'30' is not a number of days (a whole number from 0 to 36600) for Close date"
    ]
    (message,) = errors(leaf("name", "in_future"))
    assert message.startswith("'in_future' cannot be used with Opportunity name (text); use one of eq, ne")


def test_rendered_in_words():
    def words(node):
        return render(node, object_type="opportunity", fields=FIELDS)

    assert words(leaf("close_date", "in_past")) == "Close date is in the past"
    assert words(leaf("close_date", "in_future")) == "Close date is in the future"
    assert words(leaf("close_date", "within_next_days", 30)) == "Close date is within the next 30 days"
    assert words(leaf("last_activity_at", "within_last_days", 7)) == "Last activity is within the last 7 days"
    assert words(leaf("close_date", "within_next_days", 1)) == "Close date is within the next day"
    assert words(leaf("close_date", "within_days", 1)) == "Close date is within 1 days of today"  # unchanged


def test_explain_shows_the_value():
    record = {"close_date": TODAY - dt.timedelta(days=2)}
    result = explain(leaf("close_date", "in_past"), Context(record, now=NOW), object_type="opportunity", fields=FIELDS)
    assert explain_text(result) == ["✓ Close date is in the past (actual: 2026-11-18)"]


def _day(offset):
    return TODAY + dt.timedelta(days=offset)


def _at(**delta):
    return NOW + dt.timedelta(**delta)


# name -> (close_date, last_activity_at, signed_on attribute, kickoff_at attribute)
ROWS = {
    "yesterday": (_day(-1), _at(seconds=-1), _day(-1).isoformat(), _at(seconds=-1).isoformat()),
    "today": (_day(0), NOW, _day(0).isoformat(), NOW.isoformat()),
    "tomorrow": (_day(1), _at(seconds=1), _day(1).isoformat(), _at(seconds=1).isoformat()),
    "edge_next": (_day(30), _at(days=30), _day(30).isoformat(), _at(days=30).isoformat()),
    "past_next": (_day(31), _at(days=30, seconds=1), _day(31).isoformat(), _at(days=30, seconds=1).isoformat()),
    "edge_last": (_day(-30), _at(days=-30), _day(-30).isoformat(), _at(days=-30).isoformat()),
    "before_last": (_day(-31), _at(days=-30, seconds=-1), _day(-31).isoformat(), _at(days=-31).isoformat()),
    "empty": (None, None, None, None),
}
EXPECTED = {  # the same for the date and datetime fields, core columns and custom attributes
    ("in_past", None): {"yesterday", "edge_last", "before_last"},
    ("in_future", None): {"tomorrow", "edge_next", "past_next"},
    ("within_next_days", 30): {"today", "tomorrow", "edge_next"},
    ("within_last_days", 30): {"yesterday", "today", "edge_last"},
    ("within_next_days", 0): {"today"},
}


@pytest.mark.django_db
def test_python_explain_and_sql_agree_on_every_boundary():
    deals = {}
    for name, (close, activity, signed, kickoff) in ROWS.items():
        attributes = {"signed_on": signed, "kickoff_at": kickoff} if signed else {}
        deals[name] = OpportunityFactory(close_date=close, last_activity_at=activity, attributes=attributes)
    loaded = {name: Opportunity.objects.get(pk=deal.pk) for name, deal in deals.items()}
    for field in ("close_date", "last_activity_at", "signed_on", "kickoff_at"):
        for (op, days), expected in EXPECTED.items():
            for tree, want in ((leaf(field, op, days), expected), ({"not": leaf(field, op, days)}, None)):
                want = want if want is not None else set(ROWS) - expected  # missing values: false, so "not" holds
                q = to_q(tree, object_type="opportunity", fields=FIELDS, now=NOW)
                in_sql = {name for name, deal in deals.items() if Opportunity.objects.filter(q, pk=deal.pk).exists()}
                pred = compile_condition(tree, object_type="opportunity", fields=FIELDS)
                in_python = {name for name, deal in loaded.items() if pred(Context(deal, now=NOW))}
                explained = {
                    name
                    for name, deal in loaded.items()
                    if explain(tree, Context(deal, now=NOW), object_type="opportunity", fields=FIELDS)["result"]
                }
                assert in_sql == in_python == explained == want, (field, tree, in_sql, in_python, explained)


@pytest.mark.django_db
def test_dates_compare_with_the_calendar_day_of_now():
    """A close date of today is neither past nor future, whatever the hour; a datetime compares to the second."""
    OpportunityFactory(close_date=TODAY)
    late = NOW.replace(hour=23, minute=59)
    for op in ("in_past", "in_future"):
        q = to_q(leaf("close_date", op), object_type="opportunity", fields=FIELDS, now=late)
        assert not Opportunity.objects.filter(q).exists()
    q = to_q(leaf("close_date", "in_past"), object_type="opportunity", fields=FIELDS, now=late + dt.timedelta(hours=1))
    assert Opportunity.objects.filter(q).count() == 1
