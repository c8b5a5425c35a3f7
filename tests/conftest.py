"""Shared fixtures: real Redis (flushed per test) and a real RQ worker run in burst mode."""

import django_rq
import pytest
from rq import SimpleWorker


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
        SimpleWorker(queues, connection=redis_conn).work(burst=True)
        return sum(queue.failed_job_registry.count for queue in queues)

    return run


@pytest.fixture
def admin_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="admin", is_staff=True, is_superuser=True)
