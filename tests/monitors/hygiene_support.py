"""Helpers of the hygiene tests: a sales team with a manager and a queue, and policy automations."""

from exceptions.models import Queue
from revops.engine.services import automation_create
from tests.factories import AccountFactory, OpportunityFactory, RepFactory, TeamFactory, UserFactory


def sales_team():
    """A team whose manager has a login and whose queue is "Sales ops"; returns (team, manager user, rep)."""
    manager_user = UserFactory(username="sales.manager")
    team = TeamFactory(name="NA Sales")
    manager = RepFactory(team=team, user=manager_user, name="Morgan Manager")
    team.manager = manager
    team.save()
    Queue.objects.create(name="Sales ops", team=team, manager=manager_user)
    rep = RepFactory(team=team, name="Riley Rep")
    return team, manager_user, rep


def deal(rep, **fields):
    return OpportunityFactory(account=AccountFactory(owner=rep), owner=rep, **fields)


def hygiene_policy(policy: str, *, mode="live", name=None, conditions=None, **thresholds):
    owner = UserFactory(username="revops.owner")
    Queue.objects.get_or_create(name="RevOps triage")
    return automation_create(
        actor=owner,
        name=name or f"Hygiene: {policy}",
        purpose="test",
        kind="forecast_hygiene",
        object_type="opportunity",
        trigger="field_changed",
        trigger_fields=["close_date"],
        conditions=conditions or {"all": []},
        config={"policy": policy, **thresholds},
        mode=mode,
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps triage",
    )
