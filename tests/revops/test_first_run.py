"""The first run (`make run`): quiet console, logs in files, e-mails as files, links to the real address,
a branded admin that links the API docs, and error messages that read as sentences."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.utils import timezone

from exceptions.notifications import exception_item_notify
from revops.models import Lead
from tests.exceptions.support import make_queue, open_item
from tests.factories import UserFactory
from tests.test_settings import clean_env, run_python

from .api_support import token_client

ROOT = Path(__file__).resolve().parents[2]

# What `manage.py rqworker` does before working: rq adds its own stdout handler unless one exists.
WORKER_LOGS = """
import logging
import django
django.setup()
from rq.logutils import setup_loghandlers
setup_loghandlers("INFO")
log = logging.getLogger("rq.worker")
log.info("default: job finished (quiet)")
log.warning("worker warning (loud)")
"""


def test_worker_logs_go_to_the_log_file_at_info_and_to_the_console_at_warning(tmp_path):
    env = clean_env(tmp_path, LOG_DIR=str(tmp_path / "log"), LOG_CONSOLE_LEVEL="WARNING", PROCESS_NAME="worker")

    result = run_python(WORKER_LOGS, env)

    assert result.returncode == 0, result.stderr
    console = result.stdout + result.stderr
    assert "worker warning (loud)" in console
    assert "job finished" not in console
    log = (tmp_path / "log" / "worker.log").read_text()
    assert "INFO rq.worker: default: job finished (quiet)" in log
    assert "WARNING rq.worker: worker warning (loud)" in log


def test_without_log_dir_everything_stays_on_the_console(tmp_path):
    result = run_python(WORKER_LOGS, clean_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert "job finished (quiet)" in result.stdout + result.stderr
    assert not (tmp_path / "data" / "log").exists()


def test_a_bad_log_level_is_refused_with_the_variable_named(tmp_path):
    result = run_python("from django.conf import settings; settings.LOGGING", clean_env(tmp_path, LOG_LEVEL="loud"))

    assert result.returncode != 0
    assert "LOG_LEVEL='loud' is not a log level" in result.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, "http://127.0.0.1:8000", id="default"),
        pytest.param({"WEB_ADDR": "127.0.0.1:8123"}, "http://127.0.0.1:8123", id="make-run-port"),
        pytest.param(
            {"WEB_ADDR": "127.0.0.1:8123", "PORTAL_BASE_URL": "https://revops.example.com/"},
            "https://revops.example.com",
            id="explicit-address-wins",
        ),
    ],
)
def test_the_portal_address_follows_the_port_make_run_serves(tmp_path, overrides, expected):
    result = run_python(
        "from django.conf import settings; print(settings.PORTAL_BASE_URL)", clean_env(tmp_path, **overrides)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.django_db
def test_the_token_command_prints_the_portal_address(settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8123"
    out = io.StringIO()

    call_command("create_api_token", "crm", "--scope", "read", stdout=out)

    assert "http://127.0.0.1:8123/api/v1/changes/" in out.getvalue()
    assert ":8000" not in out.getvalue()


@pytest.mark.django_db
def test_notification_emails_are_files_with_links_to_the_portal_address(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8123"
    make_queue("RevOps")
    owner = UserFactory(username="fixer", email="fixer@example.com")
    item = open_item("c", severity="critical", queue_name="RevOps", owner=owner)

    assert exception_item_notify(item_id=item.pk, reason="critical", now=timezone.now()) == "sent"

    [mail_file] = (tmp_path / "mail").iterdir()
    text = mail_file.read_text()
    assert "To: fixer@example.com" in text
    assert f"http://127.0.0.1:8123/admin/exceptions/exceptionitem/{item.pk}/change/" in text
    assert ":8000" not in text


@pytest.mark.django_db
def test_the_admin_is_branded_and_links_the_api_docs(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "<title>Site administration | RevOps portal</title>" in page
    assert '<div id="site-name"><a href="/admin/">RevOps portal</a></div>' in page
    assert "Django administration" not in page
    assert '<a href="/api/v1/docs/">API docs</a>' in page
    assert 'rel="icon" type="image/svg+xml" href="/static/revops/favicon.svg"' in page
    assert finders.find("revops/favicon.svg"), "the favicon is not a static file"
    assert admin_client.get("/favicon.ico")["Location"] == "/static/revops/favicon.svg"
    assert admin_client.get("/api/v1/docs/").status_code == 200


@pytest.mark.django_db
def test_an_unknown_id_is_named_in_a_sentence():
    response = token_client("read").get("/api/v1/opportunities/O-404/")

    assert response.status_code == 404
    assert response.json() == {"detail": "There is no opportunity with external id 'O-404'."}


@pytest.mark.django_db
def test_a_country_name_is_stored_as_its_code_and_a_typo_is_refused_saying_what_is_accepted():
    record = {"external_id": "L-1", "source_updated_at": "2026-11-24T09:00:00Z", "country": "United Kingdom"}
    typo = {"external_id": "L-2", "source_updated_at": "2026-11-24T09:00:00Z", "country": "Untied Kingdom"}

    response = token_client("sync:write").post("/api/v1/sync/leads/", {"records": [record, typo]}, format="json")

    stored, refused = response.json()["results"]
    assert "errors" not in stored and Lead.objects.get(external_id="L-1").country == "GB"
    assert refused["errors"] == {"country": ["'Untied Kingdom' is not a country name or ISO 3166 code"]}


class _Health(BaseHTTPRequestHandler):
    body: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        data = json.dumps(self.server.body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def wait_for_portal(server, parent: int, timeout: str = "1") -> int:
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    args = [sys.executable, str(ROOT / "scripts" / "wait_for_portal.py"), url, str(parent), timeout]
    return subprocess.run(args, timeout=30, check=False).returncode


def checks(**statuses):
    return {"status": "degraded", "checks": {name: {"status": status} for name, status in statuses.items()}}


def test_the_banner_waits_until_the_workers_and_the_scheduler_are_up(health_server):
    health_server.body = checks(database="ok", redis="ok", workers="ok", scheduler="ok", outbox="degraded")
    assert wait_for_portal(health_server, os.getpid()) == 0  # a busy outbox does not hold the banner back

    health_server.body = checks(database="ok", redis="ok", workers="degraded", scheduler="ok", outbox="ok")
    assert wait_for_portal(health_server, os.getpid()) == 1  # gave up after the timeout

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert wait_for_portal(health_server, gone.pid, timeout="30") == 2  # make run stopped meanwhile


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_everything_started_with(data_dir: Path) -> None:
    """SIGKILL every process whose environment names ``data_dir`` (what this test's make run started)."""
    marker = f"DATA_DIR={data_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


class _Output:
    """The lines a process prints, read by a thread (select() cannot see what Python has buffered)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> str:
        """Everything printed up to the first line containing ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            lines = list(self.lines)
            for index, line in enumerate(lines):
                if text in line:
                    return "".join(lines[: index + 1])
            assert self._thread.is_alive(), "make run ended:\n" + "".join(lines[-40:])
            assert time.monotonic() < deadline, f"no {text!r} within {timeout:.0f} s:\n" + "".join(lines[-40:])
            time.sleep(0.2)

    def rest(self, timeout: float) -> str:
        self._thread.join(timeout)
        return "".join(self.lines)


def test_make_run_prints_the_logins_last_and_again_on_ctrl_c(tmp_path):
    """The whole first run of `make run` (SQLite, the test's Redis on a database of its own, another port)."""
    data_dir, port = tmp_path / "var", _free_port()
    redis_url = urlparse(settings.REDIS_URL)._replace(path="/13").geturl()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "EMAIL_", "LOG_", "PORTAL_"))}
    env.update(DATA_DIR=str(data_dir), WEB_ADDR=f"127.0.0.1:{port}", REDIS_URL=redis_url, DEBUG="1")
    env.pop("DJANGO_SUPERUSER_PASSWORD", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # pytest's tests.settings; make run's processes use revops.settings
    run = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "run.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = _Output(run.stdout)
    try:
        console = output.wait_for("Press Ctrl-C to stop them all.", timeout=300)
        banner = console[console.rindex("RevOps portal") :]
        before = console[: console.rindex("RevOps portal")]
        assert "Starting development server" in before and "Starting the cron scheduler" in before
        assert f"http://127.0.0.1:{port}/admin/" in banner and f"http://127.0.0.1:{port}/api/v1/docs/" in banner
        assert "Password: " in banner and "Manager login: manager.na / " in banner
        assert f"PORTAL_BASE_URL=http://127.0.0.1:{port} scripts/manage.sh create_api_token" in banner
        assert f"{data_dir}/log/<process>.log" in banner and f"files in {data_dir}/mail" in banner
        assert "rq.worker" not in console and "Job OK" not in console and "Subject:" not in console

        assert "Listening on hot" in (data_dir / "log" / "hot.log").read_text()
        assert "Listening on default" in (data_dir / "log" / "worker.log").read_text()
        mails = "".join(path.read_text() for path in (data_dir / "mail").iterdir())
        assert f"http://127.0.0.1:{port}/admin/exceptions/exceptionitem/" in mails  # the demo's notifications
        assert ":8000" not in mails
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=10) as response:
            assert "<title>Log in | RevOps portal</title>" in response.read().decode()

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in the terminal
        run.wait(timeout=60)
        rest = output.rest(timeout=10)[len(console) :]
        assert "Stopped." in rest and "Password: " in rest and "Manager login: manager.na / " in rest
        assert rest.rstrip().endswith("=" * 80)
        assert not list(data_dir.glob("*login*")), "a login was written to a file"
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        _kill_everything_started_with(data_dir)
        redis.Redis.from_url(redis_url).flushdb()
