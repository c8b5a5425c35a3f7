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


def test_check_deploy_silences_only_the_documented_hsts_preload_warning(tmp_path):
    code = "from django.conf import settings; print(settings.SILENCED_SYSTEM_CHECKS, settings.DEBUG)"
    env = clean_env(tmp_path, DEBUG="0", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="example.com")

    result = run_python(code, env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['security.W021']", "False"]
    assert "security.W021" in (ROOT / "docs" / "development.md").read_text()


def settings_copy(tmp_path, env_file_text: str) -> Path:
    """revops/settings.py alone in a checkout-like folder whose `.env` holds ``env_file_text``."""
    checkout = tmp_path / "checkout"
    (checkout / "revops").mkdir(parents=True)
    (checkout / "revops" / "__init__.py").write_text("")
    (checkout / "revops" / "settings.py").write_text((ROOT / "revops" / "settings.py").read_text())
    (checkout / ".env").write_text(env_file_text)
    return checkout


def import_settings(checkout: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "import revops.settings as s; print(s.DEBUG, s.SECRET_KEY == s.INSECURE_DEFAULT_SECRET)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=checkout, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_dev_env_file_in_the_checkout_cannot_put_a_process_into_debug_mode(tmp_path):
    """The finding: `make` wrote `.env` with DEBUG=1 and the settings read it, so production ran in debug."""
    checkout = settings_copy(tmp_path, "# Local settings written by make\nDEBUG=1\n")

    no_debug = import_settings(checkout, clean_env(tmp_path, DEBUG=None))
    assert no_debug.returncode != 0
    assert "SECRET_KEY is not set" in no_debug.stderr and "scripts/manage.sh" in no_debug.stderr

    production = import_settings(checkout, clean_env(tmp_path, DEBUG=None, SECRET_KEY=STRONG_SECRET))
    assert production.returncode == 0, production.stderr
    assert production.stdout.split() == ["False", "False"]


def test_an_env_file_is_read_only_when_revops_env_file_names_it(tmp_path):
    checkout = settings_copy(tmp_path, "DEBUG=1\n")

    result = import_settings(checkout, clean_env(tmp_path, DEBUG=None, REVOPS_ENV_FILE=str(checkout / ".env")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]

    missing = import_settings(checkout, clean_env(tmp_path, DEBUG=None, REVOPS_ENV_FILE=str(tmp_path / "nope.env")))
    assert "REVOPS_ENV_FILE" in missing.stderr and "is not a readable file" in missing.stderr


def lib_sh_checkout(tmp_path, env_text: str | None) -> Path:
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / "scripts" / "lib.sh").write_text((ROOT / "scripts" / "lib.sh").read_text())
    if env_text is not None:
        (checkout / ".env").write_text(env_text)
    return checkout


def run_lib_sh(checkout: Path, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f". scripts/lib.sh && {script}"],
        cwd=checkout,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_dev_env_file_of_older_versions_is_removed_and_a_developers_own_is_kept(tmp_path):
    generated = lib_sh_checkout(
        tmp_path / "a", "# Local settings written by make; environment variables take precedence.\nDEBUG=1\n"
    )
    own = lib_sh_checkout(tmp_path / "b", "DATABASE_URL=postgres://localhost/revops\nDEBUG=1\n")

    removed = run_lib_sh(generated, "remove_generated_dev_env")
    kept = run_lib_sh(own, "remove_generated_dev_env")

    assert removed.returncode == 0 and not (generated / ".env").exists()
    assert "production is now the default" in removed.stderr
    assert kept.returncode == 0 and (own / ".env").exists()


def test_make_run_and_manage_sh_set_debug_for_their_own_processes_only(tmp_path):
    checkout = lib_sh_checkout(tmp_path, None)

    result = run_lib_sh(checkout, 'dev_env && echo "$DEBUG $DATA_DIR"')

    assert result.stdout.split() == ["1", str(checkout / "var")]
    assert not (checkout / ".env").exists()
    assert "dev_env" in (ROOT / "scripts" / "run.sh").read_text()
    assert "dev_env" in (ROOT / "scripts" / "manage.sh").read_text()


BLACK_HOLE_PROBE = """
import time
import django
django.setup()
import django_rq
import redis.exceptions
from django.core.cache import cache

conn = django_rq.get_connection("default")
kwargs = conn.connection_pool.connection_kwargs
assert kwargs["socket_timeout"] == 1 and kwargs["socket_connect_timeout"] == 2, kwargs
for name, call in (("rq", conn.ping), ("cache", lambda: cache.get("throttle"))):
    started = time.monotonic()
    try:
        call()
    except redis.exceptions.TimeoutError:
        print(name, "timed out after", round(time.monotonic() - started))
"""


def test_every_redis_connection_gives_up_on_a_silent_redis(tmp_path):
    import socket

    with socket.socket() as black_hole:  # accepts connections (the kernel does), never answers
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        port = black_hole.getsockname()[1]
        env = clean_env(
            tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0", REDIS_SOCKET_TIMEOUT="1", REDIS_CONNECT_TIMEOUT="2"
        )
        result = subprocess.run(
            [sys.executable, "-c", BLACK_HOLE_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["rq timed out after 1", "cache timed out after 1"]


def test_redis_timeouts_default_to_five_seconds_and_the_url_can_set_its_own(tmp_path):
    code = "from django.conf import settings; print(settings.RQ_QUEUES['hot']['URL'], settings.CACHES['default']['OPTIONS'])"
    result = run_python(code, clean_env(tmp_path, REDIS_URL="redis://h:6379/0?socket_timeout=9"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "redis://h:6379/0?socket_timeout=9&socket_connect_timeout=5 {'socket_timeout': 5, 'socket_connect_timeout': 5}"
    )


def test_offline_commands_run_without_a_secret_but_serving_ones_still_refuse(tmp_path):
    """`manage.py makemigrations --check` works in a plain checkout; `check` (like runserver) still refuses."""
    env = clean_env(tmp_path, DEBUG=None)

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    offline = manage("makemigrations", "--check", "--dry-run")
    assert offline.returncode == 0, offline.stderr
    assert "No changes detected" in offline.stdout
    serving = manage("check")
    assert serving.returncode != 0 and "SECRET_KEY is not set" in serving.stderr
