"""While PostgreSQL or Redis is unreachable the API answers 503 with Retry-After, and a retry with the same
Idempotency-Key goes through as soon as the service is back — not a 500, not a 409 for minutes."""

import datetime as dt
import json
import socket

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory
from django.utils import timezone

from revops.api import errors
from revops.api import sync as sync_view
from revops.idempotency import request_fingerprint
from revops.models import ApiToken, IdempotencyRecord, Lead, OutboxEvent
from revops.tokens import api_token_create

from .test_reliability import database_url


def body(*exts):
    return json.dumps({"records": [{"external_id": e, "source_updated_at": "2026-03-01T10:00:00Z"} for e in exts]})


def post(client, raw, data, key):
    return client.post(
        "/api/v1/sync/leads/",
        data,
        content_type="application/json",
        secure=True,
        HTTP_AUTHORIZATION=f"Bearer {raw}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_503(response):
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    payload = json.loads(response.content)
    assert payload["retry_after"] == 5 and "unavailable" in payload["detail"]


@pytest.mark.django_db(transaction=True)
def test_postgres_dying_mid_request_is_a_503_and_the_same_key_goes_through_at_once(client, redis_conn, monkeypatch):
    raw = api_token_create(name="crm", scopes=["sync:write"])[1]
    real = sync_view.sync_batch_apply
    dying = {"once": True}

    def restart_then_apply(**kwargs):
        if dying.pop("once", False):  # the server restarts after the key was claimed, mid-request
            with psycopg.connect(database_url(), autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
        return real(**kwargs)

    monkeypatch.setattr(sync_view, "sync_batch_apply", restart_then_apply)

    assert_503(post(client, raw, body("L1"), key="k-1"))
    assert not Lead.objects.exists() and not OutboxEvent.objects.exists()  # nothing applied
    assert not IdempotencyRecord.objects.exists()  # the claim was released on a new connection

    retry = post(client, raw, body("L1"), key="k-1")
    assert retry.status_code == 200 and "Idempotent-Replayed" not in retry
    assert Lead.objects.filter(external_id="L1").count() == 1 and OutboxEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_claim_nobody_released_expires_after_five_minutes(client, settings):
    # well above the longest a sync request runs (SQLite's 30 s lock wait plus a full batch)
    assert settings.IDEMPOTENCY_CLAIM_SECONDS == 300
    raw = api_token_create(name="crm", scopes=["sync:write"])[1]
    token = ApiToken.objects.get(name="crm")
    fp = request_fingerprint(method="POST", path="/api/v1/sync/leads/", query="", body=body("L1").encode())
    IdempotencyRecord.objects.create(user=token.user, token=token, key="k-dead", request_fingerprint=fp)
    assert post(client, raw, body("L1"), key="k-dead").status_code == 409  # its request may still be running
    IdempotencyRecord.objects.filter(key="k-dead").update(created_at=timezone.now() - dt.timedelta(seconds=60))
    assert post(client, raw, body("L1"), key="k-dead").status_code == 409

    IdempotencyRecord.objects.filter(key="k-dead").update(created_at=timezone.now() - dt.timedelta(seconds=301))
    assert post(client, raw, body("L1"), key="k-dead").status_code == 200


@pytest.mark.django_db
def test_redis_down_is_a_503_and_nothing_is_written(client, settings):
    raw = api_token_create(name="crm", scopes=["sync:write"])[1]
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"},
    }
    assert_503(post(client, raw, body("L1"), key="k-1"))
    assert not Lead.objects.exists() and not IdempotencyRecord.objects.exists()


def test_an_outage_outside_the_api_views_is_a_503_too():
    """Django's own 500 handler (middleware, session and authentication lookups) says 503 for an outage."""
    factory = RequestFactory()
    try:
        raise OperationalError("the database system is shutting down")
    except OperationalError:
        api = errors.server_error(factory.get("/api/v1/leads/"))
        page = errors.server_error(factory.get("/admin/"))
    assert_503(api)
    assert page.status_code == 503 and page["Retry-After"] == "5"
    try:
        raise ValueError("a bug")
    except ValueError:
        assert errors.server_error(factory.get("/api/v1/leads/")).status_code == 500


@pytest.mark.django_db
def test_the_schema_documents_the_503_the_api_answers(client, settings):
    """Every operation declares the 503, with the body and fields the outage answer has."""
    from revops.api.outage import outage_payload

    settings.SECURE_SSL_REDIRECT = False
    raw = api_token_create(name="reader", scopes=["read"])[1]
    schema = client.get("/api/v1/schema/?format=json", secure=True, HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    operations = [op for path in schema["paths"].values() for op in path.values() if "responses" in op]
    assert operations and all("503" in op["responses"] for op in operations)
    ref = schema["paths"]["/api/v1/sync/{object_name}/"]["post"]["responses"]["503"]["content"]["application/json"]
    component = schema["components"]["schemas"][ref["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(outage_payload()) == set(component["properties"])
