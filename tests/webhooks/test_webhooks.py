"""Outbound webhooks against a real local receiver: signed batches in feed order, the kinds filter,
retries with backoff, the self-pause with its item, resume, replay, and the push after a feed write."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from pathlib import Path

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from revops.feed import change_entry_record
from revops.models import ChangeEntry
from revops.tokens import api_token_create, api_token_revoke
from tests.factories import UserFactory
from webhooks.jobs import webhooks_dispatch, webhooks_sweep
from webhooks.models import WebhookDelivery
from webhooks.services import (
    backoff,
    deliver_next,
    delivery_replay,
    subscription_create,
    subscription_resume,
)
from webhooks.signing import signature, verify


class Receiver:
    """A local HTTP receiver: records each POST (headers, body) and answers the next queued status."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver is down")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/revops"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def entries(self, n: int) -> list[int]:
        return [e["id"] for e in json.loads(self.requests[n]["body"])["entries"]]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def entry(n: int, kind=ChangeEntry.Kind.OWNER_ASSIGNED) -> ChangeEntry:
    return change_entry_record(kind=kind, object_type="lead", external_id=f"L-{n}", payload={"owner": f"rep{n}"})


def subscribe(receiver, **kwargs):
    owner = UserFactory(username="integration.owner")
    token, _raw = api_token_create(name=kwargs.pop("token_name", "crm"), scopes=["read"])
    sub, secret = subscription_create(
        name=kwargs.pop("name", "CRM push"), url=receiver.url, token=token, owner=owner, actor=owner, **kwargs
    )
    return sub, secret


@pytest.mark.django_db
def test_entries_go_out_signed_in_feed_order_from_where_the_subscription_started(receiver, settings):
    settings.WEBHOOK_BATCH_SIZE = 2
    entry(0)  # before the subscription: not pushed (the CRM reads history from the pull feed)
    sub, secret = subscribe(receiver)
    ids = [entry(n).pk for n in range(1, 4)]

    assert deliver_next(sub.pk) == "sent"
    assert deliver_next(sub.pk) == "sent"
    assert deliver_next(sub.pk) == "idle"
    assert [receiver.entries(0), receiver.entries(1)] == [ids[:2], ids[2:]]

    first = receiver.requests[0]
    headers = first["headers"]
    assert headers["X-Revops-Signature"] == signature(secret, int(headers["X-Revops-Timestamp"]), first["body"])
    assert verify(secret, headers["X-Revops-Timestamp"], first["body"], headers["X-Revops-Signature"], now=time.time())
    assert not verify(
        "whsec_wrong", headers["X-Revops-Timestamp"], first["body"], headers["X-Revops-Signature"], now=time.time()
    )
    stale = time.time() + 3600
    assert not verify(secret, headers["X-Revops-Timestamp"], first["body"], headers["X-Revops-Signature"], now=stale)
    # The receiver's check in docs/webhooks.md, as written there, accepts the delivery.
    doc = (Path(settings.BASE_DIR) / "docs" / "webhooks.md").read_text()
    namespace: dict = {}
    exec(doc.split("```python\n", 1)[1].split("```", 1)[0], namespace)
    assert namespace["verified"](secret, headers, first["body"])
    assert not namespace["verified"](secret, headers, first["body"] + b" ")
    body = json.loads(first["body"])
    assert body["entries"][0] == {
        "id": ids[0],
        "kind": "owner_assigned",
        "object_type": "lead",
        "external_id": "L-1",
        "payload": {"owner": "rep1"},
        "reason": "",
        "created_at": body["entries"][0]["created_at"],
    }
    assert body["next_cursor"] == ids[1]
    sub.refresh_from_db()
    assert sub.cursor == ids[2] and sub.last_success_at is not None
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2


@pytest.mark.django_db
def test_only_the_kinds_wanted_are_pushed_and_the_cursor_skips_the_rest(receiver):
    sub, _secret = subscribe(receiver, kinds=[ChangeEntry.Kind.TASK_CREATED])
    entry(1)
    wanted = entry(2, kind=ChangeEntry.Kind.TASK_CREATED).pk
    last = entry(3).pk
    assert deliver_next(sub.pk) == "sent"
    assert receiver.entries(0) == [wanted]
    assert deliver_next(sub.pk) == "idle"
    sub.refresh_from_db()
    assert sub.cursor == last  # nothing of its kinds after: it does not look at them again


