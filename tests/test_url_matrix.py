"""The authorisation matrix: every URL pattern of the portal × every role, enumerated from the resolver.

A URL pattern without a rule in ``RULES`` fails ``test_every_url_pattern_has_a_rule``, so a new page
or endpoint cannot ship without saying who may open it. ``test_matrix`` then requests each pattern
(with real objects from the demo filled into its arguments) as each role and compares what came back
with what the rule expects:

* ``ALLOW`` — the page or endpoint answers (2xx/3xx, or a 4xx about the input such as 400/405/409);
* ``LOGIN`` — the admin's login redirect, or the API's 401;
* ``REFUSE`` — 403, or the object is hidden (404, or the admin's "doesn't exist" redirect);
* ``HIDDEN`` — the object is hidden (never a 403, which would confirm it exists).

No cell may answer 5xx. Every request runs in a savepoint that is rolled back, so cells do not see
each other's writes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from exceptions import roles
from exceptions.models import ExceptionItem, Notification, NotificationLimits, Queue, RateLimit, RateLimitHold
from exceptions.suppressions import suppression_create
from handoffs.models import Checklist, Handoff
from monitors.models import DealMovement
from monitors.services import forecast_snapshot_take
from revops.admin.base import SCOPED_TYPES
from revops.configuration import config_apply
from revops.demo import demo_load
from revops.engine.revert_batches import revert_batch_start
from revops.models import (
    Account,
    Activity,
    Automation,
    AutomationCandidate,
    AutomationRun,
    ConfigRelease,
    Contact,
    Lead,
    Opportunity,
    Rep,
    Task,
    Team,
)
from revops.tokens import api_token_create
from routing.models import Pool, RoutingRule
from tests.factories import UserFactory
from webhooks.models import WebhookDelivery
from webhooks.services import subscription_create

pytestmark = pytest.mark.django_db

ALLOW, LOGIN, REFUSE, HIDDEN = "allow", "login", "refuse", "hidden"

SESSION_ROLES = ("rep", "manager_a", "manager_b", "revops_admin", "superuser")
TOKEN_SCOPES = {
    "token_read": ("read",),
    "token_sync": ("sync:write",),
    "token_exceptions": ("exceptions:write",),
    "token_config": ("config:write",),
    "token_revert": ("runs:revert",),
}
ROLES = ("anonymous", *SESSION_ROLES, *TOKEN_SCOPES)
ADMIN_ROLES = {"revops_admin", "superuser"}


# --- the URL patterns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    route: str  # the joined pattern text, e.g. "admin/revops/lead/<path:object_id>/why/"
    name: str  # namespaced, e.g. "admin:revops_lead_why" ("admin:" for unnamed admin patterns)


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield Pattern(prefix + str(entry.pattern), namespace + (entry.name or ""))


def url_patterns() -> list[Pattern]:
    seen, found = set(), []
    for pattern in _walk(get_resolver().url_patterns):
        if pattern not in seen:
            seen.add(pattern)
            found.append(pattern)
    return found


# --- the rules: who may open what ----------------------------------------------------------------

MODEL_URL = re.compile(r"^admin/(?P<app>\w+)/(?P<model>\w+)/")
# The admin's own pages, by what the ModelAdmin must allow: the model admin's permission methods
# decide (they narrow the model permissions: read-only logs have no "add", built-in dictionary
# fields no "delete").
MODEL_SUFFIX_PERMS = {
    "changelist": "view",
    "history": "view",
    "simple_history": "view",
    "change": "view",
    "": "redirect",  # <path:object_id>/ only redirects to <object_id>/change/, for any staff
    "add": "add",
    "delete": "delete",
    # Pages of our own under a model's admin, and the model permission each needs.
    "why": ("view", "change"),
    "shadow": ("view", "change"),
    "mode": ("change",),
    # The kill switches: pause and resume pages (one object, or all automations).
    "pause": ("change",),
    "resume": ("change",),
    "pause_all": ("change",),
    "resume_all": ("change",),
    "move": ("change",),
    "preview": ("view", "change"),
    "backtest": ("view", "change"),
    "report": ("view", "change"),
    "noise": "view",  # a report page deciding by the ModelAdmin (RevOps admins)
    "next": ("view", "change"),
    "act": ("view", "change"),
    "macro": ("view", "change"),  # a triage row's one-click action
    # A handoff is answered by its receiving side; in this world nobody receives it, so only admins may.
    "answer": ("change",),
    # Versions of a rule: whoever may view it (restoring, a POST, needs the change permission).
    "versions": "view",
    "compare": "view",  # two configuration releases compared
    "manage": "view",  # a pool's Manage page: RevOps and the pool's managers (the ModelAdmin decides per pool)
}
# The lead's routing decision is re-routed with the lead's change permission.
SPECIAL_PERMS = {
    "admin:routing_routingdecision_reroute": "revops.change_lead",
    "admin:auth_user_password_change": "auth.change_user",
    # Rolling the configuration back changes every rule: who may change automations.
    "admin:revops_configrelease_rollback": "revops.change_automation",
    # Reverting runs is for RevOps admins: the pages check the role, which holds these permissions (managers do not).
    "admin:revops_automationrun_revert": "revops.change_automationrun",
    "admin:revops_automation_revert_runs": "revops.change_automation",
    # Automation health (its page and the review) is for RevOps admins: the pages check the role.
    "admin:revops_automation_health": "revops.change_automation",
    "admin:revops_automation_health_review": "revops.change_automation",
    "admin:revops_runrevertbatch_resume": "revops.change_runrevertbatch",
    # An MQL is answered from the page of MQLs waiting for the viewer (rows scoped: another team's is a 404).
    "admin:lifecycle_waitinglead_answer": "lifecycle.view_waitinglead",
    # Dismissing a duplicate set ("not duplicates") is a change of the set: RevOps admins.
    "admin:dataquality_duplicateset_dismiss": "dataquality.change_duplicateset",
    # Proposing a merge adds merges; deciding one (approve, reject, undo) changes it: RevOps admins.
    "admin:dataquality_duplicateset_propose": "dataquality.add_merge",
    "admin:dataquality_merge_decide": "dataquality.change_merge",
    # Preview, backtest and a rule's shadow report replay every team's leads: who writes rules (RevOps).
    "admin:routing_routingrule_preview": "routing.change_routingrule",
    "admin:routing_routingrule_backtest": "routing.change_routingrule",
    "admin:routing_routingrule_shadow": "routing.change_routingrule",
    # A backlog candidate becomes a draft automation: who may add automations.
    "admin:revops_automationcandidate_draft": "revops.add_automation",
}


def _admin_allows(world, user, app: str, model: str, action: str, *, with_object: bool) -> bool:
    """What the registered ModelAdmin says ``user`` may do (``view`` covers view-or-change)."""
    from django.contrib import admin
    from django.test import RequestFactory

    cls = ContentType.objects.get(app_label=app, model=model).model_class()
    model_admin = admin.site._registry[cls]
    request = RequestFactory().get("/admin/")
    request.user = user
    obj = _model_instance(app, model, world) if with_object else None
    if action == "view":
        return model_admin.has_view_or_change_permission(request, obj)
    if action == "add":
        return model_admin.has_add_permission(request)
    return model_admin.has_delete_permission(request, obj)


def _has_model_perm(user, app: str, model: str, actions) -> bool:
    return any(user.has_perm(f"{app}.{action}_{model}") for action in actions)


def expected(world, role: str, pattern: Pattern) -> str | tuple[str, ...]:
    """What ``role`` must get from ``pattern`` (see the module docstring); raises KeyError if no rule fits."""
    name, route = pattern.name, pattern.route
    session = role in SESSION_ROLES
    user = world.users.get(role)

    if route in ("", "favicon.ico") or name == "healthz":
        return ALLOW  # public; the front door redirects to the admin, the favicon to its static file
    if name == "invite-accept":
        return ALLOW  # public: an invitation's link (a wrong or used one says so and points to the sign-in)
    if name in ("admin:login", "admin:logout"):
        return (ALLOW, HIDDEN)  # public; a signed-in user is sent on to the admin index
    if route.startswith("api/"):
        return _expected_api(world, role, name)
    # Everything else is the admin: tokens are not sessions, so they count as anonymous there.
    if user is None:
        _admin_rule(pattern)  # every pattern needs a rule, whoever asks
    if not session:
        return LOGIN
    if name.startswith(("django_rq:", "admin:django_rq_")):
        # Operational pages: RevOps admins only (for whom a job or worker the URL names may be gone: 404).
        return (ALLOW, HIDDEN) if role in ADMIN_ROLES else REFUSE
    if name in ("admin:index", "admin:jsi18n", "admin:password_change", "admin:password_change_done"):
        return ALLOW
    if name in ("revops-dashboard", "revops-dashboard-csv"):
        return ALLOW  # every staff login; each sees the numbers of the teams within their reach (none for a rep)
    if name == "my-notifications":
        return ALLOW  # every staff login, for their own channels and settings only
    if name in ("admin:autocomplete", "admin:view_on_site"):
        return (ALLOW, REFUSE)  # answers depend on parameters; both check staff, checked by LOGIN above
    if name == "admin:app_list":
        return ALLOW if any(p.startswith("revops.") for p in user.get_all_permissions()) else HIDDEN
    if name == "admin:" and route == "admin/(?P<url>.*)$":
        return HIDDEN  # the admin's catch-all: a 404 for staff
    app, model, perms = _admin_rule(pattern)
    if perms == "redirect":
        return ALLOW
    if isinstance(perms, tuple):
        allowed = _has_model_perm(user, app, model, perms)
    elif "." in perms:
        allowed = user.has_perm(perms)
    else:
        allowed = _admin_allows(
            world, user, app, model, perms, with_object="object_id" in route or "^([^/]+)/history" in route
        )
    if not allowed:
        return REFUSE
    if name == "admin:lifecycle_waitinglead_answer" and role not in world.sees_records:
        return HIDDEN  # the lead is the rep's: team B's manager does not see it
    names_object = "object_id" in route or "^([^/]+)/history" in route
    if model in ("exceptionitem", "queue", "handoff", "suppression") and names_object and role not in world.sees_item:
        return HIDDEN  # the item, its queue and the handoff of the rep's deal are team A's
    if model in RECORD_MODELS and app == "revops" and names_object and role not in world.sees_records:
        return HIDDEN  # the rep's own records: team B's manager does not see them, in the admin as in the API
    if model == "pool" and names_object and role not in ("manager_a", *ADMIN_ROLES):
        return HIDDEN  # the pool names team A's manager as its pool manager
    return ALLOW


SITE_WIDE = {
    "admin:index",
    "admin:jsi18n",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:view_on_site",
    "admin:app_list",
    "revops-dashboard",
    "revops-dashboard-csv",
    "my-notifications",
}


def _admin_rule(pattern: Pattern):
    """(app, model, permissions) of an admin model page, None for the site-wide pages; KeyError if unknown."""
    name, route = pattern.name, pattern.route
    if name.startswith(("django_rq:", "admin:django_rq_")) or name in SITE_WIDE or route == "admin/(?P<url>.*)$":
        return None
    match = MODEL_URL.match(route)
    if not match or not name.startswith("admin:"):
        raise KeyError(pattern)
    app, model = match["app"], match["model"]
    if name in SPECIAL_PERMS:
        return app, model, SPECIAL_PERMS[name]
    prefix = f"admin:{app}_{model}"
    suffix = name[len(prefix) + 1 :] if name.startswith(prefix + "_") else ("" if name == "admin:" else None)
    if suffix is None or suffix not in MODEL_SUFFIX_PERMS:
        raise KeyError(pattern)
    return app, model, MODEL_SUFFIX_PERMS[suffix]


API_READ = "read"
API_RULES = [
    # (name pattern, scopes needed, visibility of the object in the URL matters)
    (r"^sync$", ("sync:write",), False),
    (r"^api-read:(schema|docs)$", (API_READ,), False),
    (r"^api-read:changes$", (API_READ,), False),
    (r"^api-read:metrics$", (API_READ,), False),
    (r"^api-read:\w+-list$", (API_READ,), False),
    (r"^api-read:\w+-detail$", (API_READ,), True),
    (r"^api-config:", ("config:write",), False),
    (r"^api-runs:revert$", ("runs:revert",), False),
    (r"^api-exceptions:list$", (API_READ,), False),
    (r"^api-exceptions:detail$", (API_READ,), True),
    (r"^api-exceptions:next$", ("exceptions:write", API_READ), False),
    (r"^api-exceptions:\w+$", ("exceptions:write",), True),
    (r"^api-handoffs:list$", (API_READ,), False),
    (r"^api-handoffs:detail$", (API_READ,), True),
    (r"^api-handoffs:\w+$", ("exceptions:write",), True),
    (r"^api-automations:paused$", (API_READ,), False),
    (r"^api-automations:", ("config:write",), False),
    (r"^api-routing:rule-", ("config:write",), False),
    (r"^api-lifecycle:mqls$", (API_READ,), False),
    (r"^api-lifecycle:\w+$", ("exceptions:write",), True),
]


def _expected_api(world, role: str, name: str) -> str:
    rule = next((rule for rule in API_RULES if re.match(rule[0], name)), None)
    if rule is None:
        raise KeyError(name)
    _, needed, object_level = rule
    if role == "anonymous":
        return LOGIN
    scopes = world.scopes[role]
    if not set(needed) <= scopes:
        return REFUSE
    if name == "api-read:changes" and role in ("rep", "manager_a", "manager_b"):
        return REFUSE  # the feed is for integrations and RevOps admins
    if object_level and role not in world.sees_records:
        return HIDDEN
    if name in ("api-exceptions:approve", "api-exceptions:reject", "api-exceptions:override", "api-exceptions:assign"):
        if role == "rep":
            return REFUSE  # a rep works their own items but does not approve or reassign them
    if name in ("api-handoffs:accept", "api-handoffs:reject") and role in ("rep", "manager_a"):
        return REFUSE  # the deal side (the rep owns the deal) does not answer its own handoff
    return ALLOW


# --- the world -----------------------------------------------------------------------------------


@dataclass
class World:
    users: dict
    clients: dict
    scopes: dict
    args: dict
    sees_item: set
    sees_records: set


def _user(username: str, role: str, rep: Rep | None = None):
    user = UserFactory(username=username)
    roles.assign_role(user, role)
    if rep is not None:
        rep.user = user
        rep.save(update_fields=["user"])
    return user


def build_world() -> World:
    """The demo org, with logins for a rep of team A, the managers of teams A and B, RevOps and tokens.

    Team A is the team whose sub-tree holds the rep; team B another top-level team. The records in
    URLs are the rep's own (so the rep, team A's manager and RevOps see them; team B's manager not),
    and the exception item is the rep's, in a queue of team A.
    """
    demo_load(seed=7)
    roles.ensure_roles()
    lead = Lead.objects.filter(owner__team__isnull=False, owner__user__isnull=True).order_by("pk").first()
    rep_record = lead.owner
    team_a = rep_record.team
    while team_a.parent_id:
        team_a = team_a.parent
    team_b = Team.objects.filter(parent__isnull=True).exclude(pk=team_a.pk).order_by("pk").first()

    def manager_rep(team):
        if team.manager_id is None or team.manager.user_id is not None or team.manager_id == rep_record.pk:
            team.manager = Rep.objects.create(external_id=f"MGR-{team.pk}", name=f"Manager {team.name}", team=team)
            team.save(update_fields=["manager"])
        return team.manager

    users = {
        "rep": _user("matrix.rep", roles.REP, rep_record),
        "manager_a": _user("matrix.manager.a", roles.MANAGER, manager_rep(team_a)),
        "manager_b": _user("matrix.manager.b", roles.MANAGER, manager_rep(team_b)),
        "revops_admin": _user("matrix.ops", roles.ADMIN),
        "superuser": UserFactory(username="matrix.root", is_staff=True, is_superuser=True),
    }
    queue = Queue.objects.create(name="Matrix team A", team=team_a)
    # A configuration release (its pages and the rollback endpoint name one).
    config_apply(document={"version": 1, "queues": [{"name": "Matrix release"}]}, actor=users["superuser"])
    item = ExceptionItem.objects.create(
        kind="missing_data",
        title="Country is missing",
        reason="Country is missing.",
        expected_action="Fill in the country.",
        dedupe_key="matrix-item",
        queue=queue,
        queue_name=queue.name,
        owner=users["rep"],
        object_type="lead",
        object_id=lead.pk,
    )
    checklist = Checklist.objects.create(name="Matrix handoff", required_fields=[{"field": "use_case"}])
    AutomationCandidate.objects.create(name="Matrix candidate", process="By hand.", object_type="lead")
    deal = Opportunity.objects.filter(owner=rep_record).order_by("pk").first()
    Handoff.objects.create(
        checklist=checklist, opportunity=deal, missing=[{"kind": "field", "key": "use_case", "label": "Use case"}]
    )
    # The monitors' read-only pages: a snapshot run (with the open deals' snapshots) and a movement.
    forecast_snapshot_take(reason="matrix")
    DealMovement.objects.create(
        opportunity=deal,
        field="stage",
        old_value="discovery",
        new_value="proposal",
        moved_at=deal.created_at,
        outbox_event_id=0,  # no real event: outbox ids start at 1
    )
    # The queue's scarcity pages: a suppression of the item's topic, a rate limit and a hold.
    suppression_create(
        object_type="lead",
        object_id=lead.pk,
        kind=item.kind,
        until_change=True,
        reason_code="being_handled",
        item=item,
        actor=users["revops_admin"],
    )
    RateLimit.objects.create(kind=item.kind, per_owner=5, period_hours=24)
    NotificationLimits.objects.create(per_person_per_hour=12)
    # Team A's manager runs the first pool (the one the pool pages open); team B's manager runs none.
    Pool.objects.order_by("pk").first().managers.add(users["manager_a"])
    Notification.objects.create(
        recipient=users["manager_a"], item=item, key="matrix", reason="critical", subject="Matrix"
    )
    RateLimitHold.objects.create(kind=item.kind, owner=users["manager_a"], held=2, limit=5, updated_at=deal.created_at)
    # A revert batch (its job is enqueued on commit, which this test never reaches).
    run = AutomationRun.objects.filter(mode="live", outcome="fired").order_by("pk").first()
    revert_batch_start(
        actor=users["revops_admin"],
        automation=run.automation,
        started_from=run.created_at,
        until=run.created_at + dt.timedelta(seconds=1),
        reason="matrix",
    )
    # An outbound webhook and one delivery of it (no receiver: the delivery row is written directly).
    hook_token, _raw = api_token_create(name="matrix-webhook", scopes=["read"])
    hook, _secret = subscription_create(
        name="Matrix push", url="https://crm.example.test/hooks", token=hook_token, actor=users["superuser"]
    )
    WebhookDelivery.objects.create(subscription=hook, first_entry_id=1, last_entry_id=1, entry_count=1, body={})
    clients, scopes = {"anonymous": Client(raise_request_exception=False)}, {"anonymous": set()}
    for role, user in users.items():
        clients[role] = Client(raise_request_exception=False)
        clients[role].force_login(user)
        scopes[role] = {"read", "exceptions:write"} | (
            {"sync:write", "config:write", "runs:revert"} if role in ADMIN_ROLES else set()
        )
    for role, wanted in TOKEN_SCOPES.items():
        _, raw = api_token_create(name=f"matrix-{role}", scopes=list(wanted))
        clients[role] = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {raw}")
        scopes[role] = set(wanted)
    # Records of the pages that have no demo rows: a sync batch with a rejected record (its failure
    # and idempotency record), and a login attempt with a wrong password, then the right one.
    response = clients["token_sync"].post(
        "/api/v1/sync/leads/",
        {"records": [{"external_id": "MATRIX-1", "email": "not-an-email"}]},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="matrix-batch-1",
    )
    assert response.status_code == 200, response.content
    # A merge proposal from one of the demo's open duplicate sets.
    from dataquality.merges import merge_propose
    from dataquality.models import DuplicateSet

    merge_propose(dup_set=DuplicateSet.objects.filter(status="open").order_by("pk").first(), actor=users["superuser"])
    UserFactory(username="matrix.login", password="matrix-password-1")
    Client().post("/admin/login/", {"username": "matrix.login", "password": "matrix-password-1"})
    Client().post("/admin/login/", {"username": "matrix.login", "password": "wrong"})
    return World(
        users=users,
        clients=clients,
        scopes=scopes,
        args={"lead": lead, "item": item, "team": rep_record.team},
        sees_item={"rep", "manager_a", "revops_admin", "superuser", *TOKEN_SCOPES},
        sees_records={"rep", "manager_a", "revops_admin", "superuser", *TOKEN_SCOPES},
    )


# --- turning a pattern into a request ------------------------------------------------------------

RECORD_KEYS = {
    "teams": lambda w: w.args["team"].external_id,
    "reps": lambda w: w.args["lead"].owner.external_id,
    "accounts": lambda w: _owned(w, "accounts").external_id,
    "leads": lambda w: w.args["lead"].external_id,
    "contacts": lambda w: _owned(w, "contacts").external_id,
    "opportunities": lambda w: _owned(w, "opportunities").external_id,
    "activities": lambda w: _owned(w, "activities").external_id,
    "tasks": lambda w: str(_owned(w, "tasks").pk),
}


def _owned(world, object_type):
    """The first ``object_type`` record owned by (or, for activities, logged by) the world's rep."""
    rep = world.args["lead"].owner
    found = {
        "accounts": Account.objects.filter(owner=rep),
        "contacts": Contact.objects.filter(account__owner=rep),
        "opportunities": Opportunity.objects.filter(owner=rep),
        "activities": Activity.objects.filter(rep=rep),
        "tasks": Task.objects.filter(owner=rep),
    }[object_type].order_by("pk")
    record = found.first()
    assert record is not None, f"the demo rep {rep} owns no {object_type}: pick another rep"
    return record


