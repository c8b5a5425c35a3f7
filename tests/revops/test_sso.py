"""Single sign-on through OpenID Connect against a local test provider (a real HTTP server answering
the token and user-info requests the portal makes): a rep of the CRM signs in and gets a login
linked to their Rep record with the role of their place in the team tree or of the provider's claim;
an existing login is matched by e-mail; an unknown, unverified or inactive person is refused."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from revops.access import ADMIN, MANAGER, REP, user_role
from revops.models import Rep
from revops.people import set_role
from tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

CLIENT_ID, SECRET = "revops-portal", "test-provider-shared-secret-of-32-bytes+"


class _Provider(BaseHTTPRequestHandler):
    """The provider's back channel: ``/token`` swaps a code for tokens, ``/userinfo`` gives the claims."""

    codes: dict = {}  # code -> (claims, nonce)
    tokens: dict = {}  # access token -> claims

    def do_POST(self):  # noqa: N802
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        code = form.get("code", [""])[0]
        if form.get("client_secret", [""])[0] != SECRET or code not in self.codes:
            return self._answer(400, {"error": "invalid_grant"})
        claims, nonce = self.codes.pop(code)
        now = int(time.time())
        id_token = jwt.encode(
            {
                "iss": "http://provider",
                "sub": claims["email"],
                "aud": CLIENT_ID,
                "nonce": nonce,
                "iat": now,
                "exp": now + 300,
            },
            SECRET,
            algorithm="HS256",
        )
        access = f"at-{code}"
        self.tokens[access] = claims
        self._answer(200, {"access_token": access, "id_token": id_token, "token_type": "Bearer"})

    def do_GET(self):  # noqa: N802
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return self._answer(401, {"error": "invalid_token"})
        self._answer(200, self.tokens[token])

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def provider(settings):
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    settings.ROOT_URLCONF = "tests.sso_urls"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "revops.sso.PortalOIDCBackend"]
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = CLIENT_ID, SECRET
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = "http://provider.example/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT, settings.OIDC_OP_USER_ENDPOINT = f"{base}/token", f"{base}/userinfo"
    settings.OIDC_RP_SIGN_ALGO = "HS256"
    settings.OIDC_ROLE_CLAIM = ""
    settings.OIDC_TRUST_EMAIL = False
    yield
    server.shutdown()
    server.server_close()


def sign_in(claims: dict) -> tuple[Client, str]:
    """The browser's part: start at the portal, 'sign in' at the provider, come back with a code."""
    client = Client()
    start = client.get("/oidc/authenticate/?next=/admin/")
    assert start.status_code == 302 and start["Location"].startswith("http://provider.example/authorize")
    query = parse_qs(urlparse(start["Location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    code = f"code-{claims['email']}-{time.monotonic_ns()}"
    _Provider.codes[code] = (claims, query["nonce"][0])
    back = client.get(f"/oidc/callback/?code={code}&state={query['state'][0]}")
    return client, back["Location"]


def signed_in_user(client):
    pk = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=pk) if pk else None


def test_a_rep_of_the_crm_signs_in_and_gets_a_login_linked_to_their_rep(provider):
    team = TeamFactory(name="East")
    rep = RepFactory(name="Mona Lisa", email="Mona.Lisa@acme.example", team=team)
    team.manager = rep
    team.save()
    client, where = sign_in({"email": "mona.lisa@acme.example", "email_verified": True, "given_name": "Mona"})
    assert where == "/admin/"
    user = signed_in_user(client)
    assert user.username == "mona.lisa@acme.example" and not user.has_usable_password()
    assert Rep.objects.get(pk=rep.pk).user == user and user_role(user) == MANAGER  # they manage a team
    assert client.get("/admin/").status_code in (200, 302)
    # Next time the same login is found, not a second one.
    again, _ = sign_in({"email": "mona.lisa@acme.example", "email_verified": True})
    assert signed_in_user(again) == user and get_user_model().objects.filter(email__iexact=rep.email).count() == 1


def test_an_invited_login_is_matched_by_email_and_the_role_claim_decides_at_every_sign_in(provider, settings):
    settings.OIDC_ROLE_CLAIM = "groups"
    settings.OIDC_ROLE_VALUES = {"revops-admins": ADMIN}
    user = UserFactory(username="raj", email="raj@acme.example")
    set_role(user, REP)
    claims = {"email": "RAJ@acme.example", "email_verified": True}
    client, _ = sign_in({**claims, "groups": ["everyone", "revops-admins"]})
    assert signed_in_user(client) == user and user_role(get_user_model().objects.get(pk=user.pk)) == ADMIN
    # Out of the admin group: the rights go at the next sign-in. A group named like a role gives nothing.
    sign_in({**claims, "groups": ["everyone", "RevOps admin", "Integration"]})
    assert user_role(get_user_model().objects.get(pk=user.pk)) == REP


def test_an_unverified_email_is_trusted_only_when_revops_says_the_provider_controls_it(provider, settings):
    admin = UserFactory(username="boss", email="boss@acme.example")
    set_role(admin, ADMIN)
    client, where = sign_in({"email": "boss@acme.example"})  # no email_verified: could be anyone's
    assert signed_in_user(client) is None and where == "/admin/login/?sso=refused"
    settings.OIDC_TRUST_EMAIL = True
    client, _ = sign_in({"email": "boss@acme.example"})
    assert signed_in_user(client) == admin


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"email": "stranger@else.example", "email_verified": True}, "no rep in the CRM"),
        ({"email": "ivy@acme.example", "email_verified": False}, "not verified"),
        ({"email": "gone@acme.example", "email_verified": True}, "inactive in the CRM"),
        ({"email": "taken@acme.example", "email_verified": True}, "a login of that name with another e-mail"),
    ],
)
def test_who_may_not_sign_in_is_refused_with_a_reason(provider, claims, why):
    RepFactory(email="ivy@acme.example")
    gone = UserFactory(username="gone", email="gone@acme.example")
    set_role(gone, REP)
    RepFactory(email="gone@acme.example", is_active=False, user=gone)
    RepFactory(email="taken@acme.example")
    UserFactory(username="taken@acme.example", email="")
    users_before = get_user_model().objects.count()
    client, where = sign_in(claims)
    assert signed_in_user(client) is None, why
    assert where == "/admin/login/?sso=refused"
    assert get_user_model().objects.count() == users_before
    page = client.get(where).content.decode()
    assert "Single sign-on did not let you in" in page and "Sign in with" in page
