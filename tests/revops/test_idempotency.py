"""Idempotency-Key: replays return the first response byte for byte, and a key never runs twice."""

import datetime as dt
import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from revops import jobs, sync
from revops.dictionary_defaults import load_default_dictionary
from revops.idempotency import request_fingerprint
from revops.models import ApiToken, FieldDefinition, IdempotencyRecord, Lead, OutboxEvent, SyncBatch
from revops.tokens import api_token_create


def body(*exts, **values):
    return json.dumps(
        {"records": [{"external_id": e, "source_updated_at": "2026-03-01T10:00:00Z", **values} for e in exts]}
    )


@pytest.fixture
def raw_token(db):
    return api_token_create(name="hubspot", scopes=["sync:write"])[1]


def post(client, raw, data, key=None, path="/api/v1/sync/leads/"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        path, data, content_type="application/json", secure=True, HTTP_AUTHORIZATION=f"Bearer {raw}", **headers
    )


@pytest.mark.django_db
def test_serial_replay_returns_identical_bytes_and_has_one_effect(client, raw_token):
    first = post(client, raw_token, body("L1", "L2"), key="k-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    for _ in range(2):
        again = post(client, raw_token, body("L1", "L2"), key="k-1")
        assert again.status_code == 200
        assert again.content == first.content
        assert again["Idempotent-Replayed"] == "true"
    assert SyncBatch.objects.count() == 1 and Lead.objects.count() == 2 and OutboxEvent.objects.count() == 2
    batch = SyncBatch.objects.get()
    assert batch.idempotency_key == "k-1"
    record = IdempotencyRecord.objects.get()
    assert record.state == "completed" and record.response_status == 200


@pytest.mark.django_db
def test_same_key_with_a_different_request_is_refused(client, raw_token):
    post(client, raw_token, body("L1"), key="k-1")
    response = post(client, raw_token, body("L1", score=5), key="k-1")
    assert response.status_code == 422 and "different request" in response.json()["detail"]
    response = post(client, raw_token, body("L1"), key="k-1", path="/api/v1/sync/leads/?atomic=true")
    assert response.status_code == 422
    assert SyncBatch.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_per_user(client, raw_token):
    _, other = api_token_create(name="salesforce", scopes=["sync:write"])
    a = post(client, raw_token, body("L1"), key="shared")
    b = post(client, other, body("L1"), key="shared")
    assert "Idempotent-Replayed" not in b and a.json()["batch"] != b.json()["batch"]


@pytest.mark.django_db
def test_client_errors_are_stored_and_replayed(client, raw_token):
    first = post(client, raw_token, "{broken", key="k-bad")
    assert first.status_code == 400
    again = post(client, raw_token, "{broken", key="k-bad")
    assert again.status_code == 400 and again.content == first.content and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_overlong_or_empty_keys_are_refused(client, raw_token):
    assert post(client, raw_token, body("L1"), key="k" * 256).status_code == 400
    assert post(client, raw_token, body("L1"), key=" ").status_code == 400
    assert post(client, raw_token, body("L1"), key="k" * 255).status_code == 200


@pytest.mark.django_db
def test_a_failing_handler_releases_the_key(client, raw_token, monkeypatch):
    real = sync.sync_batch_apply

    def boom(**kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr("revops.api.sync.sync_batch_apply", boom)
    client.raise_request_exception = False
    assert post(client, raw_token, body("L1"), key="k-1").status_code == 500
    assert IdempotencyRecord.objects.count() == 0
    monkeypatch.setattr("revops.api.sync.sync_batch_apply", real)
    response = post(client, raw_token, body("L1"), key="k-1")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response


@pytest.mark.django_db
def test_an_abandoned_claim_is_taken_over(client, raw_token):
    token = ApiToken.objects.get(name="hubspot")
    fp = request_fingerprint(method="POST", path="/api/v1/sync/leads/", query="", body=body("L1").encode())
    IdempotencyRecord.objects.create(user=token.user, token=token, key="k-dead", request_fingerprint=fp)
    assert post(client, raw_token, body("L1"), key="k-dead").status_code == 409
    IdempotencyRecord.objects.filter(key="k-dead").update(created_at=timezone.now() - dt.timedelta(minutes=10))
    response = post(client, raw_token, body("L1"), key="k-dead")
    assert response.status_code == 200 and Lead.objects.filter(external_id="L1").exists()


@pytest.mark.django_db
def test_purge_job_deletes_old_keys(client, raw_token, settings):
    post(client, raw_token, body("L1"), key="old")
    post(client, raw_token, body("L2"), key="new")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1)
    )
    assert jobs.purge_idempotency_keys() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_execute_once(raw_token, monkeypatch):
    # An earlier transactional test may have flushed the dictionary the data migration loaded.
    load_default_dictionary(FieldDefinition)
    real = sync.sync_batch_apply

    def slow(**kwargs):
        time.sleep(0.5)  # keep the first request in progress while the others arrive
        return real(**kwargs)

    monkeypatch.setattr("revops.api.sync.sync_batch_apply", slow)
    barrier = threading.Barrier(4)
    responses = []

    def worker():
        try:
            barrier.wait()
            responses.append(post(Client(), raw_token, body("L1", "L2"), key="k-race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1 and statuses.count(409) == 3, statuses
    assert SyncBatch.objects.count() == 1 and Lead.objects.count() == 2
    # once done, the same key replays the stored answer
    winner = next(r for r in responses if r.status_code == 200)
    replay = post(Client(), raw_token, body("L1", "L2"), key="k-race")
    assert replay.content == winner.content and replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_a_request_that_outlives_its_claim_rolls_back_instead_of_running_twice(raw_token, monkeypatch):
    load_default_dictionary(FieldDefinition)
    real = sync.sync_batch_apply
    started, proceed, calls = threading.Event(), threading.Event(), []

    def slow(**kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first request stalls (a lock wait, a huge batch) past its claim
            started.set()
            assert proceed.wait(10)
        return real(**kwargs)

    monkeypatch.setattr("revops.api.sync.sync_batch_apply", slow)
    responses = {}

    def first():
        try:
            responses["first"] = post(Client(), raw_token, body("L1", "L2"), key="k-slow")
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    IdempotencyRecord.objects.filter(key="k-slow").update(created_at=timezone.now() - dt.timedelta(hours=1))
    retry = post(Client(), raw_token, body("L1", "L2"), key="k-slow")  # the CRM timed out and retries
    proceed.set()
    thread.join(10)
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry
    assert responses["first"].status_code == 409  # it lost the key: its writes rolled back
    assert len(calls) == 2 and SyncBatch.objects.count() == 1 and Lead.objects.count() == 2
    record = IdempotencyRecord.objects.get(key="k-slow")
    assert record.state == IdempotencyRecord.State.COMPLETED and bytes(record.response_body) == retry.content
    assert post(Client(), raw_token, body("L1", "L2"), key="k-slow")["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_a_request_that_lost_its_claim_never_releases_the_new_owners(raw_token):
    from revops.idempotency import _claim, _release

    token = ApiToken.objects.get(name="hubspot")
    old, _ = _claim(user=token.user, token=token, key="k-taken", fingerprint="f")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=1))
    new, answer = _claim(user=token.user, token=token, key="k-taken", fingerprint="f")
    assert answer is None and new.pk == old.pk and new.created_at != old.created_at
    _release(old)  # the original request fails late: the retry still owns the key
    assert IdempotencyRecord.objects.filter(pk=new.pk, state=IdempotencyRecord.State.IN_PROGRESS).exists()
    _release(new)
    assert not IdempotencyRecord.objects.filter(pk=new.pk).exists()
