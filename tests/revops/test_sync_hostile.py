"""Hostile input on POST /api/v1/sync/<object>/: never a 500, one bad record never loses the batch.

Values no column can store (NUL, lone surrogates, NaN/Infinity) reject their record only, with the
field named; envelope problems (too deep nesting, a bad Idempotency-Key) answer 400 and write nothing.
Also: far-future ``source_updated_at``, duplicate external ids in a batch, invalid rep time zones.
"""

import datetime as dt
import json

import pytest
from django.utils import timezone

from revops.models import FieldDefinition, IdempotencyRecord, Lead, Rep, SyncFailure
from revops.tokens import api_token_create
from tests.revops.test_sync_api import T1, T2, rec, totals

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync(client):
    """POST to the sync endpoint with a ``sync:write`` token (as in test_sync_api); returns the response."""
    _, raw = api_token_create(name="hubspot", scopes=["sync:write"])

    def post(object_name, records=None, *, body=None, query="", **headers):
        data = body if body is not None else json.dumps({"records": records})
        return client.post(
            f"/api/v1/sync/{object_name}/{query}",
            data=data,
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
            **headers,
        )

    return post


def body_with(hostile: str, valid: int = 20) -> str:
    """A body of ``valid`` good leads with one hostile record (raw JSON text) in the middle."""
    good = [json.dumps(rec(f"L{n}", email=f"l{n}@acme.test")) for n in range(valid)]
    good.insert(valid // 2, hostile)
    return '{"records": [' + ",".join(good) + "]}"


# raw JSON of a hostile lead -> the field its error is reported under
HOSTILE_RECORDS = {
    "nul in a value": (r'{"external_id": "H", "source_updated_at": "%s", "company": "Ac\u0000me"}', "company"),
    "nul in an email": (r'{"external_id": "H", "source_updated_at": "%s", "email": "a\u0000@b.test"}', "email"),
    "nul in an unknown key": (r'{"external_id": "H", "source_updated_at": "%s", "x\u0000y": 1}', "x\\u0000y"),
    "lone surrogate": (r'{"external_id": "H", "source_updated_at": "%s", "company": "Ac\ud800me"}', "company"),
    "lone low surrogate": (r'{"external_id": "H", "source_updated_at": "%s", "first_name": "\udc00"}', "first_name"),
    "nul in the timestamp": (
        r'{"external_id": "H", "source_updated_at": "2026-03-01T10:00:00Z\u0000", "company": "%s"}',
        "source_updated_at",
    ),
    "NaN": ('{"external_id": "H", "source_updated_at": "%s", "score": NaN}', "score"),
    "NaN as text": ('{"external_id": "H", "source_updated_at": "%s", "company": NaN}', "company"),
    "Infinity": ('{"external_id": "H", "source_updated_at": "%s", "score": Infinity}', "score"),
    "-Infinity": ('{"external_id": "H", "source_updated_at": "%s", "company": -Infinity}', "company"),
    "float overflow": ('{"external_id": "H", "source_updated_at": "%s", "score": 1e999}', "score"),
    "NaN in a list": ('{"external_id": "H", "source_updated_at": "%s", "company": [1, NaN]}', "company"),
    "nul in the external id": (r'{"external_id": "H\u0000", "source_updated_at": "%s"}', "external_id"),
    "surrogate in the external id": (r'{"external_id": "H\ud800", "source_updated_at": "%s"}', "external_id"),
}


@pytest.mark.parametrize("case", list(HOSTILE_RECORDS))
def test_a_hostile_record_is_rejected_alone(sync, case):
    template, field = HOSTILE_RECORDS[case]
    response = sync("leads", body=body_with(template.replace("%s", T1)))
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(21))
    assert [r["status"] for r in results] == ["created"] * 10 + ["rejected"] + ["created"] * 10
    assert list(results[10]["errors"]) == [field]
    assert Lead.objects.count() == 20
    failure = SyncFailure.objects.get()
    assert field in failure.errors
    json.dumps(failure.payload, allow_nan=False)  # the rejected payload was stored, made storable


def test_custom_attributes_are_checked_at_any_depth(sync):
    common = {"object_type": "lead", "definition": "x", "owning_team": "RevOps"}
    FieldDefinition.objects.create(
        key="tags", label="Tags", field_type="multi_choice", allowed_values=["a", "b"], **common
    )
    FieldDefinition.objects.create(key="segment", label="Segment", field_type="text", **common)
    records = [
        r'{"external_id": "H1", "source_updated_at": "%s", "tags": ["a", "b\u0000"]}'.replace("%s", T1),
        r'{"external_id": "H2", "source_updated_at": "%s", "tags": [NaN]}'.replace("%s", T1),
        r'{"external_id": "H3", "source_updated_at": "%s", "segment": "\ud83d"}'.replace("%s", T1),
        r'{"external_id": "H4", "source_updated_at": "%s", "tags": {"k\u0000": ["a"]}}'.replace("%s", T1),
        json.dumps(rec("OK", tags=["a"], segment="smb")),
    ]
    response = sync("leads", body='{"records": [' + ",".join(records) + "]}")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 4 + ["created"]
    assert [list(r["errors"]) for r in results[:4]] == [["tags"], ["tags"], ["segment"], ["tags"]]
    assert "NUL" in results[0]["errors"]["tags"][0] and "NUL" in results[3]["errors"]["tags"][0]
    assert "finite" in results[1]["errors"]["tags"][0]
    assert "surrogate" in results[2]["errors"]["segment"][0]
    assert Lead.objects.get().attributes == {"tags": ["a"], "segment": "smb"}