RECORD_MODELS = SCOPED_TYPES  # the CRM mirror's admins, scoped like the read API


def _model_instance(app: str, model: str, world):
    if (app, model) == ("revops", "lead"):
        return world.args["lead"]
    if app == "revops" and model in RECORD_MODELS:
        # The rep's own records (their team, themselves): the same the API's detail endpoints name.
        object_type = RECORD_MODELS[model]
        if object_type == "teams":
            return world.args["team"]
        if object_type == "reps":
            return world.args["lead"].owner
        return _owned(world, object_type)
    if (app, model) == ("exceptions", "exceptionitem"):
        return world.args["item"]
    if (app, model) == ("exceptions", "queue"):
        return world.args["item"].queue
    if (app, model) == ("handoffs", "handoff"):
        return Handoff.objects.get(checklist__name="Matrix handoff")
    if (app, model) == ("auth", "user"):
        return world.users["rep"]
    cls = ContentType.objects.get(app_label=app, model=model).model_class()
    instance = cls._default_manager.order_by("pk").first()
    assert instance is not None, f"the matrix needs a {app}.{model}: make the world build one"
    return instance


def _history_path(instance) -> str:
    """``<object id>/history/<version id>/`` of ``instance``'s latest version, else of any of its model's objects."""
    model = type(instance)
    history = instance.history.order_by("-history_id").first() or model.history.order_by("-history_id").first()
    assert history is not None, f"no {model.__name__} has history"
    return f"{getattr(history, model._meta.pk.attname)}/history/{history.history_id}/"


