"""The changes feed: one writer service, an ordered and stable cursor, de-duplication, and the API."""

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction

from revops.feed import change_entries_after, change_entry_record
from revops.models import ChangeEntry
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = pytest.mark.usefixtures("api_settings")


def record(n: int, **kwargs) -> ChangeEntry:
    return change_entry_record(
        kind=ChangeEntry.Kind.OWNER_ASSIGNED,
        object_type="lead",
        external_id=f"L-{n}",
        payload={"owner": f"R-{n}"},
        reason="routing rule 'EMEA' v3, run 42",
        **kwargs,
    )


@pytest.mark.django_db
def test_entries_are_read_in_order_after_a_cursor():
    entries = [record(n) for n in range(5)]
    page, has_more = change_entries_after(after=0, limit=3)
    assert page == entries[:3] and has_more
    page, has_more = change_entries_after(after=page[-1].id, limit=3)
    assert page == entries[3:] and not has_more
    assert change_entries_after(after=entries[-1].id) == ([], False)


@pytest.mark.django_db
def test_dedupe_key_makes_re_recording_a_no_op():
    first = record(1, dedupe_key="routing:run:42")
    again = record(2, dedupe_key="routing:run:42")
    assert again.pk == first.pk and again.external_id == "L-1"
    assert ChangeEntry.objects.count() == 1
    assert record(3, dedupe_key="routing:run:43").pk != first.pk
    assert record(4).pk != record(5).pk  # without a key every call appends


@pytest.mark.django_db
def test_an_unknown_kind_is_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        change_entry_record(kind="launch_missiles", object_type="lead", external_id="L-1", payload={})
    assert not ChangeEntry.objects.exists()


@pytest.mark.django_db
def test_api_pages_through_the_feed():
    client = token_client("read")
    entries = [record(n) for n in range(5)]
    body = client.get("/api/v1/changes/", {"limit": 2}).json()
    assert [e["id"] for e in body["results"]] == [e.id for e in entries[:2]]
    assert body["next_cursor"] == entries[1].id and body["has_more"] is True
    first = body["results"][0]
    assert first == {
        "id": entries[0].id,
        "kind": "owner_assigned",
        "object_type": "lead",
        "external_id": "L-0",
        "payload": {"owner": "R-0"},
        "reason": "routing rule 'EMEA' v3, run 42",
        "created_at": first["created_at"],
    }
    body = client.get("/api/v1/changes/", {"after": body["next_cursor"], "limit": 10}).json()
    assert [e["external_id"] for e in body["results"]] == ["L-2", "L-3", "L-4"]
    assert body["has_more"] is False
    # Polling at the end returns the cursor unchanged.
    end = client.get("/api/v1/changes/", {"after": body["next_cursor"]}).json()
    assert end == {"results": [], "next_cursor": body["next_cursor"], "has_more": False}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params", [{"after": "-1"}, {"after": "abc"}, {"after": "1.5"}, {"limit": "0"}, {"limit": "1001"}, {"limit": "x"}]
)
def test_api_refuses_bad_cursor_and_limit(params):
    response = token_client("read").get("/api/v1/changes/", params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


@pytest.mark.django_db
def test_api_needs_read_scope():
    assert token_client("sync:write").get("/api/v1/changes/").status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["one", "batch", "batch-copy"])
