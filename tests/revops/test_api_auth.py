"""Who may call the API: tokens and their scopes, browser sessions, and the rate limit."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from exceptions import roles
from revops.tokens import api_token_revoke
from tests.factories import LeadFactory, UserFactory
from tests.revops.api_support import api_settings, token_client  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings")]

LEADS = "/api/v1/leads/"


def user_in_role(username, role):
    user = UserFactory(username=username)
    roles.assign_role(user, role)
    return user


def test_no_token_is_401_with_a_challenge():
    response = APIClient().get(LEADS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("header", ["Bearer rvp_not-a-real-token", "Bearer garbage", "Bearer", "Token a b"])
def test_garbage_token_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(LEADS)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response


def test_revoked_token_is_401():
    client = token_client("read")
    assert client.get(LEADS).status_code == 200
    api_token_revoke(token=client.token)
    response = client.get(LEADS)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_sync_only_token_cannot_read():
    response = token_client("sync:write").get(LEADS)
    assert response.status_code == 403
    assert response.json()["detail"] == "This request needs the 'read' scope."


def test_read_token_can_read_but_not_sync():
    client = token_client("read")
    LeadFactory(external_id="L-1")
    assert [lead["external_id"] for lead in client.get(LEADS).json()["results"]] == ["L-1"]
    assert client.get("/api/v1/changes/").status_code == 200
    response = client.post("/api/v1/sync/leads/", {"records": []}, format="json")
    assert response.status_code == 403


def test_token_use_is_recorded():
    client = token_client("read")
    assert client.token.last_used_at is None
    client.get(LEADS)
    client.token.refresh_from_db()
    assert client.token.last_used_at is not None


def test_signed_in_manager_can_read():
    client = APIClient()
    client.force_login(user_in_role("manager", roles.MANAGER))
    assert client.get(LEADS).status_code == 200


def test_signed_in_staff_without_a_role_cannot_read():
    client = APIClient()
    client.force_login(UserFactory(username="staff", is_staff=True))
    response = client.get(LEADS)
    assert response.status_code == 403
    assert "read" in response.json()["detail"]


def test_signed_in_non_staff_cannot_read():
    client = APIClient()
    client.force_login(UserFactory(username="someone"))
    assert client.get(LEADS).status_code == 403


def test_throttled_token_gets_429_with_retry_after(api_settings):  # noqa: F811
    api_settings.API_THROTTLE_RATE = "3/min"
    client = token_client("read")
    assert [client.get(LEADS).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(LEADS)
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 0 < wait <= 60
    body = response.json()
    assert body["retry_after"] == wait
    assert body["detail"].startswith("Rate limit exceeded (3/min per token). Retry in ")
    # The limit is per token: another integration is not slowed down by this one.
    assert token_client("read", name="other").get(LEADS).status_code == 200


def test_throttle_counts_session_users_separately(api_settings):  # noqa: F811
    api_settings.API_THROTTLE_RATE = "2/min"
    cache.clear()  # user ids restart with each test database; counters from an earlier run must not count
    first, second = APIClient(), APIClient()
    first.force_login(user_in_role("staff-a", roles.MANAGER))
    second.force_login(user_in_role("staff-b", roles.MANAGER))
    assert [first.get(LEADS).status_code for _ in range(3)] == [200, 200, 429]
    assert second.get(LEADS).status_code == 200