def request_for(world, pattern: Pattern) -> tuple[str, str, dict]:
    """(method, path, data) that exercises ``pattern``."""
    route, name = pattern.route, pattern.name
    path = route
    method, data = "get", {}
    match = MODEL_URL.match(route)
    instance = None
    if match and match["app"] != "django_rq" and ("object_id" in route or "^([^/]+)/history" in route):
        instance = _model_instance(match["app"], match["model"], world)
    replacements = [
        ("dashboard/<str:key>.csv", lambda: "dashboard/sla_met.csv"),
        ("<uidb64>/<token>", lambda: "MA/no-such-token"),
        ("^([^/]+)/history/([^/]+)/$", lambda: _history_path(instance)),
        ("<path:object_id>", lambda: str((instance or world.args["lead"]).pk)),  # view_on_site (and RQ): the lead
        ("<id>", lambda: str(world.users["rep"].pk)),
        ("<path:content_type_id>", lambda: str(ContentType.objects.get_for_model(Lead).pk)),
        ("<str:mode>", lambda: "shadow"),
        ("<str:direction>", lambda: "down"),
        ("<str:answer>", lambda: "accept"),
        ("<int:lead_id>", lambda: str(world.args["lead"].pk)),
        ("<str:action>", lambda: "claim"),
        ("<str:macro>", lambda: "claim"),
        ("<str:item_id>", lambda: str(world.args["item"].pk)),
        ("<str:run_id>", lambda: str(AutomationRun.objects.filter(mode="live").order_by("pk").first().pk)),
        ("<str:handoff_id>", lambda: str(Handoff.objects.get(checklist__name="Matrix handoff").pk)),
        ("<str:object_name>", lambda: "leads"),
        ("<str:automation_id>", lambda: str(Automation.objects.order_by("pk").first().pk)),
        ("<str:rule_id>", lambda: str(RoutingRule.objects.order_by("pk").first().pk)),
        ("<int:queue_index>", lambda: "0"),
        ("<int:number>", lambda: str(ConfigRelease.objects.order_by("number").first().number)),
        ("<int:scheduler_index>", lambda: "0"),
        ("<int:connection_index>", lambda: "0"),
        ("<str:job_id>", lambda: "no-such-job"),
        ("<str:result_id>", lambda: "no-such-result"),
        ("<str:key>", lambda: _route_key(world, name, route)),
        ("<str:scheduler_name>", lambda: "no-such-scheduler"),
        ("<path:cron_job_name>", lambda: "no-such-job"),
        ("^stats.json/(?P<token>[\\w]+)?/?$", lambda: "stats.json/no-such-token/"),
        ("^stats.json/?$", lambda: "stats.json/"),
        ("^(?P<app_label>auth|axes|revops|routing|exceptions|django_rq)/$", lambda: "revops/"),
        ("(?P<app_label>", None),
        ("(?P<url>.*)$", lambda: "no-such-page/"),
    ]
    for needle, value in replacements:
        if needle in path:
            if value is None:
                path = re.sub(r"\^\(\?P<app_label>[^)]*\)/\$", "revops/", path)
                continue
            path = path.replace(needle, value())
    assert "<" not in path and "(?P" not in path and "^" not in path, f"unfilled URL arguments in {path!r}"
    if name.endswith(("_mode", "_move", "_reroute", "_answer")) or route.startswith("api/") and _api_posts(name):
        method = "post"
        bodies = {"api-handoffs": HANDOFF_BODIES, "api-lifecycle": LIFECYCLE_BODIES}.get(
            name.split(":")[0], ACTION_BODIES
        )
        data = bodies.get(name.split(":")[-1], {})
        if name.startswith(("api-automations:", "api-routing:")):
            data = {"reason": "Checked by the matrix.", "held": "skip"}
    return method, "/" + path, data


