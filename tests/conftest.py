"""Shared fixtures: real Redis (flushed per test), a real RQ worker run in burst mode, and test settings."""

import signal

import django_rq
import pytest
from rq import SimpleWorker


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Plain-HTTP test client and a fast password hasher; production settings stay otherwise intact."""
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Forget what a process caches across requests (a rolled-back test's rows must not linger there)."""
    from lifecycle import services as lifecycle_services
    from revops.audit import system_users_forget
    from webhooks import services

    services._forget_active()
    system_users_forget()
    # Django's cache lives in Redis across tests: a cached answer keyed by ids (the triage header's
    # queue counts) would be read back by a later test whose rows reuse those ids (SQLite does). Only the
    # cache's own keys go (the database also holds the queues).
    from django.core.cache import cache

    try:
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("*"), count=1000))
        if keys:
            client.delete(*keys)
    except Exception:  # no Redis for a test that needs none
        pass
    lifecycle_services._SPECS.clear()
    lifecycle_services._CURRENT.update(version=None, specs=[])


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Restore what migrations create after a transactional test's flush removed it.

    The default dictionary comes from a data migration, and content types are created lazily;
    threads in concurrent tests would otherwise race to create the same content type.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if not (transactional or {"transactional_db", "live_server"} & set(request.fixturenames)):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    from revops.dictionary_defaults import load_default_dictionary
    from revops.models import FieldDefinition

    load_default_dictionary(FieldDefinition)
    ContentType.objects.get_for_models(*apps.get_models())


@pytest.fixture
def redis_conn():
    """The Redis behind the RQ queues, emptied before and after the test."""
    conn = django_rq.get_connection("default")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def run_worker(redis_conn):
    """Run every queued job to completion in a real RQ worker (burst mode, in this process).

    Jobs see the test's database, so tests that enqueue on commit use ``transactional_db``
    or ``django_capture_on_commit_callbacks(execute=True)``.
    """

    def run(*queue_names: str) -> int:
        """Work the queues (all by default) until empty; return how many jobs failed."""
        names = queue_names or ("hot", "default", "low")
        queues = [django_rq.get_queue(name) for name in names]
        # The worker installs its own SIGINT/SIGTERM handlers and never restores pytest's.
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            SimpleWorker(queues, connection=redis_conn).work(burst=True)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)
        return sum(queue.failed_job_registry.count for queue in queues)

    return run


@pytest.fixture
def admin_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="admin", is_staff=True, is_superuser=True)
