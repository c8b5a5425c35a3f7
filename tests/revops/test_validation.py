"""The dictionary validator: every type accepts good values and names the field and problem for bad ones."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from revops.models import FieldDefinition, FieldType, Required
from revops.validation import validator_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def custom_fields():
    """One custom lead field of every type, so each coercer is exercised through the dictionary."""
    specs = {
        "t_text": {"field_type": FieldType.TEXT},
        "t_int": {"field_type": FieldType.INTEGER},
        "t_dec": {"field_type": FieldType.DECIMAL},
        "t_date": {"field_type": FieldType.DATE},
        "t_dt": {"field_type": FieldType.DATETIME},
        "t_bool": {"field_type": FieldType.BOOLEAN},
        "t_choice": {"field_type": FieldType.CHOICE, "allowed_values": ["gold", "silver"]},
        "t_multi": {"field_type": FieldType.MULTI_CHOICE, "allowed_values": ["a", "b", "c"]},
        "t_email": {"field_type": FieldType.EMAIL},
        "t_url": {"field_type": FieldType.URL},
        "t_ref": {"field_type": FieldType.REFERENCE, "reference_to": "account"},
    }
    for key, extra in specs.items():
        FieldDefinition.objects.create(
            object_type="lead", key=key, label=key, definition="test", owning_team="RevOps", **extra
        )
    return specs


GOOD = [
    ("t_text", "  hello ", "hello"),
    ("t_int", 42, 42),
    ("t_int", "17", 17),
    ("t_int", 3.0, 3),
    ("t_dec", "1250.50", Decimal("1250.50")),
    ("t_dec", 7, Decimal("7")),
    ("t_date", "2026-03-01", dt.date(2026, 3, 1)),
    ("t_dt", "2026-03-01T09:30:00Z", dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)),
    ("t_dt", "2026-03-01T10:30:00+01:00", dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)),
    ("t_bool", False, False),
    ("t_choice", "gold", "gold"),
    ("t_multi", ["a", "c", "a"], ["a", "c"]),
    ("t_email", "Jane@Example.COM", "jane@example.com"),
    ("t_url", "https://example.com/x", "https://example.com/x"),
    ("t_ref", "ACC-1", "ACC-1"),
]


@pytest.mark.parametrize(("key", "raw", "expected"), GOOD)
def test_good_values_are_coerced(custom_fields, key, raw, expected):
    result = validator_for("lead").validate({"external_id": "L1", key: raw})
    assert result.ok, result.errors
    value = result.references[key] if key == "t_ref" else result.attributes[key]
    assert value == expected


BAD = [
    ("t_text", {"a": 1}, "{'a': 1} is not text"),
    ("t_int", "twelve", "'twelve' is not a whole number"),
    ("t_int", True, "True is not a whole number"),
    ("t_int", 2.5, "2.5 is not a whole number"),
    ("t_dec", "abc", "'abc' is not a number (expected e.g. 1250.50)"),
    ("t_dec", "NaN", "'NaN' is not a finite number"),
    ("t_date", "next tuesday", "'next tuesday' is not a date (expected YYYY-MM-DD)"),
    ("t_date", "2026-02-30", "'2026-02-30' is not a valid calendar date"),
    ("t_dt", "yesterday", "'yesterday' is not a date and time (expected ISO 8601, e.g. 2026-03-01T09:30:00Z)"),
    ("t_dt", "2026-03-01T09:30:00", "'2026-03-01T09:30:00' has no time zone (add Z or an offset such as +01:00)"),
    ("t_bool", "yes", "'yes' is not true or false"),
    ("t_choice", "bronze", "'bronze' is not an allowed value (allowed: gold, silver)"),
    ("t_multi", "a", "'a' is not a list of values"),
    ("t_multi", ["a", "z"], "'z' not allowed (allowed: a, b, c)"),
    ("t_email", "not-an-email", "'not-an-email' is not an email address"),
    ("t_url", "example", "'example' is not a URL (expected e.g. https://example.com)"),
    ("t_ref", True, "True is not a account external id"),
]


@pytest.mark.parametrize(("key", "raw", "message"), BAD)
def test_bad_values_get_a_field_named_error(custom_fields, key, raw, message):
    result = validator_for("lead").validate({"external_id": "L1", key: raw})
    assert not result.ok
    assert result.errors == {key: [message]}
    assert result.messages() == [f"{key}: {message}"]


def test_the_issue_example_message():
    result = validator_for("opportunity").validate({"external_id": "O1", "name": "Deal", "close_date": "next tuesday"})
    assert "close_date: 'next tuesday' is not a date (expected YYYY-MM-DD)" in result.messages()


def test_unknown_field_is_rejected():
    result = validator_for("lead").validate({"external_id": "L1", "favourite_colour": "blue"})
    assert result.errors == {
        "favourite_colour": ["unknown field: the data dictionary defines no lead field 'favourite_colour'"]
    }


def test_text_longer_than_the_column_is_rejected():
    # Without its country normaliser, lead.country takes only the code the column holds.
    FieldDefinition.objects.filter(object_type="lead", key="country").update(
        normalise="none", updated_at=timezone.now()
    )
    result = validator_for("lead").validate({"external_id": "L1", "country": "USA"})
    assert result.errors == {
        "country": [
            "'USA' is 3 characters long, but at most 2 are allowed: send an ISO 3166-1 alpha-2 code such as GB or US"
        ]
    }


def test_core_choice_values_come_from_the_dictionary():
    result = validator_for("lead").validate({"external_id": "L1", "status": "hot"})
    assert result.errors["status"][0].startswith("'hot' is not an allowed value (allowed: new, working,")


def test_required_always():
    result = validator_for("account").validate({"external_id": "A1"})
    assert result.errors == {"name": ["is required but missing"]}
    assert validator_for("account").validate({"external_id": "A1", "name": ""}).errors == {
        "name": ["is required but missing"]
    }


def test_required_from_stage_uses_existing_values():
    validator = validator_for("opportunity")
    won = {"external_id": "O1", "name": "Deal", "stage": "closed_won"}
    result = validator.validate(won)
    # The handoff fields are "prompt": missing, the record is still valid and the gap is reported.
    assert result.ok
    assert result.gaps["contract_start_date"] == ["is required when stage is closed_won but missing"]
    assert "products_purchased" in result.gaps
    # An update that only changes the stage is judged with the stored values of the other fields.
    stored = {
        "name": "Deal",
        "contract_start_date": "2026-01-01",
        "products_purchased": ["platform"],
        "use_case": "x",
        "success_criteria": "x",
        "implementation_notes": "x",
        "billing_contact": "ap@example.com",
        "executive_sponsor": "x",
        "sales_risks_promises": "none",
    }
    complete = validator.validate({"external_id": "O1", "stage": "closed_won"}, existing=stored)
    assert complete.ok and not complete.gaps
    assert validator.validate({"external_id": "O1", "name": "Deal", "stage": "discovery"}).ok


def test_reject_mode_makes_a_missing_required_field_an_error():
    FieldDefinition.objects.filter(object_type="opportunity", key="use_case").update(
        enforcement="reject", updated_at=timezone.now()
    )
    result = validator_for("opportunity").validate({"external_id": "O1", "name": "Deal", "stage": "closed_won"})
    assert result.errors == {"use_case": ["is required when stage is closed_won but missing"]}
    assert "use_case" not in result.gaps and "billing_contact" in result.gaps


def test_null_clears_an_optional_value():
    result = validator_for("lead").validate({"external_id": "L1", "score": None, "owner": None})
    assert result.ok
    assert result.core == {"external_id": "L1", "score": None}
    assert result.references == {"owner": None}


def test_validator_is_rebuilt_when_the_dictionary_changes():
    assert not validator_for("lead").validate({"external_id": "L1", "tier": "a"}).ok
    FieldDefinition.objects.create(
        object_type="lead", key="tier", label="Tier", definition="x", owning_team="RevOps", field_type="text"
    )
    assert validator_for("lead").validate({"external_id": "L1", "tier": "a"}).ok
    FieldDefinition.objects.filter(key="tier").update(required=Required.ALWAYS)
    FieldDefinition.objects.get(key="tier").save()
    assert validator_for("lead").validate({"external_id": "L1"}).errors == {"tier": ["is required but missing"]}


def test_non_object_payload():
    assert validator_for("lead").validate(["x"]).errors == {"record": ["['x'] is not an object"]}


# --------------------------------------------------------------------------------------------
# Values no column can store


def test_unstorable_errors_name_the_field_at_any_depth():
    from revops.validation import NonFinite, unstorable_errors  # noqa: PLC0415

    record = {
        "external_id": "L1",
        "ok": "Zoë",
        "nul": "a\x00b",
        "surrogate": "\ud800",
        "nan": float("nan"),
        "inf": NonFinite("Infinity"),
        "deep": {"a": [1, {"b": "\x00"}]},
        "k\x00": 1,
    }
    errors = unstorable_errors(record)
    assert set(errors) == {"nul", "surrogate", "nan", "inf", "deep", "k\\u0000"}
    assert "NUL" in errors["nul"][0] and "surrogate" in errors["surrogate"][0]
    assert "finite" in errors["nan"][0] and "['b']" in errors["deep"][0]
    assert unstorable_errors({"external_id": "L1", "ok": "Zoë", "n": 1.5, "l": ["a"]}) is None
    # without text checks (the body had no escape that could produce such text) only numbers count
    assert set(unstorable_errors(record, check_text=False)) == {"nan", "inf"}


def test_nesting_beyond_the_limit_raises():
    from revops.validation import MAX_VALUE_DEPTH, NestingTooDeep, unstorable_errors  # noqa: PLC0415

    value = []
    for _ in range(MAX_VALUE_DEPTH):
        value = [value]
    with pytest.raises(NestingTooDeep):
        unstorable_errors({"x": value})
    assert unstorable_errors({"x": value[0]}) is None


def test_storable_escapes_what_cannot_be_stored():
    import json  # noqa: PLC0415

    from revops.validation import NonFinite, storable  # noqa: PLC0415

    value = storable({"a\x00": ["\ud800", float("inf"), NonFinite("NaN"), 1, None]})
    assert value == {"a\\u0000": ["\\ud800", "inf", "NaN", 1, None]}
    json.dumps(value, allow_nan=False).encode()


@pytest.mark.parametrize("zone", ["Mars/Base", "europe/berlin", "", "GMT+2"])
def test_rep_time_zone_must_be_in_the_tz_database(zone):
    result = validator_for("rep").validate({"time_zone": zone})
    assert "IANA name such as Europe/Berlin" in result.errors["time_zone"][0]
    assert validator_for("rep").validate({"time_zone": "Europe/Berlin"}).core["time_zone"] == "Europe/Berlin"