def _route_key(world, name: str, route: str) -> str:
    if not route.startswith("api/"):
        return "no-such-worker"
    if name.startswith("api-lifecycle:"):
        return world.args["lead"].external_id  # leads/<key>/accept/: the rep's lead
    return _api_key(world, name)


def _api_key(world, name: str) -> str:
    object_type = name.split(":")[1].rsplit("-", 1)[0] + "s"
    object_type = {"opportunitys": "opportunities", "activitys": "activities"}.get(object_type, object_type)
    return RECORD_KEYS[object_type](world)


# Valid bodies, so that an action answers by the caller's rights and not by a 400 for the input.
ACTION_BODIES = {
    "assign": {"owner": "matrix.rep"},
    "resolve": {"reason_code": "fixed_in_crm", "note": "Done."},
    "dismiss": {"reason": "Not a real problem."},
    "snooze": {"until": "2099-01-01T00:00:00Z"},
    "suppress": {"until_change": True, "reason_code": "being_handled"},
    "reject": {"reason": "No."},
    "override": {"params": {"owner": "R1"}},
    "escalate": {"reason": "Needs a decision."},
    "send_back": {"note": "Please check.", "to": "matrix.rep"},
}


HANDOFF_BODIES = {"reject": {"reason_code": "context_vague"}, "attest": {"key": "use_case"}}
LIFECYCLE_BODIES = {"reject": {"reason_code": "other", "note": "Checked by the matrix."}}


