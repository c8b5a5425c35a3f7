"""Operational pages for RevOps admins only, and JSON error bodies for every ``/api/`` response.

The RQ dashboard shows job payloads and can delete jobs and empty queues; django_rq only checks the
staff flag, and every rep and manager is staff. The API answers ``{"detail": …}`` JSON for Django's
own 404, 405 and 500 too, not Django's HTML pages.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django_rq.settings import get_queues_list
from rq import Queue

from exceptions import roles
from revops.api import read
from tests.exceptions.test_authorization import user_with_role
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# django_rq numbers the queues in name order: default 0, hot 1, low 2.
LOW = [queue["name"] for queue in get_queues_list()].index("low")
RQ_PAGES = (
    "/admin/rq/",
    f"/admin/rq/queues/{LOW}/",
    f"/admin/rq/queues/{LOW}/details/",
    f"/admin/rq/queues/{LOW}/scheduled/",
    f"/admin/rq/workers/{LOW}/",
    "/admin/rq/stats.json",
    "/admin/django_rq/dashboard/",
    f"/admin/django_rq/dashboard/queues/{LOW}/",
)
ADMINS = ("superuser", "revops_admin")
NON_ADMINS = ("manager", "rep")


@pytest.fixture
def users(db):
    roles.ensure_roles()
    team = TeamFactory(name="Team A")
    return {
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
        "revops_admin": user_with_role("ops", roles.ADMIN),
        "manager": user_with_role("manager_a", roles.MANAGER, rep_team=team),
        "rep": user_with_role("rep_a", roles.REP, rep_team=team),
    }


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the RQ dashboard ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", RQ_PAGES)
@pytest.mark.parametrize("role", NON_ADMINS)
def test_rq_dashboard_refuses_reps_and_managers(users, redis_conn, role, url):
    response = client_for(users[role]).get(url)
    assert response.status_code == 403, url


@pytest.mark.parametrize("url", RQ_PAGES)
@pytest.mark.parametrize("role", ADMINS)
def test_rq_dashboard_opens_for_revops_admins(users, redis_conn, role, url):
    response = client_for(users[role]).get(url)
    assert response.status_code == 200, url


@pytest.mark.parametrize("url", RQ_PAGES)
def test_rq_dashboard_sends_anonymous_to_the_login(db, url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("role", NON_ADMINS)
def test_rep_or_manager_cannot_empty_a_queue_or_delete_a_job(users, redis_conn, role):
    queue = Queue("low", connection=redis_conn)
    job = queue.enqueue("revops.health.healthz", None)
    client = client_for(users[role])
    assert client.post(f"/admin/rq/queues/{LOW}/empty/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/rq/queues/{LOW}/{job.id}/delete/", {"post": "yes"}).status_code == 403
    assert client.get(f"/admin/rq/queues/{LOW}/{job.id}/").status_code == 403
    assert queue.count == 1 and queue.fetch_job(job.id) is not None


def test_revops_admin_can_empty_a_queue(users, redis_conn):
    queue = Queue("low", connection=redis_conn)
    queue.enqueue("revops.health.healthz", None)
    response = client_for(users["revops_admin"]).post(f"/admin/rq/queues/{LOW}/empty/", {"post": "yes"})
    assert response.status_code == 302
    assert queue.count == 0


@pytest.mark.parametrize("role", [*ADMINS, *NON_ADMINS])
def test_admin_index_links_the_dashboard_for_admins_only(users, role):
    response = client_for(users[role]).get("/admin/?index=1")  # managers otherwise land on the triage view
    assert response.status_code == 200
    shown = "/admin/django_rq/dashboard/" in response.content.decode()
    assert shown == (role in ADMINS)


def test_inactive_or_non_staff_admin_is_not_let_in(users, redis_conn):
    user = users["revops_admin"]
    user.is_staff = False
    user.save()
    response = client_for(user).get("/admin/rq/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- JSON errors under /api/ -----------------------------------------------------------------------


def assert_json_error(response, status):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"detail"} and body["detail"], body


@pytest.mark.parametrize("url", ["/api/v1/nope/", "/api/v1/nope", "/api/v2/leads/", "/api/"])
def test_unknown_api_url_is_json_404(users, url):
    assert_json_error(client_for(users["superuser"]).get(url), 404)
    assert_json_error(Client().get(url), 404)


def test_unknown_url_outside_the_api_stays_html(db):
    response = Client().get("/nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_wrong_method_on_api_url_is_json_405(users, method):
    response = getattr(client_for(users["superuser"]), method)("/api/v1/changes/")
    assert_json_error(response, 405)


def test_unhandled_exception_in_api_view_is_json_500(users, settings, monkeypatch):
    settings.DEBUG = False

    def boom(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(read.ChangesView, "get", boom)
    client = client_for(users["superuser"])
    client.raise_request_exception = False
    response = client.get("/api/v1/changes/")
    assert_json_error(response, 500)
    assert "boom" not in response.content.decode()
