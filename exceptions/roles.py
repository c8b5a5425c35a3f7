"""Roles: the four groups of the portal, their model permissions, and who a user is.

* **RevOps admin** — everything, rules included (every model permission of the portal's apps).
* **Manager** — triages and approves items in their teams' queues; reads records, automations and
  the dictionary but cannot add, change or delete rules (no such model permission), queues or tokens.
* **Rep** — sees and works the exception items they own.
* **Integration** — API only: no admin permissions and no staff flag. API tokens act as service
  accounts (their ``integration:<name>`` login); what they may do is set by the token's scopes.

Model permissions gate what the admin shows at all; which *items* a user sees is decided per row
by ``exceptions.selectors`` (a manager's teams, a rep's own items), and the item actions a role may
take by ``can_act``.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from revops.access import (  # noqa: F401  (the role names and lookups live in the core; re-exported here)
    ADMIN,
    INTEGRATION,
    INTEGRATION_USER_PREFIX,
    MANAGER,
    REP,
    ROLE_NAMES,
    sees_everything,
    user_role,
)
from revops.people import set_role

# Apps whose every model permission a RevOps admin holds.
ADMIN_APPS = (
    "revops",
    "exceptions",
    "routing",
    "handoffs",
    "monitors",
    "lifecycle",
    "webhooks",
    "dataquality",
    "axes",
)  # axes: the sign-in log and lock-outs

# revops models a manager may read: the CRM mirror, and the rules and runs that explain decisions.
MANAGER_VIEW_REVOPS = (
    "team",
    "rep",
    "account",
    "lead",
    "contact",
    "opportunity",
    "activity",
    "task",
    "automation",
    "automationrun",
    "fielddefinition",
)
MANAGER_PERMS = (
    *(("revops", f"view_{model}") for model in MANAGER_VIEW_REVOPS),
    ("exceptions", "view_exceptionitem"),
    ("exceptions", "change_exceptionitem"),
    ("exceptions", "view_queue"),
    # Suppressions made on items they see (lift early: the change permission; rows by exceptions.suppressions).
    ("exceptions", "view_suppression"),
    ("exceptions", "change_suppression"),
    ("handoffs", "view_handoff"),
    ("handoffs", "view_checklist"),
    # Their teams' MQLs waiting for an answer, and the rejections (rows scoped by ``lifecycle.stage_selectors``).
    ("lifecycle", "view_waitinglead"),
    ("lifecycle", "view_rejection"),
    ("lifecycle", "view_stage"),
    ("lifecycle", "view_closedloopreport"),  # their teams' leads only (lifecycle.closed_loop)
    # The pools that name them as pool managers (rows scoped by ``routing.delegation``; Manage the pool).
    ("routing", "view_pool"),
    # Read, not write: the routing rules that affect their teams, every SLA policy (they apply by the
    # lead's data, to any team), their teams' SLA clocks and report, and the routing decisions on their
    # teams' leads (rows scoped by ``routing.delegation``).
    ("routing", "view_routingrule"),
    ("routing", "view_slapolicy"),
    ("routing", "view_slaclock"),
    ("routing", "view_routingdecision"),  # on their teams' leads
)
REP_PERMS = (
    ("exceptions", "view_exceptionitem"),
    ("exceptions", "change_exceptionitem"),
    # Handoffs of their deals and those they receive (rows scoped by ``handoffs.selectors``).
    ("handoffs", "view_handoff"),
    # Their MQLs waiting for an answer, and their rejections (rows scoped by ``lifecycle.stage_selectors``).
    ("lifecycle", "view_waitinglead"),
    ("lifecycle", "view_rejection"),
    # A rep RevOps names as a pool manager runs that pool (rows scoped by ``routing.delegation``).
    ("routing", "view_pool"),
)

# Item actions per role (admins and integration tokens may take every action).
# A rep may send back an approval someone sent them for review (their answer goes back to the approver).
REP_ACTIONS = frozenset({"view", "change", "claim", "resolve", "dismiss", "snooze", "escalate", "send_back"})
ALL_ACTIONS = frozenset(
    {
        "view",
        "change",
        "claim",
        "assign",
        "resolve",
        "dismiss",
        "snooze",
        "escalate",
        "approve",
        "reject",
        "override",
        "send_back",
    }
)


def _permissions(pairs) -> list[Permission]:
    wanted = set(pairs)
    labels = {app for app, _ in wanted}
    found = Permission.objects.filter(content_type__app_label__in=labels).select_related("content_type")
    return [p for p in found if (p.content_type.app_label, p.codename) in wanted]


@transaction.atomic
def ensure_roles() -> dict[str, Group]:
    """Create or update the four groups with exactly their model permissions (idempotent).

    Runs after every ``migrate`` (``post_migrate``); safe to call again at any time.
    """
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in ROLE_NAMES}
    groups[ADMIN].permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    groups[MANAGER].permissions.set(_permissions(MANAGER_PERMS))
    groups[REP].permissions.set(_permissions(REP_PERMS))
    groups[INTEGRATION].permissions.clear()
    return groups


def create_roles_after_migrate(sender, using="default", **kwargs) -> None:
    """``post_migrate`` receiver: permissions exist by now (auth's receiver runs first), so build the groups."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    # Make sure every app's permissions exist even if their post_migrate has not run yet.
    for app_config in global_apps.get_app_configs():
        if app_config.label in ADMIN_APPS:
            create_permissions(app_config, verbosity=0, using=using)
    ensure_roles()


def assign_role(user, role: str) -> None:
    """Put ``user`` in exactly one role group (``revops.people.set_role``), the groups made first."""
    ensure_roles()
    set_role(user, role)


def can_act(user, item, action: str) -> bool:
    """Whether ``user`` may take ``action`` on ``item``, *assuming the item is visible to them*.

    Visibility is the selectors' job (an invisible item is a 404); this only separates what a
    role may do with an item it can see: a rep works their own items but does not approve,
    reject, override or reassign them.
    """
    if action not in ALL_ACTIONS:
        return False
    role = user_role(user)
    if role in (ADMIN, INTEGRATION, MANAGER):
        return True
    return action in REP_ACTIONS and item.owner_id is not None and item.owner_id == user.pk