def _api_posts(name: str) -> bool:
    if name.startswith(("api-automations:", "api-routing:")):
        return name != "api-automations:paused"
    return (
        name in ("sync", "api-config:plan", "api-config:apply", "api-config:rollback", "api-runs:revert")
        or (name.startswith(("api-exceptions:", "api-handoffs:")) and name.split(":")[1] not in ("list", "detail"))
        or name in ("api-lifecycle:accept", "api-lifecycle:reject")
    )


def outcome(response, pattern: Pattern) -> str:
    status = response.status_code
    if pattern.route in ("", "favicon.ico") and status == 302:
        return ALLOW  # the front door's redirect to the admin, the favicon's to its static file
    if status >= 500:
        return f"server error {status}"
    if status == 401:
        return LOGIN
    if status == 403:
        return REFUSE
    if status == 404:
        return HIDDEN
    if status in (301, 302, 303):
        target = urlparse(response["Location"]).path
        if target.startswith("/admin/login/"):
            return LOGIN
        if target == "/admin/":
            return HIDDEN  # the admin's "… doesn't exist. Perhaps it was deleted?" redirect
    return ALLOW


def agrees(expected_value, got: str) -> bool:
    wanted = expected_value if isinstance(expected_value, tuple) else (expected_value,)
    if REFUSE in wanted and got == HIDDEN:
        return True
    return got in wanted


