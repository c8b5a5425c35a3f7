"""Exception queues as configuration: the write services, references by name that must exist, what
refuses a rename or a delete, and the ``queues`` section of configuration as code."""

import pytest
import yaml
from django.core.exceptions import ValidationError

from exceptions.models import Queue
from exceptions.queues import queue_delete, queue_require, queue_save
from revops.configuration import config_apply, config_export_text, config_plan
from revops.engine.services import automation_create
from routing.models import RoutingRule
from tests.factories import TeamFactory, UserFactory

from .support import open_item

pytestmark = pytest.mark.django_db


def follow_up(queue_name: str, **fields):
    owner = UserFactory(username="rule.owner")
    return automation_create(
        actor=owner,
        name="Hot lead follow-up",
        purpose="Hot new leads get a call.",
        kind="create_task",
        object_type="lead",
        conditions={"all": []},
        config={"title": "Call the lead", "due_in_hours": 2},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue=queue_name,
        **fields,
    )


def test_an_automation_must_name_an_existing_queue():
    Queue.objects.create(name="RevOps triage")
    with pytest.raises(ValidationError) as refused:
        follow_up("RevOps triag")
    message = refused.value.message_dict["exception_queue"][0]
    assert "no exception queue named 'RevOps triag'" in message and "'RevOps triage'" in message
    assert follow_up("  RevOps triage ").exception_queue == "RevOps triage"


def test_a_routing_rule_and_fallback_must_name_an_existing_queue():
    from routing.services import routing_rule_save

    rule = RoutingRule(name="Strategic review", priority=10, target_type="queue", target_queue="Strategic")
    with pytest.raises(ValidationError) as refused:
        routing_rule_save(rule=rule, actor=None)
    assert "no exception queue named 'Strategic'" in str(refused.value)
    owner = UserFactory(username="revops.lead")
    Queue.objects.create(name="RevOps")
    with pytest.raises(ValidationError) as refused:
        automation_create(
            actor=owner,
            name="Lead routing",
            purpose="Route leads.",
            kind="lead_routing",
            object_type="lead",
            config={"fallback": {"type": "queue", "queue": "Unroutd"}},
            exception_queue="RevOps",
        )
    assert "fallback.queue: There is no exception queue named 'Unroutd'" in str(refused.value)


def test_save_validates_keeps_one_default_and_refuses_a_rename_while_named():
    manager = UserFactory(username="nora", is_staff=True)
    first = queue_save(queue=Queue(name=" NA Sales ops ", manager=manager, is_default=True), actor=manager)
    assert first.name == "NA Sales ops" and first.history.first().history_user == manager
    second = queue_save(queue=Queue(name="RevOps triage", is_default=True), actor=manager)
    first.refresh_from_db()
    assert second.is_default and not first.is_default
    with pytest.raises(ValidationError) as refused:
        queue_save(queue=Queue(name="Loop", manager=manager, escalation_target=manager), actor=manager)
    assert "someone other than the queue's manager" in str(refused.value)
    with pytest.raises(ValidationError) as refused:  # escalations must reach a person who can act
        queue_save(queue=Queue(name="Bots", manager=UserFactory(username="integration:crm")), actor=manager)
    assert "integration:crm cannot work items" in str(refused.value)

    follow_up("NA Sales ops")
    first.name = "NA ops"
    with pytest.raises(ValidationError) as refused:
        queue_save(queue=first, actor=manager)
    assert "still named by automation 'Hot lead follow-up' (its exception path)" in str(refused.value)


def test_delete_refuses_a_queue_in_use_and_deletes_an_unused_one():
    used = Queue.objects.create(name="Used")
    open_item(queue=used)
    with pytest.raises(ValidationError) as refused:
        queue_delete(queue=used, actor=None)
    assert "1 exception item(s)" in str(refused.value)
    unused = Queue.objects.create(name="Unused")
    queue_delete(queue=unused, actor=None)
    assert not Queue.objects.filter(name="Unused").exists()
    with pytest.raises(ValidationError):
        queue_require("Unused")


