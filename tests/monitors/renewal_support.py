"""Helpers of the renewal-monitor tests: the demo's account fields in the dictionary, a sales team with a
manager and a queue, renewal policy automations, and a CRM that syncs account changes at given times
(through the sync API, processed by the outbox consumer, so the event hook records them)."""

import datetime as dt

from django.utils import timezone

from exceptions.models import ExceptionItem, Queue
from revops.demo_records.tables import DEMO_CUSTOM_FIELDS
from revops.engine.services import automation_create
from revops.models import FieldDefinition, OutboxEvent
from revops.outbox import outbox_process_events
from tests.crm_sync import sync_poster
from tests.factories import RepFactory, TeamFactory, UserFactory


def account_fields():
    """The demo's custom account fields (ARR, renewal date, health, usage, sponsor…) in the dictionary."""
    for spec in DEMO_CUSTOM_FIELDS:
        if spec["object_type"] == "account":
            FieldDefinition.objects.get_or_create(
                object_type="account", key=spec["key"], defaults={k: v for k, v in spec.items() if k != "key"}
            )


def team(segment="MM", *, name="NA Sales", manager="sales.manager"):
    """A team whose manager has a login and whose queue is "<name> ops"; returns (team, manager user, rep)."""
    manager_user = UserFactory(username=manager)
    sales = TeamFactory(name=name, segment=segment)
    boss = RepFactory(team=sales, user=manager_user, name=f"{name} Manager", external_id=f"R-{manager}")
    sales.manager = boss
    sales.save()
    Queue.objects.create(name=f"{name} ops", team=sales, manager=manager_user)
    rep = RepFactory(team=sales, name=f"{name} Rep", manager=boss, external_id=f"R-{name.replace(' ', '-')}-rep")
    return sales, manager_user, rep


def renewal_policy(policy: str, *, mode="live", name=None, conditions=None, **thresholds):
    owner = UserFactory(username="revops.owner")
    Queue.objects.get_or_create(name="RevOps triage")
    return automation_create(
        actor=owner,
        name=name or f"Renewal: {policy}",
        purpose="test",
        kind="renewal_monitor",
        object_type="account",
        trigger="field_changed",
        trigger_fields=["renewal_date"],
        conditions=conditions or {"all": []},
        config={"policy": policy, **thresholds},
        mode=mode,
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps triage",
    )


def ago(days: float) -> str:
    return (timezone.now() - dt.timedelta(days=days)).isoformat()


def in_days(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


class Crm:
    """Syncs accounts as a CRM would, then lets the outbox consumer (and so the event hooks) process them."""

    def __init__(self, client):
        self.post = sync_poster(client, "accounts")

    def account(self, external_id: str, at: str, **fields) -> str:
        status = self.post({"external_id": external_id, "source_updated_at": at, **fields})[0]["status"]
        pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).values_list("id", flat=True)
        outbox_process_events(event_ids=list(pending))
        return status


def customer(owner, **attributes):
    """The fields of a new customer account owned by ``owner`` (a rep), for ``Crm.account``."""
    return {
        "name": "Acme Corp",
        "customer_status": "customer",
        "owner": owner.external_id,
        "employees": 300,
        **attributes,
    }


def risk_item(account):
    return ExceptionItem.objects.filter(dedupe_key=f"renewal_risk:account:{account.pk}").order_by("-pk").first()