def test_concurrent_writers_never_make_a_polling_reader_skip_an_entry(how, monkeypatch):
    """Writers whose transactions overlap (and commit in a different order than they started) while a
    reader polls with its cursor: the reader sees every committed entry exactly once, in id order —
    for single entries, small batches (one INSERT taking the lock itself) and big ones (lock, COPY)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SQLite serialises writers anyway)")
    from revops import feed

    if how == "batch-copy":
        monkeypatch.setattr(feed, "_INSERT_AT_MOST", 0)
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    done = threading.Event()

    def write(w: int):
        rng = random.Random(w)
        try:
            for i in range(per_writer):
                with transaction.atomic():
                    if how == "one":
                        record(w * 1000 + i, dedupe_key=f"w{w}:{i}")
                    else:
                        feed.change_entries_record(
                            [
                                {
                                    "kind": ChangeEntry.Kind.OWNER_ASSIGNED,
                                    "object_type": "lead",
                                    "external_id": f"L-{w}-{i}-{n}",
                                    "payload": {"n": n},
                                    "dedupe_key": f"w{w}:{i}:{n}",
                                }
                                for n in range(2)
                            ]
                        )
                    # Keep the transaction open a little so that transactions overlap.
                    time.sleep(rng.uniform(0, 0.01))
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    seen: list[int] = []
    cursor = 0

    def poll():
        nonlocal cursor
        page, _ = change_entries_after(after=cursor, limit=7)
        seen.extend(entry.id for entry in page)
        if page:
            cursor = page[-1].id

    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        poll()
    for thread in threads:
        thread.join()
    done.set()
    while True:
        before = len(seen)
        poll()
        if len(seen) == before:
            break

    assert not errors
    expected = list(ChangeEntry.objects.order_by("id").values_list("id", flat=True))
    assert len(expected) == writers * per_writer * (1 if how == "one" else 2)
    assert seen == expected  # every entry, exactly once, in order


@pytest.fixture(params=["insert", "copy", "orm"])
def feed_writer(request, monkeypatch):
    """``change_entries_record`` three times: a small batch's INSERT and a big one's COPY on PostgreSQL,
    and the ``bulk_create`` SQLite takes."""
    from revops import feed

    if request.param != "orm" and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    if request.param == "copy":
        monkeypatch.setattr(feed, "_INSERT_AT_MOST", 0)
    if request.param == "orm":
        monkeypatch.setattr(feed, "_copy_supported", lambda: False)
    return request.param


@pytest.mark.django_db
def test_change_entries_record_appends_in_order_and_skips_known_keys(feed_writer):
    from revops.feed import change_entries_record, change_entry_record
    from revops.models import ChangeEntry

    change_entry_record(
        kind="handoff_signal", object_type="opportunity", external_id="O-1", payload={"n": 0}, dedupe_key="k1"
    )
    added = change_entries_record(
        [
            {
                "kind": "handoff_signal",
                "object_type": "opportunity",
                "external_id": "O-1",
                "payload": {"n": 1},
                "dedupe_key": "k1",
            },
            {
                "kind": "handoff_signal",
                "object_type": "opportunity",
                "external_id": "O-2",
                "payload": {"n": 2},
                "dedupe_key": "k2",
            },
            {
                "kind": "task_created",
                "object_type": "opportunity",
                "external_id": "O-2",
                "payload": {"n": 3},
                "dedupe_key": "k3",
            },
            {
                "kind": "task_created",
                "object_type": "opportunity",
                "external_id": "O-2",
                "payload": {"n": 4},
                "dedupe_key": "k3",
            },
        ]
    )
    assert added == 2
    assert list(ChangeEntry.objects.order_by("id").values_list("dedupe_key", flat=True)) == ["k1", "k2", "k3"]


@pytest.mark.django_db
def test_change_entries_record_stores_each_entry_as_given(feed_writer):
    from revops.feed import change_entries_record

    entries = [
        {
            "kind": "handoff_signal",
            "object_type": "opportunity",
            "external_id": f"O-{n}",
            "payload": {
                "signal": "started",
                "handoff_id": n,
                "note": "“quoted”, tab\there",
                "nested": {"a": [1, None]},
            },
            "reason": "x" * 300 if n == 2 else f"handoff {n}",
            "dedupe_key": f"handoff:{n}:started",
        }
        for n in range(3)
    ]
    entries.append({**entries[0], "payload": {}, "dedupe_key": "no-reason"})
    del entries[-1]["reason"]
    assert change_entries_record(entries) == 4
    assert change_entries_record(entries) == 0  # all known now
    stored = list(ChangeEntry.objects.order_by("id"))
    assert [e.dedupe_key for e in stored] == [
        "handoff:0:started",
        "handoff:1:started",
        "handoff:2:started",
        "no-reason",
    ]
    assert [e.payload for e in stored] == [entry["payload"] for entry in entries]
    assert [e.reason for e in stored] == ["handoff 0", "handoff 1", "x" * 255, ""]
    assert all(e.created_at is not None and e.kind == "handoff_signal" for e in stored)
    page, _ = change_entries_after(after=0)
    assert page == stored