def test_the_queues_section_round_trips_and_one_file_adds_a_queue_and_its_users():
    team = TeamFactory(external_id="T-NA", name="NA Sales")
    UserFactory(username="nora", is_staff=True)
    UserFactory(username="riley", is_staff=True)
    UserFactory(username="rule.owner")
    document = {
        "version": 1,
        "queues": [
            {
                "name": "NA Sales ops",
                "team": "T-NA",
                "manager": "nora",
                "escalation_target": "riley",
                "due_hours_high": 8,
            }
        ],
        "automations": [
            {
                "name": "Hot lead follow-up",
                "purpose": "Hot new leads get a call.",
                "kind": "create_task",
                "object_type": "lead",
                "config": {"title": "Call the lead", "due_in_hours": 2},
                "rule_owner": "rule.owner",
                "failure_owner": "rule.owner",
                "exception_queue": "NA Sales ops",
                "mode": "live",
            }
        ],
    }
    plan = config_apply(document=document)
    assert plan.applied, plan.render()
    queue = Queue.objects.get(name="NA Sales ops")
    assert (queue.team, queue.manager.username, queue.escalation_target.username) == (team, "nora", "riley")
    assert queue.due_hours_high == 8
    exported = yaml.safe_load(config_export_text())
    assert exported["queues"] == [
        {
            "name": "NA Sales ops",
            "team": "T-NA",
            "manager": "nora",
            "escalation_target": "riley",
            "due_hours_critical": 4,
            "due_hours_high": 8,
            "due_hours_medium": 72,
            "due_hours_low": 168,
        }
    ]
    assert config_plan(document=document).changes == []

    typo = {**document, "automations": [{**document["automations"][0], "exception_queue": "NA Sales op"}]}
    problems = [(p.field, p.message) for p in config_plan(document=typo).problems]
    assert any(field == "exception_queue" and "no exception queue named 'NA Sales op'" in m for field, m in problems)

    pruned = config_plan(document={"version": 1, "prune": ["queues"], "queues": []})
    assert any("still used by automation 'Hot lead follow-up'" in p.message for p in pruned.problems)


# --- the admin ---------------------------------------------------------------------------------------


def test_the_queue_admin_lists_counts_shows_members_and_users_and_writes_through_the_service(admin_client):
    from django.urls import reverse

    from tests.factories import RepFactory

    team = TeamFactory(name="NA Sales")
    nora = UserFactory(username="nora", is_staff=True)
    RepFactory(team=team, name="Ana Ruiz", user=UserFactory(username="ana"))
    queue = Queue.objects.create(name="NA Sales ops", team=team, manager=nora)
    open_item(queue=queue)
    follow_up("NA Sales ops")

    listing = admin_client.get(reverse("admin:exceptions_queue_changelist")).content.decode()
    assert "NA Sales ops" in listing and "owner → nora → —" in listing
    page = admin_client.get(reverse("admin:exceptions_queue_change", args=[queue.pk])).content.decode()
    assert "Ana Ruiz (ana)" in page and "automation &#x27;Hot lead follow-up&#x27; (its exception path)" in page

    form = {
        "name": "NA ops",
        "description": "",
        "team": team.pk,
        "manager": nora.pk,
        "escalation_target": nora.pk,
        "due_hours_critical": 4,
        "due_hours_high": 24,
        "due_hours_medium": 72,
        "due_hours_low": 168,
    }
    refused = admin_client.post(reverse("admin:exceptions_queue_change", args=[queue.pk]), form).content.decode()
    assert "is still named by automation" in refused
    queue.refresh_from_db()
    assert queue.name == "NA Sales ops"

    form.update(name="NA Sales ops", escalation_target="", due_hours_high=8)
    saved = admin_client.post(reverse("admin:exceptions_queue_change", args=[queue.pk]), form)
    assert saved.status_code == 302
    queue.refresh_from_db()
    assert queue.due_hours_high == 8 and queue.history.first().history_change_reason.startswith("admin")

    deleting = admin_client.get(reverse("admin:exceptions_queue_delete", args=[queue.pk]), follow=True)
    assert "cannot be deleted" in deleting.content.decode() and Queue.objects.filter(pk=queue.pk).exists()


