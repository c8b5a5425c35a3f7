"""Logins for the CRM's people: invitations with one-time links, roles from the team tree, logins that
follow the rep out of the CRM, and a users list without system identities."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory

from exceptions import roles
from revops.access import MANAGER, REP, user_role
from revops.audit import system_user
from revops.people import logins_follow_reps, rep_invite
from revops.tokens import api_token_create
from tests.factories import RepFactory, TeamFactory, UserFactory

LINK = re.compile(r"http://testserver(/accounts/invite/[^\s]+/)")


@pytest.fixture
def admin_user():
    user = UserFactory(username="ops", is_staff=True)
    roles.assign_role(user, roles.ADMIN)
    return user


def invite(rep, actor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return rep_invite(rep=rep, actor=actor, base_url="http://testserver")


@pytest.mark.django_db
def test_an_invited_rep_sets_a_password_once_and_lands_signed_in(admin_user, django_capture_on_commit_callbacks):
    rep = RepFactory(name="Dana Scully", email="Dana.Scully@Acme-Sales.test")
    invitation = invite(rep, admin_user, django_capture_on_commit_callbacks)
    user = invitation.user
    assert (user.username, user.first_name, user.last_name) == ("dana.scully@acme-sales.test", "Dana", "Scully")
    assert not user.has_usable_password() and user.is_staff and user_role(user) == REP
    rep.refresh_from_db()
    assert rep.user == user
    (message,) = mail.outbox
    assert message.to == ["dana.scully@acme-sales.test"] and "72 hours" in message.body
    path = LINK.search(message.body).group(1)

    client = Client()
    page = client.get(path, follow=True)
    assert page.status_code == 200 and "Choose a password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    done = client.post(form_url, {"new_password1": "a-long-pass-9731", "new_password2": "a-long-pass-9731"})
    assert done.status_code == 302 and done.url == "/admin/"
    assert client.get("/admin/").status_code == 200  # signed in
    user.refresh_from_db()
    assert user.check_password("a-long-pass-9731")

    again = Client().get(path, follow=True)  # the link worked once
    assert "This link no longer works" in again.content.decode()
    with pytest.raises(ValidationError, match="already has a login"):
        rep_invite(rep=rep, actor=admin_user)


@pytest.mark.django_db
def test_a_team_manager_is_invited_as_a_manager_and_an_expired_link_is_refused(
    admin_user, settings, django_capture_on_commit_callbacks
):
    boss = RepFactory(name="Walter Skinner")
    TeamFactory(name="East", manager=boss)
    invitation = invite(boss, admin_user, django_capture_on_commit_callbacks)
    assert invitation.role == MANAGER and user_role(invitation.user) == MANAGER
    settings.PASSWORD_RESET_TIMEOUT = -1
    page = Client().get(LINK.search(mail.outbox[0].body).group(1), follow=True)
    assert "This link no longer works" in page.content.decode()


@pytest.mark.django_db
def test_reps_that_cannot_be_invited_are_refused_with_the_reason(admin_user):
    with pytest.raises(ValidationError, match="inactive in the CRM"):
        rep_invite(rep=RepFactory(is_active=False), actor=admin_user)
    with pytest.raises(ValidationError, match="no e-mail address"):
        rep_invite(rep=RepFactory(email=""), actor=admin_user)
    taken = RepFactory(email="shared@acme-sales.test")
    rep_invite(rep=taken, actor=admin_user)
    with pytest.raises(ValidationError, match="already belongs to another rep"):
        rep_invite(rep=RepFactory(email="Shared@acme-sales.test"), actor=admin_user)


@pytest.mark.django_db
def test_leaving_the_crm_turns_the_login_off(admin_user):
    rep = RepFactory()
    user = rep_invite(rep=rep, actor=admin_user).user
    user.set_password("a-long-pass-9731")
    user.save()
    assert (
        authenticate(RequestFactory().post("/admin/login/"), username=user.username, password="a-long-pass-9731")
        == user
    )
    rep.is_active = False
    rep.save()
    assert (
        authenticate(RequestFactory().post("/admin/login/"), username=user.username, password="a-long-pass-9731")
        is None
    )  # refused at once
    assert logins_follow_reps() == 1
    user.refresh_from_db()
    assert not user.is_active
    assert logins_follow_reps() == 0


@pytest.mark.django_db
def test_the_rep_list_invites_in_bulk_and_shows_who_has_a_login(admin_user, django_capture_on_commit_callbacks):
    first, second, gone = RepFactory(name="Ann Able"), RepFactory(name="Bob Baker"), RepFactory(is_active=False)
    client = Client()
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/revops/rep/",
            {"action": "invite", "_selected_action": [first.pk, second.pk, gone.pk]},
            follow=True,
        )
    text = response.content.decode()
    assert "Invited 2: Ann Able (rep), Bob Baker (rep)" in text
    assert f"{gone.name} is inactive in the CRM" in text
    assert len(mail.outbox) == 2
    listing = client.get("/admin/revops/rep/").content.decode()
    assert "has not set a password yet" in listing


@pytest.mark.django_db
def test_the_users_list_shows_people_and_keeps_system_identities_behind_a_filter(admin_user):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    api_token_create(name="crm", scopes=["read"])
    system_user("lead-scoring")
    person = UserFactory(username="person@acme-sales.test")
    client = Client()
    client.force_login(superuser)
    people = client.get("/admin/auth/user/").content.decode()
    assert person.username in people and "integration:crm" not in people and "lead-scoring" not in people
    system = client.get("/admin/auth/user/?identity=system").content.decode()
    assert "integration:crm" in system and "lead-scoring" in system and person.username not in system
    assert get_user_model().objects.count() >= 5
