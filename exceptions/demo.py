"""The queue's part of the demo: the managers who triage and the queues their items land in.

``exceptions_demo_build`` (registered in ``exceptions.apps``) is idempotent; it adds to the demo org:

* two managers, ``manager.na`` and ``manager.emea`` (group "Manager"), linked through ``Rep.user``
  to the reps who manage the "NA Sales" and "EMEA Sales" teams;
* the queues: "NA Sales ops" and "EMEA Sales ops" (one per region team, its manager, escalating
  to the RevOps lead), "RevOps triage" (the default queue, RevOps lead → RevOps on-call) and
  "Strategic review" (where routing sends strategic prospects for a director to choose the owner).

It opens no item. The demo's items come from the code that opens them in production: routing
the leads as they arrived, the SLA tick, the sync refusing CRM records, and the automations
reacting to the CRM's morning changes (approvals prepared by the high-risk forecast rule).
"""

from __future__ import annotations

from revops import services as record_services
from revops.demo_records.builders import demo_revops_people, demo_user_ensure
from revops.demo_records.tables import REASON
from revops.models import Team

from . import roles
from .models import Queue
from .queues import queue_save

DEMO_MANAGERS = {
    # username: (first, last, team name managed by the linked rep, queue)
    "manager.na": ("Nora", "Adams", "NA Sales", "NA Sales ops"),
    "manager.emea": ("Emil", "Meyer", "EMEA Sales", "EMEA Sales ops"),
}
REVOPS_QUEUE = "RevOps triage"
STRATEGIC_QUEUE = "Strategic review"
QUEUES = {
    "NA Sales ops": "Routing, data and handoff problems of the North American sales teams.",
    "EMEA Sales ops": "Routing, data and handoff problems of the EMEA sales teams.",
    REVOPS_QUEUE: "Anything no team queue takes: failed automations, sync rejections, rule reviews.",
    STRATEGIC_QUEUE: "Strategic prospects waiting for a director to choose the owner.",
}


def demo_managers_ensure(*, actor) -> dict[str, object]:
    """The demo managers, in the "Manager" group and linked to the reps who manage their teams."""
    roles.ensure_roles()
    managers = {}
    for username, (first, last, team_name, _queue) in DEMO_MANAGERS.items():
        user = demo_user_ensure(username, first, last, f"{username}@example.com")
        roles.assign_role(user, roles.MANAGER)
        team = Team.objects.filter(name=team_name).select_related("manager").first()
        rep = team.manager if team is not None else None
        if rep is not None and rep.user_id is None and not hasattr(user, "rep"):
            rep.user = user
            record_services.record_save(instance=rep, actor=actor, reason=REASON)  # one reason for every demo row
        managers[username] = user
    return managers


def demo_queues_ensure(*, actor, managers) -> dict[str, Queue]:
    """The demo queues, created or completed through ``queue_save`` (never duplicated, never overwritten)."""
    lead, oncall = demo_revops_people()
    queues = {}
    for name, description in QUEUES.items():
        queue = Queue.objects.filter(name=name).first() or Queue(name=name, description=description)
        before = (queue.pk, queue.manager_id, queue.escalation_target_id, queue.team_id, queue.is_default)
        if name == REVOPS_QUEUE:
            queue.manager = queue.manager or lead
            queue.escalation_target = queue.escalation_target or oncall
            if not Queue.objects.filter(is_default=True).exclude(pk=queue.pk).exists():
                queue.is_default = True
        elif name == STRATEGIC_QUEUE:
            queue.manager = queue.manager or lead
            if queue.pk is None:
                queue.due_hours_medium = 24  # a strategic prospect waits a day at most
        else:
            username = next(u for u, spec in DEMO_MANAGERS.items() if spec[3] == name)
            team_name = DEMO_MANAGERS[username][2]
            queue.team = queue.team or Team.objects.filter(name=team_name).first()
            queue.manager = queue.manager or managers[username]
            queue.escalation_target = queue.escalation_target or lead
        if (queue.pk, queue.manager_id, queue.escalation_target_id, queue.team_id, queue.is_default) != before:
            queue_save(queue=queue, actor=actor, reason="demo data: queues")  # a second load writes no history
        queues[name] = queue
    return queues


def demo_queues_ready(*, actor) -> dict[str, Queue]:
    """The demo managers and queues, created or completed (idempotent); the queues by name."""
    return demo_queues_ensure(actor=actor, managers=demo_managers_ensure(actor=actor))


def exceptions_demo_build(context: dict) -> None:
    """Demo builder: the managers and the queues (items come from the later builders' real work)."""
    demo_queues_ready(actor=context["actor"])