def test_a_manager_reads_their_teams_queues_and_runs_the_escalation_of_those_they_manage(client):
    from django.urls import reverse

    from exceptions import roles
    from tests.factories import RepFactory, TeamFactory

    roles.ensure_roles()
    manager = UserFactory(username="nora.manager")
    roles.assign_role(manager, roles.MANAGER)
    team = TeamFactory(name="NA Sales")
    team.manager = RepFactory(team=team, user=manager)
    team.save()
    client.force_login(manager)
    queue = Queue.objects.create(name="NA Sales ops", manager=manager, team=team)
    theirs = Queue.objects.create(name="NA partner desk", team=team, manager=UserFactory(username="pat"))
    Queue.objects.create(name="EMEA Sales ops")
    listing = client.get(reverse("admin:exceptions_queue_changelist")).content.decode()
    assert "NA Sales ops" in listing and "NA partner desk" in listing
    assert "EMEA Sales ops" not in listing  # another team's queue stays hidden
    # A queue of their team that someone else manages: read only.
    page = client.get(reverse("admin:exceptions_queue_change", args=[theirs.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    refused = client.post(reverse("admin:exceptions_queue_change", args=[theirs.pk]), {"name": "Mine now"})
    assert refused.status_code == 403
    # The queue they manage: its escalation is theirs to run, its name and team stay RevOps'.
    page = client.get(reverse("admin:exceptions_queue_change", args=[queue.pk])).content.decode()
    assert 'name="_save"' in page and 'name="name"' not in page and 'name="due_hours_high"' in page
    form = {
        "name": "Mine now",
        "due_hours_critical": 2,
        "due_hours_high": 12,
        "due_hours_medium": 48,
        "due_hours_low": 96,
    }
    assert client.post(reverse("admin:exceptions_queue_change", args=[queue.pk]), form).status_code == 302
    queue.refresh_from_db()
    assert (queue.name, queue.due_hours_high) == ("NA Sales ops", 12)
    assert Queue.objects.get(pk=theirs.pk).name == "NA partner desk"


def test_a_file_without_a_queues_section_still_applies_and_creates_the_queues_it_names():
    """Files exported before queues were configuration name queues only in their automations and rules."""
    UserFactory(username="rule.owner")
    existing = Queue.objects.create(name="RevOps triage", due_hours_high=6)
    automation = {
        "name": "Hot lead follow-up",
        "purpose": "Hot new leads get a call.",
        "kind": "create_task",
        "object_type": "lead",
        "config": {"title": "Call the lead", "due_in_hours": 2},
        "rule_owner": "rule.owner",
        "failure_owner": "rule.owner",
        "exception_queue": "Lead routing",
        "mode": "live",
    }
    other = {**automation, "name": "Other", "exception_queue": "RevOps triage"}
    document = {"version": 1, "prune": True, "automations": [automation, other]}
    plan = config_apply(document=document)
    assert plan.applied, plan.render()
    created = [(c.section, c.action, c.key) for c in plan.changes if c.section == "queues"]
    assert created == [("queues", "create", "'Lead routing'")]
    assert "named in the file, which has no queues section" in plan.changes[0].location
    existing.refresh_from_db()
    assert existing.due_hours_high == 6 and Queue.objects.count() == 2
    assert config_plan(document=document).changes == []


def test_an_old_automation_whose_path_names_no_queue_can_still_be_paused():
    from exceptions.models import Queue as QueueModel
    from revops.engine.services import automation_set_mode
    from revops.models import Automation

    QueueModel.objects.create(name="Gone soon")
    automation = follow_up("Gone soon", mode="live")
    Automation.objects.filter(pk=automation.pk).update(exception_queue="Renamed away")  # data from before
    automation.refresh_from_db()
    assert automation_set_mode(automation=automation, mode="paused", actor=None).mode == "paused"
    with pytest.raises(ValidationError) as refused:
        automation_set_mode(automation=automation, mode="live", actor=None)
    assert "no exception queue named 'Renamed away'" in str(refused.value)
