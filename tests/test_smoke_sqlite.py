"""The embedded path of ``make run``: SQLite in DATA_DIR, demo data, superuser, admin pages.

Everything runs in subprocesses with DATABASE_URL unset, as a first-time user would run it.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


COUNT_ROWS = """
import json
import django
django.setup()
from django.apps import apps
models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
print(json.dumps({m._meta.label: m._default_manager.count() for m in models}))
"""

ADMIN_PAGES = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from revops.models import Lead

setup_test_environment()  # lets the test client's host through ALLOWED_HOSTS
login = dict(line.split("=", 1) for line in open(LOGIN_FILE).read().splitlines())
client = Client()
assert client.login(username=login["username"], password=login["password"]), "stored admin login does not work"
lead = Lead.objects.order_by("pk").first()
assert lead is not None, "load_demo created no leads"
urls = [
    "/admin/",
    "/admin/revops/lead/",
    "/admin/revops/fielddefinition/",
    reverse("admin:revops_lead_change", args=[lead.pk]),
    reverse("admin:revops_lead_history", args=[lead.pk]),
]
print(json.dumps({url: client.get(url).status_code for url in urls}))
"""


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("embedded")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "DB_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        DEBUG="1",
        DATA_DIR=str(data_dir),
        STATIC_ROOT=str(data_dir / "static"),
        DJANGO_SETTINGS_MODULE="revops.settings",
        DJANGO_SUPERUSER_PASSWORD="",
    )
    return env


def run(args, env, **kwargs):
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False, **kwargs
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_embedded_sqlite_first_run(embedded_env):
    env = embedded_env
    run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    assert (Path(env["DATA_DIR"]) / "revops.sqlite3").exists()

    run(["manage.py", "load_demo"], env)
    first = json.loads(run(["-c", COUNT_ROWS], env))
    run(["manage.py", "load_demo"], env)
    second = json.loads(run(["-c", COUNT_ROWS], env))
    assert first["revops.Lead"] > 0, "load_demo created no leads"
    changed = {label: (first[label], second[label]) for label in first if first[label] != second[label]}
    assert not changed, f"a second load_demo changed row counts (before, after): {changed}"

    output = run(["manage.py", "ensure_admin"], env)
    assert "Username: admin" in output
    login_file = Path(env["DATA_DIR"]) / "admin-login.txt"
    assert login_file.stat().st_mode & 0o777 == 0o600
    again = run(["manage.py", "ensure_admin"], env)
    assert again == output.replace("superuser created", "superuser exists"), "ensure_admin is not stable"

    pages = json.loads(run(["-c", f"LOGIN_FILE = {str(login_file)!r}\n{ADMIN_PAGES}"], env))
    assert all(status == 200 for status in pages.values()), pages


@pytest.fixture(autouse=True)
def fast_password_hasher(request):
    if "django_db" in request.keywords:
        request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ensure_admin(login_file, *args) -> str:
    out = io.StringIO()
    call_command("ensure_admin", "--login-file", str(login_file), *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_creates_once_and_reprints_the_stored_login(tmp_path, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    login_file = tmp_path / "admin-login.txt"

    first = ensure_admin(login_file)
    password = first.split("Password: ", 1)[1].split()[0]
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.check_password(password)
    assert f"password={password}" in login_file.read_text()
    assert login_file.stat().st_mode & 0o777 == 0o600

    second = ensure_admin(login_file)
    assert f"Password: {password}" in second
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_ensure_admin_does_not_touch_a_changed_password(tmp_path):
    login_file = tmp_path / "admin-login.txt"
    ensure_admin(login_file)
    user = get_user_model().objects.get(username="admin")
    user.set_password("changed by a human")
    user.save()

    output = ensure_admin(login_file)

    assert "changepassword admin" in output
    user.refresh_from_db()
    assert user.check_password("changed by a human")


@pytest.mark.django_db
def test_ensure_admin_reset_password(tmp_path):
    login_file = tmp_path / "admin-login.txt"
    old = ensure_admin(login_file).split("Password: ", 1)[1].split()[0]

    new = ensure_admin(login_file, "--reset-password").split("Password: ", 1)[1].split()[0]

    assert new != old
    assert get_user_model().objects.get(username="admin").check_password(new)
    assert f"password={new}" in login_file.read_text()
