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
admin = get_user_model().objects.get(username="admin")
assert admin.check_password(PASSWORD), "the printed admin password does not work"
client = Client()
client.force_login(admin)
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
    password = password_in(output)
    assert not list(Path(env["DATA_DIR"]).glob("*login*")), "the login was written to a file"
    again = run(["manage.py", "ensure_admin"], env)
    assert "Username: admin" in again and password not in again and "--reset-password" in again

    pages = json.loads(run(["-c", f"PASSWORD = {password!r}\n{ADMIN_PAGES}"], env))
    assert all(status == 200 for status in pages.values()), pages


def password_in(output: str) -> str:
    return output.split("Password: ", 1)[1].split()[0]


@pytest.fixture(autouse=True)
def fast_password_hasher(request):
    if "django_db" in request.keywords:
        request.getfixturevalue("settings").PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def data_dir(tmp_path, settings, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    settings.DATA_DIR = tmp_path
    return tmp_path


def ensure_admin(*args) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("ensure_admin", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.mark.django_db
def test_ensure_admin_shows_the_password_once_and_stores_only_its_hash(data_dir):
    first = ensure_admin()
    password = password_in(first)
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.check_password(password)
    assert password not in user.password
    assert "shown this once" in first
    assert not list(data_dir.iterdir()), "ensure_admin wrote a file"

    second = ensure_admin()
    assert "Username: admin" in second
    assert password not in second
    assert "ensure_admin --reset-password" in second
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_ensure_admin_does_not_touch_a_changed_password(data_dir):
    ensure_admin()
    user = get_user_model().objects.get(username="admin")
    user.set_password("changed by a human")
    user.save()

    output = ensure_admin()

    assert "--reset-password" in output
    user.refresh_from_db()
    assert user.check_password("changed by a human")


@pytest.mark.django_db
def test_ensure_admin_reset_password_prints_a_new_one_once(data_dir):
    old = password_in(ensure_admin())

    new = password_in(ensure_admin("--reset-password"))

    assert new != old
    assert get_user_model().objects.get(username="admin").check_password(new)
    assert new not in ensure_admin()
    assert not list(data_dir.iterdir())


@pytest.mark.django_db
def test_demo_manager_login_is_shown_once(data_dir):
    manager = get_user_model().objects.create_user("manager.na", is_staff=True)  # no usable password

    first = ensure_admin("--manager", "--username", "manager.na")
    password = first.split("manager.na / ", 1)[1].split()[0]
    manager.refresh_from_db()
    assert manager.check_password(password)

    again = ensure_admin("--manager", "--username", "manager.na")
    assert password not in again and "--manager --username manager.na --reset-password" in again
    reset = ensure_admin("--manager", "--username", "manager.na", "--reset-password")
    assert password not in reset and "manager.na / " in reset
    assert not list(data_dir.iterdir())


@pytest.mark.django_db
def test_plaintext_login_files_of_older_versions_are_deleted(data_dir):
    ensure_admin()
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("old-generated-admin")
    admin.save()
    manager = get_user_model().objects.create_user("manager.na", password="old-generated-manager", is_staff=True)
    (data_dir / "admin-login.txt").write_text("username=admin\npassword=old-generated-admin\n")
    (data_dir / "manager.na-login.txt").write_text("username=manager.na\npassword=old-generated-manager\n")
    (data_dir / "notes-login.txt").write_text("something of the user's own\n")

    output = ensure_admin()

    assert "Removed" in output and "admin-login.txt" in output
    assert "old-generated-admin" in output  # shown this last time, so the developer is not locked out
    assert not (data_dir / "admin-login.txt").exists()
    assert (data_dir / "manager.na-login.txt").exists()  # left for the --manager call that follows

    output = ensure_admin("--manager", "--username", "manager.na")

    assert "manager.na / old-generated-manager" in output
    assert not (data_dir / "manager.na-login.txt").exists()
    assert (data_dir / "notes-login.txt").exists()  # not written by ensure_admin
    manager.refresh_from_db()
    assert manager.check_password("old-generated-manager")
    assert "old-generated" not in ensure_admin() + ensure_admin("--manager", "--username", "manager.na")
