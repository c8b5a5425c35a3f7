"""JSON columns are compressed with lz4 on PostgreSQL (revops.db_compression)."""

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from revops.db_compression import compress_json_columns, json_columns, lz4_supported
from routing.models import RoutingDecision
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _compression(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attcompression FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = %s AND a.attname = %s",
            [table, column],
        )
        return cursor.fetchone()[0]


def _needs_lz4():
    if connection.vendor != "postgresql":
        pytest.skip("compression methods are PostgreSQL's")
    if not lz4_supported(connection):
        pytest.skip("this PostgreSQL was built without lz4")


def test_every_json_column_is_lz4_after_migrate():
    _needs_lz4()
    columns = [column for config in apps.get_app_configs() for column in json_columns(config)]
    assert ("routing_routingdecision", "explanation") in columns
    assert ("revops_historicallead", "raw_values") in columns  # the history models' too
    assert {column: _compression(*column) for column in columns} == dict.fromkeys(columns, "l")


def test_a_large_explanation_is_stored_with_lz4():
    _needs_lz4()
    lead = LeadFactory()
    explanation = {"candidates": [{"name": f"Rep {n}", "note": "x" * 40, "open": n} for n in range(200)]}
    decision = RoutingDecision.objects.create(
        lead=lead, outcome=RoutingDecision.Outcome.ASSIGNED, explanation=explanation, decided_at=timezone.now()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(explanation) FROM routing_routingdecision WHERE id = %s", [decision.pk]
        )
        assert cursor.fetchone()[0] == "lz4"
    decision.refresh_from_db()
    assert decision.explanation == explanation


def test_columns_set_back_to_pglz_are_set_to_lz4_again_and_only_they():
    _needs_lz4()
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE routing_routingdecision ALTER COLUMN explanation SET COMPRESSION pglz, "
            "ALTER COLUMN summary SET COMPRESSION pglz"  # not a JSON column: left as it is
        )
        cursor.execute("ALTER TABLE routing_pool ALTER COLUMN working_days SET COMPRESSION pglz")
    changed = compress_json_columns(app_config=apps.get_app_config("routing"))
    assert changed == [("routing_pool", "working_days"), ("routing_routingdecision", "explanation")]
    assert _compression("routing_routingdecision", "explanation") == "l"
    assert _compression("routing_routingdecision", "summary") == "p"
    assert compress_json_columns(app_config=apps.get_app_config("routing")) == []


def test_nothing_to_do_on_sqlite_or_without_json_columns():
    if connection.vendor == "postgresql":
        assert compress_json_columns(app_config=apps.get_app_config("auth")) == []  # no JSON fields
    else:
        assert lz4_supported(connection) is False
        assert compress_json_columns(app_config=apps.get_app_config("routing")) == []


@pytest.mark.django_db(transaction=True)
def test_a_table_kept_locked_is_left_for_the_next_migrate(monkeypatch):
    _needs_lz4()
    import psycopg
    from django.conf import settings

    from revops import db_compression

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE routing_routingdecision ALTER COLUMN explanation SET COMPRESSION pglz")
    monkeypatch.setattr(db_compression, "LOCK_TIMEOUT", "100ms")
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        dbname=connection.settings_dict["NAME"],
        user=db["USER"],
        host=db["HOST"],
        port=db["PORT"],
        password=db["PASSWORD"],
    )
    try:
        other.execute("LOCK TABLE routing_routingdecision IN ACCESS SHARE MODE")  # a long read, say
        assert compress_json_columns(app_config=apps.get_app_config("routing")) == []
        assert _compression("routing_routingdecision", "explanation") == "p"
    finally:
        other.rollback()
        other.close()
    assert compress_json_columns(app_config=apps.get_app_config("routing")) == [
        ("routing_routingdecision", "explanation")
    ]


@pytest.mark.django_db(transaction=True)
def test_a_table_the_role_does_not_own_is_left_and_migrate_goes_on():
    _needs_lz4()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE routing_routingdecision ALTER COLUMN explanation SET COMPRESSION pglz")
        cursor.execute("DROP ROLE IF EXISTS revops_not_owner")
        cursor.execute("CREATE ROLE revops_not_owner")
        cursor.execute("SET ROLE revops_not_owner")
    try:
        assert compress_json_columns(app_config=apps.get_app_config("routing")) == []
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("DROP ROLE revops_not_owner")
    assert _compression("routing_routingdecision", "explanation") == "p"
    assert compress_json_columns(app_config=apps.get_app_config("routing")) == [
        ("routing_routingdecision", "explanation")
    ]
