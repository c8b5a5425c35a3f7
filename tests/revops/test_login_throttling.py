"""Sign-in throttling (django-axes): a username and address pair is locked out after a few wrong
passwords, in plain language, audited in the admin, and can be unlocked early.

The finding this guards: "30 wrong passwords in 16 s, all answered, then the right one worked at once".
"""

import datetime as dt

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core.management import call_command
from django.test import Client

from exceptions import roles
from revops.security import client_ip
from revops.tokens import api_token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "the-right-Pa55word"


@pytest.fixture
def revops_admin():
    user = UserFactory(username="ops", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(client, password, *, username="ops", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def test_thirty_wrong_passwords_lock_the_sign_in_and_the_right_one_is_refused_too(revops_admin, settings):
    client = Client()
    statuses = [sign_in(client, f"wrong-{n}").status_code for n in range(30)]

    # The first AXES_FAILURE_LIMIT attempts get the login form again; from then on the lock-out page.
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert set(statuses[limit:]) == {429}, statuses

    response = sign_in(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    page = response.content.decode()
    assert "Sign-in locked for 15 minutes" in page
    assert "Try again after" in page and "axes_reset_username" in page
    assert "<strong>ops</strong>" in page


def test_lock_out_is_per_username_and_address(revops_admin):
    other = UserFactory(username="other", is_staff=True, is_superuser=True)
    other.set_password(PASSWORD)
    other.save()
    client = Client()
    for n in range(6):
        sign_in(client, f"wrong-{n}")

    assert sign_in(client, PASSWORD).status_code == 429
    # The same user from another address, and another user from the same address, still sign in.
    assert sign_in(Client(), PASSWORD, REMOTE_ADDR="10.0.0.9").status_code == 302
    assert sign_in(Client(), PASSWORD, username=other.username).status_code == 302


def test_a_spoofed_forwarded_for_header_does_not_escape_the_lock_out_by_default(revops_admin):
    client = Client()
    for n in range(6):
        sign_in(client, f"wrong-{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert sign_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429


def test_behind_a_proxy_the_configured_header_names_the_client(settings, rf):
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.5", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"

    settings.CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    forwarded = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.5", REMOTE_ADDR="10.0.0.1")
    assert client_ip(forwarded) == "203.0.113.5"  # the right-most entry: the one the proxy added
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"


def test_the_lock_out_ends_after_the_cool_off(revops_admin):
    client = Client()
    for n in range(5):
        sign_in(client, f"wrong-{n}")
    assert sign_in(client, PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))

    assert sign_in(client, PASSWORD).status_code == 302


def test_an_admin_unlocks_with_a_command(revops_admin):
    client = Client()
    for n in range(5):
        sign_in(client, f"wrong-{n}")
    assert sign_in(client, PASSWORD).status_code == 429

    call_command("axes_reset_username", "ops")

    assert sign_in(client, PASSWORD).status_code == 302


def test_failed_attempts_and_lock_outs_are_visible_to_revops_admins_only(revops_admin):
    for n in range(5):
        sign_in(Client(), f"wrong-{n}")
    assert AccessAttempt.objects.get(username="ops").failures_since_start == 5
    assert AccessFailureLog.objects.filter(username="ops").count() == 5

    admin = Client()
    admin.force_login(revops_admin)
    attempts = admin.get("/admin/axes/accessattempt/")
    assert attempts.status_code == 200
    assert "ops" in attempts.content.decode()
    assert admin.get("/admin/axes/accessfailurelog/").status_code == 200

    manager = UserFactory(username="mgr")
    roles.assign_role(manager, roles.MANAGER)
    staff = Client()
    staff.force_login(manager)
    assert staff.get("/admin/axes/accessattempt/").status_code == 403


def test_api_tokens_are_not_counted_as_sign_ins(revops_admin):
    for n in range(6):
        sign_in(Client(), f"wrong-{n}")
    _, raw = api_token_create(name="crm", scopes=["read"], actor=revops_admin)

    response = Client().get("/api/v1/leads/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200
