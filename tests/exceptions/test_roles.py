"""Role groups: created after migrate with exactly their model permissions; ``user_role``; ``can_act``."""

import pytest
from django.contrib.auth.models import Group

from exceptions import roles
from exceptions.models import ExceptionItem
from revops.tokens import api_token_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def perms(group_name):
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_groups_exist_after_migrate_and_ensure_roles_is_idempotent():
    assert set(Group.objects.filter(name__in=roles.ROLE_NAMES).values_list("name", flat=True)) == set(roles.ROLE_NAMES)
    before = {name: perms(name) for name in roles.ROLE_NAMES}
    roles.ensure_roles()
    roles.ensure_roles()
    assert Group.objects.filter(name__in=roles.ROLE_NAMES).count() == 4
    assert {name: perms(name) for name in roles.ROLE_NAMES} == before


def test_admin_group_has_every_portal_permission_including_rules():
    admin = perms(roles.ADMIN)
    for perm in (
        "revops.change_automation",
        "revops.add_automation",
        "revops.delete_fielddefinition",
        "exceptions.change_queue",
        "exceptions.change_exceptionitem",
    ):
        assert perm in admin


def test_manager_reads_rules_but_cannot_change_them():
    manager = perms(roles.MANAGER)
    assert {"revops.view_automation", "revops.view_fielddefinition", "revops.view_lead"} <= manager
    assert {"exceptions.view_exceptionitem", "exceptions.change_exceptionitem", "exceptions.view_queue"} <= manager
    for model in ("automation", "fielddefinition", "apitoken"):
        for action in ("add", "change", "delete"):
            assert f"revops.{action}_{model}" not in manager
    assert not {p for p in manager if p.startswith(("revops.add_", "revops.change_", "revops.delete_"))}
    assert not {"exceptions.add_queue", "exceptions.change_queue", "exceptions.delete_queue"} & manager


def test_rep_and_integration_permissions():
    assert perms(roles.REP) == {
        "exceptions.view_exceptionitem",
        "exceptions.change_exceptionitem",
        "handoffs.view_handoff",  # their deals' handoffs and those they receive (rows scoped)
        "lifecycle.view_waitinglead",  # their MQLs waiting for an answer (rows scoped)
        "lifecycle.view_rejection",  # their rejections (rows scoped)
        "routing.view_pool",  # the pools RevOps names them pool manager of (rows scoped)
    }
    assert perms(roles.INTEGRATION) == set()


def test_assign_role_sets_one_group_and_staff_flag():
    user = UserFactory()
    roles.assign_role(user, roles.MANAGER)
    roles.assign_role(user, roles.REP)
    assert list(user.groups.values_list("name", flat=True)) == [roles.REP]
    assert user.is_staff
    roles.assign_role(user, roles.INTEGRATION)
    user.refresh_from_db()
    assert not user.is_staff
    with pytest.raises(ValueError):
        roles.assign_role(user, "Overlord")


def test_user_role():
    assert roles.user_role(UserFactory(is_superuser=True)) == roles.ADMIN
    for role in roles.ROLE_NAMES:
        user = UserFactory()
        roles.assign_role(user, role)
        assert roles.user_role(user) == role
    assert roles.user_role(UserFactory(is_staff=True)) is None
    token, _ = api_token_create(name="crm", scopes=["read"])
    assert roles.user_role(token.user) == roles.INTEGRATION


def test_can_act_separates_reps_from_managers():
    rep, other, manager = UserFactory(), UserFactory(), UserFactory()
    roles.assign_role(rep, roles.REP)
    roles.assign_role(other, roles.REP)
    roles.assign_role(manager, roles.MANAGER)
    item = ExceptionItem(owner=rep)
    assert roles.can_act(rep, item, "resolve")
    assert roles.can_act(rep, item, "claim")
    assert not roles.can_act(rep, item, "approve")
    assert not roles.can_act(rep, item, "assign")
    assert not roles.can_act(other, item, "resolve")
    assert roles.can_act(manager, item, "approve")
    assert not roles.can_act(manager, item, "launch_missiles")
