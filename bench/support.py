"""What the benchmarks that own a throwaway database share: its URLs, creating and dropping it, and
an optional profile of one phase printed to stderr."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse


def setup_django(bench_url: str) -> None:
    """Django on the benchmark's own database with production settings (``DEBUG=0``) and the test
    client's host allowed; a secret of its own unless ``SECRET_KEY`` is set."""
    import secrets

    os.environ.update(
        {
            "DATABASE_URL": bench_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(48),
            "DEBUG": "0",
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "revops.settings",
        }
    )
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    import django

    django.setup()


def database_urls(db_name: str, script: str) -> tuple[str, str]:
    """(the server's ``postgres`` database, the benchmark's own ``db_name``) from ``DATABASE_URL``."""
    parsed = urlparse(os.environ.get("DATABASE_URL", ""))
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit(f"{script} needs DATABASE_URL pointing at a PostgreSQL server (postgres://…)")
    admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
    return admin, urlunparse(parsed._replace(scheme="postgres", path=f"/{db_name}"))


def recreate(admin_url: str, db_name: str, *, drop_only: bool = False) -> None:
    """Drop ``db_name`` (forcing its connections closed) and, unless ``drop_only``, create it empty."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{db_name}"')


@contextmanager
def profiled(enabled: bool, label: str, *, top: int = 30):
    """Profile the block when ``enabled``: its top functions by cumulative and by own time, to stderr."""
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        print(f"\n===== {label} =====", file=sys.stderr)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top - 5)
