"""Who a user is, and which CRM records they may read — decided once, for the API and every page.

The four roles are Django groups (created by ``exceptions.roles.ensure_roles``); the core only
needs their names to tell a user's reach:

* **RevOps admin** (and superusers) and **Integration** service accounts (API tokens, limited by
  their scopes instead) read every record;
* a **Manager** reads the records of the teams their rep (``Rep.user``) manages, sub-teams
  included, and of their direct reports;
* a **Rep** reads their own records: the rep record itself, their team, and what they own;
* anyone else (a staff login with no role, an anonymous request) reads nothing.

A record outside a user's reach does not exist for them: list endpoints leave it out and detail
endpoints answer 404, never 403, which would confirm it exists.
"""

from __future__ import annotations

from django.db.models import Q

ADMIN = "RevOps admin"
MANAGER = "Manager"
REP = "Rep"
INTEGRATION = "Integration"
ROLE_NAMES = (ADMIN, MANAGER, REP, INTEGRATION)
INTEGRATION_USER_PREFIX = "integration:"


def _group_names(user) -> set[str]:
    cached = getattr(user, "_exception_role_groups", None)
    if cached is None:
        cached = set(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True))
        user._exception_role_groups = cached
    return cached


def user_role(user) -> str | None:
    """The user's role name (``ADMIN``, ``MANAGER``, ``REP``, ``INTEGRATION``) or None.

    Superusers count as RevOps admins; an API token's service login (``integration:<name>``) as
    Integration. A user in several role groups gets the widest one.
    """
    if user is None or not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    names = _group_names(user)
    for role in (ADMIN, MANAGER, REP, INTEGRATION):
        if role in names:
            return role
    if user.get_username().startswith(INTEGRATION_USER_PREFIX):
        return INTEGRATION
    return None


def sees_everything(user) -> bool:
    """Admins and integration service accounts see every record and item (tokens are limited by scope)."""
    return user_role(user) in (ADMIN, INTEGRATION)


def team_subtree_ids(team_ids: set[int]) -> set[int]:
    """``team_ids`` and the ids of all their sub-teams."""
    from revops.models import Team

    found = set(team_ids)
    frontier = set(found)
    while frontier:  # team trees are shallow; one query per level
        children = set(Team.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= children
        frontier = children
    return found


def managed_team_ids(*, user) -> set[int]:
    """Ids of the teams managed by ``user``'s rep, and all their descendants."""
    from revops.models import Team

    return team_subtree_ids(set(Team.objects.filter(manager__user_id=user.pk).values_list("id", flat=True)))


def _own_rep(user):
    from revops.models import Rep

    return Rep.objects.filter(user_id=user.pk).only("id", "team_id").first()


def reach(user) -> tuple[set[int], set[int]] | None:
    """The rep ids and team ids whose records ``user`` may read; None when they read everything.

    Cached on the user object for the request.
    """
    cached = getattr(user, "_record_reach", False)
    if cached is not False:
        return cached
    role = user_role(user)
    result: tuple[set[int], set[int]] | None
    if role in (ADMIN, INTEGRATION):
        result = None
    elif role in (MANAGER, REP):
        from revops.models import Rep

        rep = _own_rep(user)
        rep_ids = {rep.pk} if rep else set()
        team_ids = {rep.team_id} if rep and rep.team_id else set()
        if role == MANAGER:
            managed = managed_team_ids(user=user)
            team_ids |= managed
            if rep or managed:
                rep_ids |= set(
                    Rep.objects.filter(Q(team_id__in=managed) | Q(manager_id=rep.pk if rep else None)).values_list(
                        "id", flat=True
                    )
                )
        result = (rep_ids, team_ids)
    else:
        result = (set(), set())
    if user is not None:
        user._record_reach = result
    return result


# How each record type reaches its owners: the rep fields whose value puts a row in reach.
_OWNER_PATHS = {
    "reps": ("id",),
    "accounts": ("owner_id",),
    "leads": ("owner_id",),
    # A contact is the account's: the account owner's team reads it, and so does its own owner's.
    "contacts": ("owner_id", "account__owner_id"),
    "opportunities": ("owner_id",),
    "activities": ("rep_id", "lead__owner_id", "opportunity__owner_id", "account__owner_id"),
    "tasks": ("owner_id", "lead__owner_id", "opportunity__owner_id", "account__owner_id"),
}


def record_visibility_q(*, user, object_type: str) -> Q | None:
    """A filter for the ``object_type`` records (``"leads"``, ``"teams"``…) ``user`` may read; None for all."""
    scope = reach(user)
    if scope is None:
        return None
    rep_ids, team_ids = scope
    if object_type == "teams":
        return Q(pk__in=team_ids)
    paths = _OWNER_PATHS.get(object_type)
    if paths is None or not rep_ids:
        return Q(pk__in=[])
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path}__in": rep_ids})
    return condition