@pytest.mark.django_db
def test_a_failed_delivery_is_retried_with_backoff_and_nothing_later_overtakes_it(receiver, settings):
    settings.WEBHOOK_BATCH_SIZE = 1
    sub, _secret = subscribe(receiver)
    first, second = entry(1).pk, entry(2).pk
    receiver.answers = [503]
    now = timezone.now()

    assert deliver_next(sub.pk, now=now) == "failed"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.response_status == 503
    assert "HTTP 503" in delivery.last_error
    assert delivery.next_attempt_at == now + dt.timedelta(seconds=30)
    assert deliver_next(sub.pk, now=now + dt.timedelta(seconds=10)) == "waiting"  # not due; entry 2 waits too
    assert len(receiver.requests) == 1

    receiver.answers = [500]
    assert deliver_next(sub.pk, now=now + dt.timedelta(seconds=31)) == "failed"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + dt.timedelta(seconds=31) + dt.timedelta(seconds=60)  # doubled
    assert deliver_next(sub.pk, now=now + dt.timedelta(seconds=100)) == "sent"
    assert deliver_next(sub.pk, now=now + dt.timedelta(seconds=100)) == "sent"
    assert [receiver.entries(i) for i in range(len(receiver.requests))] == [[first], [first], [first], [second]]
    assert backoff(20) == dt.timedelta(seconds=3600)  # capped


@pytest.mark.django_db
def test_repeated_failures_pause_the_subscription_with_an_item_for_its_owner_and_resume_sends_in_order(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_FAILURES = 3
    sub, _secret = subscribe(receiver)
    entry(1)
    receiver.answers = [500, 500, 500]
    moment = timezone.now()
    for _ in range(3):
        assert deliver_next(sub.pk, now=moment) == "failed"
        moment += dt.timedelta(hours=2)
    sub.refresh_from_db()
    assert sub.status == "paused" and "3 failed deliveries" in sub.paused_reason
    item = ExceptionItem.objects.get(kind="webhook_paused")
    assert item.owner.username == "integration.owner" and item.severity == "high"
    assert "Nothing is lost" in item.reason and receiver.url in item.reason
    later = entry(2).pk
    assert deliver_next(sub.pk, now=moment) == "paused"

    with django_capture_on_commit_callbacks(execute=False):
        subscription_resume(subscription=sub, actor=sub.owner)
    assert deliver_next(sub.pk) == "sent"  # the waiting delivery first, at once
    assert deliver_next(sub.pk) == "sent"
    assert receiver.entries(3) != [later] and receiver.entries(4) == [later]
    sub.refresh_from_db()
    assert sub.consecutive_failures == 0


@pytest.mark.django_db
def test_a_replay_sends_the_same_body_again_after_what_waits(receiver):
    sub, _secret = subscribe(receiver)
    entry(1)
    deliver_next(sub.pk)
    original = WebhookDelivery.objects.get()
    replay = delivery_replay(delivery=original, actor=sub.owner)
    assert deliver_next(sub.pk) == "sent"
    assert json.loads(receiver.requests[1]["body"]) == json.loads(receiver.requests[0]["body"])
    assert receiver.requests[1]["headers"]["X-Revops-Delivery"] == str(replay.pk)
    assert WebhookDelivery.objects.get(pk=replay.pk).replay_of == original


@pytest.mark.django_db
def test_a_revoked_token_stops_the_push(receiver):
    sub, _secret = subscribe(receiver)
    entry(1)
    api_token_revoke(token=sub.token, actor=sub.owner)
    assert deliver_next(sub.pk) == "paused"
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_feed_write_queues_the_push_and_a_real_worker_delivers_it(receiver, redis_conn, run_worker):
    sub, _secret = subscribe(receiver)
    ids = [entry(n).pk for n in range(3)]  # three commits, one dispatch job (same job id)
    assert run_worker("default") == 0
    assert [i for r in range(len(receiver.requests)) for i in receiver.entries(r)] == ids
    assert webhooks_sweep() == {"queued": 0}  # nothing left to send
    entry(9)
    redis_conn.flushdb()  # the queued push is lost: the minute sweep finds the work
    assert webhooks_sweep() == {"queued": 1}
    assert run_worker("default") == 0
    assert receiver.entries(len(receiver.requests) - 1) == [ChangeEntry.objects.last().pk]
    assert webhooks_dispatch(sub.pk) == {"sent": 0, "failed": 0}
