"""Helpers shared by the API tests: clients authenticated with a fresh integration token."""

import pytest
from rest_framework.test import APIClient

from revops.tokens import api_token_create


def token_client(*scopes: str, name: str | None = None) -> APIClient:
    """An APIClient sending ``Authorization: Bearer <new token with scopes>``; ``client.token`` is the ApiToken."""
    token, raw = api_token_create(name=name or f"test-{'-'.join(scopes)}-{id(scopes)}", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.token, client.raw_token = token, raw
    return client


@pytest.fixture
def api_settings(settings):
    """Production settings (DEBUG off) minus the HTTPS redirect, which the test client cannot follow."""
    settings.SECURE_SSL_REDIRECT = False
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    return settings