def test_raw_encoded_surrogate_bytes_are_rejected_per_record(sync):
    body = body_with(
        '{"external_id": "H", "source_updated_at": "%s", "company": "xSURROGATE"}'.replace("%s", T1)
    ).encode()
    body = body.replace(b"SURROGATE", b"\xed\xa0\x80")
    response = sync("leads", body=body)
    assert response.status_code == 200, response.content
    assert [r["status"] for r in response.json()["results"]].count("rejected") == 1
    assert Lead.objects.count() == 20


def test_hostile_values_in_an_update_are_rejected(sync):
    sync("leads", [rec("L1", email="a@b.test", company="Acme")])
    response = sync(
        "leads",
        body=body_with(r'{"external_id": "L1", "source_updated_at": "%s", "company": "\u0000"}'.replace("%s", T2)),
    )
    assert response.status_code == 200
    assert Lead.objects.get(external_id="L1").company == "Acme"


@pytest.mark.parametrize("depth", [17, 100, 5000])
def test_nesting_beyond_the_limit_is_a_400_and_writes_nothing(sync, depth):
    before = totals()
    nested = "[" * depth + "]" * depth
    response = sync(
        "leads",
        body=body_with(
            '{"external_id": "H", "source_updated_at": "%s", "company": NESTED}'.replace("%s", T1).replace(
                "NESTED", nested
            )
        ),
    )
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert totals() == before


def test_nesting_within_the_limit_is_an_ordinary_field_error(sync):
    nested = "[" * 16 + "]" * 16
    response = sync(
        "leads",
        body=body_with(
            '{"external_id": "H", "source_updated_at": "%s", "company": NESTED}'.replace("%s", T1).replace(
                "NESTED", nested
            )
        ),
    )
    assert response.status_code == 200
    assert Lead.objects.count() == 20


@pytest.mark.parametrize("key", ["k\x00ey", "\x00", "key\x7f", "a\nb"])
def test_a_bad_idempotency_key_is_a_400(sync, key):
    before = totals()
    response = sync("leads", [rec("L1")], HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert totals() == before and not IdempotencyRecord.objects.exists()


def test_atomic_batch_with_a_hostile_record_writes_nothing(sync):
    before = totals()
    response = sync(
        "leads",
        body=body_with(r'{"external_id": "H", "source_updated_at": "%s", "company": "\u0000"}'.replace("%s", T1)),
        query="?atomic=true",
    )
    assert response.status_code == 422
    assert totals() == before


def test_an_integer_with_too_many_digits_is_a_400(sync):
    response = sync(
        "leads",
        body=body_with(
            '{"external_id": "H", "source_updated_at": "%s", "score": 1%s}'.replace("%s", T1, 1).replace(
                "%s", "0" * 5000
            )
        ),
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert not Lead.objects.exists()


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_timestamp_that_overflows_utc_is_rejected_per_record(sync, when):
    response = sync("leads", [rec("L1", when), rec("L2")])
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "created"]
    assert "out of range" in results[0]["errors"]["source_updated_at"][0]


# --------------------------------------------------------------------------------------------
# Far-future source_updated_at


def test_far_future_source_updated_at_is_rejected(sync):
    response = sync("leads", [rec("L1", "9999-12-31T00:00:00Z", email="a@b.test"), rec("L2", email="c@d.test")])
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "created"]
    message = results[0]["errors"]["source_updated_at"][0]
    assert "future" in message and "86400 seconds" in message
    # the record is not frozen: a real update applies
    assert sync("leads", [rec("L1", T2, email="a@b.test")]).json()["results"][0]["status"] == "created"


def test_future_skew_is_configurable(sync, settings):
    soon = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    assert sync("leads", [rec("L1", soon)]).json()["results"][0]["status"] == "created"
    settings.SYNC_MAX_FUTURE_SKEW_SECONDS = 3600
    result = sync("leads", [rec("L2", soon)]).json()["results"][0]
    assert result["status"] == "rejected" and "3600 seconds" in result["errors"]["source_updated_at"][0]


# --------------------------------------------------------------------------------------------
# Duplicate external ids in one batch


def test_later_copies_of_an_external_id_are_rejected_naming_the_first(sync):
    records = [rec("L0"), rec("L1", score=1), rec("L2"), rec("L1", T2, score=2), rec("L1", T2, score=3)]
    results = sync("leads", records).json()["results"]
    assert [r["status"] for r in results] == ["created", "created", "created", "rejected", "rejected"]
    for result in results[3:]:
        assert result["errors"]["external_id"] == [
            "external_id 'L1' already appears at index 1 of this batch; "
            "send each record once per batch (later copies are rejected)"
        ]
    assert Lead.objects.get(external_id="L1").score == 1
    assert SyncFailure.objects.count() == 2


def test_a_duplicate_of_a_rejected_record_is_rejected_too(sync):
    results = sync("leads", [rec("L1", score="lots"), rec("L1", score=2)]).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert "index 0" in results[1]["errors"]["external_id"][0]
    assert not Lead.objects.exists()


# --------------------------------------------------------------------------------------------
# Rep time zones


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/berlin", "", "+02:00", "CEST", "Europe/Berlin\x00"])
def test_an_invalid_rep_time_zone_is_rejected(sync, zone):
    results = sync(
        "reps",
        [rec("R1", name="Ada", email="ada@acme.test", time_zone=zone), rec("R2", name="Bo", email="bo@acme.test")],
    ).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "created"]
    if "\x00" not in zone:
        assert "IANA name such as Europe/Berlin" in results[0]["errors"]["time_zone"][0]
    assert list(Rep.objects.values_list("external_id", flat=True)) == ["R2"]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_a_valid_rep_time_zone_is_accepted(sync, zone):
    result = sync("reps", [rec("R1", name="Ada", email="ada@acme.test", time_zone=zone)]).json()["results"][0]
    assert result["status"] == "created"
    assert Rep.objects.get().time_zone == zone
