"""A JSON column's text for COPY (revops.sync_columns.json_text): orjson, the standard encoder as fallback."""

import datetime as dt
import json
import uuid

import pytest

from revops.sync_columns import json_text


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Zoë Ünal", "score": 91, "ratio": 0.1, "ok": True, "none": None, "nested": [{"a": [1, 2.5]}]},
        ["a", 1, None],
        "text",
        7,
    ],
)
def test_orjson_writes_what_the_standard_encoder_reads_back(value):
    assert json.loads(json_text(value)) == value


def test_empty_and_none():
    assert json_text(None) is None
    assert json_text({}) == "{}"
    assert json_text([]) == "[]"


def test_what_orjson_refuses_goes_to_the_standard_encoder():
    assert json_text({1: "one", None: "none"}) == json.dumps({1: "one", None: "none"})  # keys not text
    assert json_text({"big": 2**70}) == json.dumps({"big": 2**70})
    assert json_text({"bad": "\ud800"}) == json.dumps({"bad": "\ud800"})
    with pytest.raises(TypeError):  # as before: a date is not JSON
        json_text({"when": dt.datetime(2026, 12, 7, tzinfo=dt.UTC)})


def test_values_the_standard_encoder_could_not_store():
    value = uuid.UUID(int=5)
    assert json.loads(json_text({"id": value})) == {"id": str(value)}
    assert json.loads(json_text({"x": float("nan"), "y": float("inf")})) == {"x": None, "y": None}