# --- the tests -----------------------------------------------------------------------------------


def test_every_url_pattern_has_a_rule():
    world = World(users={}, clients={}, scopes={r: set() for r in ROLES}, args={}, sees_item=set(), sees_records=set())
    missing = []
    for pattern in url_patterns():
        try:
            expected(world, "anonymous", pattern)
        except KeyError:
            missing.append(f"{pattern.route}  ({pattern.name or 'unnamed'})")
    assert not missing, "URL patterns with no rule in the authorisation matrix:\n" + "\n".join(missing)


def test_matrix(capsys):
    world = build_world()
    patterns = url_patterns()
    mismatches, cells = [], 0
    for pattern in patterns:
        method, path, data = request_for(world, pattern)
        for role in ROLES:
            want = expected(world, role, pattern)
            client = world.clients[role]
            with transaction.atomic():
                if method == "post":
                    response = client.post(path, data, content_type="application/json")
                else:
                    response = client.get(path)
                transaction.set_rollback(True)
            cells += 1
            got = outcome(response, pattern)
            if not agrees(want, got):
                mismatches.append(
                    f"{role:17} {method.upper():4} {path}: expected {want}, got {got} ({response.status_code}"
                    f"{' ' + response.content[:160].decode(errors='replace') if response.status_code >= 400 else ''})"
                )
    with capsys.disabled():
        print(
            f"\nauthorisation matrix: {len(patterns)} URL patterns x {len(ROLES)} roles = {cells} cells, "
            f"{len(mismatches)} mismatches"
        )
    assert not mismatches, "\n".join(mismatches)
    assert Group.objects.filter(name=roles.ADMIN).exists()
