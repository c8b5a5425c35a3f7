"""Settings come from the environment and are loud about bad values (each case in a fresh process)."""

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_SECRET = "".join(secrets.choice(string.ascii_letters + string.digits + "!@#%^&*(-_=+)") for _ in range(50))
LOAD_SETTINGS = "from django.conf import settings; settings.INSTALLED_APPS"


def clean_env(tmp_path, **overrides) -> dict[str, str]:
    """A minimal environment: none of the caller's settings variables leak into the child."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "revops.settings",
        "DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "DEBUG": "1",
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean", id="debug-not-a-boolean"),
        pytest.param(
            {"DATABASE_URL": "postgres://u:p@127.0.0.1:5432/revops", "DB_CONN_MAX_AGE": "abc"},
            "DB_CONN_MAX_AGE='abc' is not an integer",
            id="conn-max-age-not-an-integer",
        ),
        pytest.param({"DATABASE_URL": "mongodb://127.0.0.1/revops"}, "DATABASE_URL", id="database-url-scheme"),
        pytest.param({"REDIS_URL": "http://x"}, "REDIS_URL='http://x'", id="redis-url-scheme"),
        pytest.param({"DEBUG": "0"}, "SECRET_KEY is not set", id="production-without-secret-key"),
        pytest.param({"DEBUG": "0", "SECRET_KEY": "short-secret"}, "SECRET_KEY is too weak", id="short-secret-key"),
    ],
)
def test_bad_environment_is_refused_with_the_variable_named(tmp_path, overrides, expected):
    result = run_python(LOAD_SETTINGS, clean_env(tmp_path, **overrides))

    assert result.returncode != 0, f"settings accepted {overrides}"
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr


def test_database_url_scheme_error_names_the_scheme(tmp_path):
    result = run_python(LOAD_SETTINGS, clean_env(tmp_path, DATABASE_URL="mongodb://127.0.0.1/revops"))

    assert "ImproperlyConfigured" in result.stderr
    assert "mongodb" in result.stderr.splitlines()[-1]


def test_postgres_url_selects_the_postgresql_engine(tmp_path):
    code = (
        "from django.conf import settings; db = settings.DATABASES['default']; "
        "print(db['ENGINE'], db['NAME'], db['HOST'], db['PORT'], db['USER'], db['CONN_MAX_AGE'])"
    )
    env = clean_env(tmp_path, DATABASE_URL="postgres://revops:pw@db.internal:6543/portal", DB_CONN_MAX_AGE="30")

    result = run_python(code, env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "portal", "db.internal", "6543", "revops", "30"]


def test_without_database_url_the_embedded_sqlite_lives_in_data_dir(tmp_path):
    code = "from django.conf import settings; db = settings.DATABASES['default']; print(db['ENGINE'], db['NAME'])"

    result = run_python(code, clean_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", str(tmp_path / "data" / "revops.sqlite3")]


def test_production_settings_pass_check_deploy(tmp_path):
    env = clean_env(tmp_path, DEBUG="0", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="example.com")

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
