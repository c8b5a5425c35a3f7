"""Token services, the management commands and the admin for tokens and the sync area."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from revops.models import ApiToken, ChangeEntry, SyncFailure
from revops.models.integration import hash_token
from revops.tokens import api_token_authenticate, api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_https_redirect(settings):
    settings.SECURE_SSL_REDIRECT = False


def test_create_stores_only_the_hash_and_authenticates():
    token, raw = api_token_create(name="crm", scopes=["read", "sync:write", "read"])
    assert raw.startswith("rvp_") and token.key_hash == hash_token(raw) and raw not in token.prefix + token.key_hash
    assert token.scopes == ["read", "sync:write"]
    assert api_token_authenticate(raw) == token
    assert api_token_authenticate(raw + "x") is None
    api_token_revoke(token=token)
    assert api_token_authenticate(raw) is None


@pytest.mark.parametrize("scopes", [[], ["root"]])
def test_create_refuses_bad_scopes(scopes):
    with pytest.raises(ValidationError):
        api_token_create(name="crm", scopes=scopes)


def test_create_command_prints_the_token_once_with_an_example(capsys):
    call_command("create_api_token", "crm", "--scope", "sync:write", "--scope", "read")
    out = capsys.readouterr().out
    raw = next(line for line in out.splitlines() if line.startswith("rvp_"))
    assert api_token_authenticate(raw).name == "crm"
    assert f"export TOKEN={raw}" in out and "curl" in out and "http://127.0.0.1:8000/api/v1/" in out
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_api_token", "crm", "--scope", "read")


def test_revoke_command(capsys):
    token, raw = api_token_create(name="crm", scopes=["read"])
    call_command("revoke_api_token", "crm")
    assert api_token_authenticate(raw) is None
    assert "Revoked" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No API token"):
        call_command("revoke_api_token", "nope")


def test_admin_creates_a_token_and_shows_the_secret_once(admin_client):
    response = admin_client.post(
        reverse("admin:revops_apitoken_add"), {"name": "warehouse", "scopes": ["read"]}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="warehouse")
    assert token.scopes == ["read"]
    shown = [str(m) for m in response.context["messages"] if "<code>rvp_" in str(m)]
    assert len(shown) == 1
    raw = shown[0].split("<code>")[1].split("</code>")[0]
    assert api_token_authenticate(raw) == token
    page = admin_client.get(reverse("admin:revops_apitoken_changelist")).content.decode()
    assert token.prefix in page and token.key_hash not in page and raw not in page
    detail = admin_client.get(reverse("admin:revops_apitoken_change", args=[token.pk])).content.decode()
    assert token.key_hash not in detail and raw not in detail


def test_admin_revoke_action(admin_client):
    token, raw = api_token_create(name="crm", scopes=["read"])
    admin_client.post(reverse("admin:revops_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_sync_area_admin_pages_render(admin_client):
    failure = SyncFailure.objects.create(
        object_type="lead", external_id="L-1", payload={"external_id": "L-1", "email": "x"}, errors={"email": ["bad"]}
    )
    ChangeEntry.objects.create(kind="owner_assigned", object_type="lead", external_id="L-1", payload={"owner": "R"})
    for model in ["syncbatch", "syncfailure", "idempotencyrecord", "outboxevent", "changeentry", "apitoken"]:
        response = admin_client.get(reverse(f"admin:revops_{model}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:revops_syncfailure_change", args=[failure.pk])).content.decode()
    assert "<b>email</b>: bad" in page and "&quot;email&quot;: &quot;x&quot;" in page


def test_sync_failure_resolved_with_a_note(admin_client):
    failure = SyncFailure.objects.create(object_type="lead", external_id="L-1", payload={}, errors={"email": ["bad"]})
    url = reverse("admin:revops_syncfailure_change", args=[failure.pk])
    response = admin_client.post(url, {"resolved_note": "Fixed the email in the CRM and re-sent."})
    assert response.status_code == 302
    failure.refresh_from_db()
    assert failure.resolved_at is not None and failure.resolved_note.startswith("Fixed")
    other = SyncFailure.objects.create(object_type="lead", external_id="L-2", payload={}, errors={})
    admin_client.post(
        reverse("admin:revops_syncfailure_changelist"), {"action": "mark_resolved", "_selected_action": [other.pk]}
    )
    other.refresh_from_db()
    assert other.resolved_at is not None and "admin" in other.resolved_note
