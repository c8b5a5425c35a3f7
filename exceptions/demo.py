"""The demo's morning queue: what a sales-ops manager finds in the exception queue at 9 a.m.

``demo_exception_queue_ensure()`` is called at the end of ``revops.demo.demo_load`` and is
idempotent. It adds, on top of the demo org:

* two managers, ``manager.na`` and ``manager.emea`` (group "Manager"), linked through ``Rep.user``
  to the reps who manage the "NA Sales" and "EMEA Sales" teams;
* three queues: "NA Sales ops" and "EMEA Sales ops" (one per region team, its manager, escalating
  to the RevOps lead) and "RevOps triage" (the default queue, RevOps lead → RevOps on-call);
* a few dozen open items of several kinds about real demo records — no routing match, ambiguous
  account match, missing data, sync rejected, automation failed, SLA breach, handoff incomplete,
  hygiene alerts, duplicates — some overdue, some unassigned;
* approvals prepared by the engine itself: a high-risk "stale commit → best case" automation per
  region is run on a few of that region's stale commit deals, so each approval has a real run,
  explanation and proposal that "Approve" applies.

Items are opened through ``exceptions.services.exception_item_open`` and attributed to the
``demo-loader`` user. If any demo item (``dedupe_key`` starting with ``demo:``) exists, no item
is opened again.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from revops.audit import audited, system_user

from .models import ExceptionItem, Queue

DEMO_MANAGERS = {
    # username: (first, last, team name managed by the linked rep, queue)
    "manager.na": ("Nora", "Adams", "NA Sales", "NA Sales ops"),
    "manager.emea": ("Emil", "Meyer", "EMEA Sales", "EMEA Sales ops"),
}
QUEUES = {
    "NA Sales ops": "Routing, data and handoff problems of the North American sales teams.",
    "EMEA Sales ops": "Routing, data and handoff problems of the EMEA sales teams.",
    "RevOps triage": "Anything no team queue takes: failed automations, sync rejections, rule reviews.",
}
REGION_OF_QUEUE = {"NA Sales ops": "NA", "EMEA Sales ops": "EMEA"}
STALE_COMMIT_SPEC_NAME = "Downgrade stale commit deals"
K = ExceptionItem.Kind


def _user(username: str, first: str, last: str, email: str):
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"first_name": first, "last_name": last, "email": email, "is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def demo_managers_ensure(*, actor) -> dict[str, object]:
    """The demo managers, in the "Manager" group and linked to the reps who manage their teams."""
    from revops import services as record_services
    from revops.models import Team

    from . import roles

    roles.ensure_roles()
    managers = {}
    for username, (first, last, team_name, _queue) in DEMO_MANAGERS.items():
        user = _user(username, first, last, f"{username}@example.com")
        roles.assign_role(user, roles.MANAGER)
        team = Team.objects.filter(name=team_name).select_related("manager").first()
        rep = team.manager if team is not None else None
        if rep is not None and rep.user_id is None and not hasattr(user, "rep"):
            rep.user = user
            record_services.record_save(instance=rep, actor=actor, reason="demo data")  # one reason for every demo row
        managers[username] = user
    return managers


def demo_queues_ensure(*, actor, managers) -> dict[str, Queue]:
    """The three demo queues (created or completed, never duplicated)."""
    from revops.models import Team

    lead = get_user_model().objects.filter(username="revops.lead").first()
    oncall = get_user_model().objects.filter(username="revops.oncall").first()
    queues = {}
    with audited(actor=actor, reason="demo data: queues"):
        for name, description in QUEUES.items():
            queue = Queue.objects.filter(name=name).first() or Queue(name=name, description=description)
            before = (queue.pk, queue.manager_id, queue.escalation_target_id, queue.team_id, queue.is_default)
            if name == "RevOps triage":
                queue.manager = queue.manager or lead
                queue.escalation_target = queue.escalation_target or oncall
                if not Queue.objects.filter(is_default=True).exclude(pk=queue.pk).exists():
                    queue.is_default = True
            else:
                username = next(u for u, spec in DEMO_MANAGERS.items() if spec[3] == name)
                team_name = DEMO_MANAGERS[username][2]
                queue.team = queue.team or Team.objects.filter(name=team_name).first()
                queue.manager = queue.manager or managers[username]
                queue.escalation_target = queue.escalation_target or lead
            if (queue.pk, queue.manager_id, queue.escalation_target_id, queue.team_id, queue.is_default) != before:
                queue.full_clean()
                queue.save()  # only when new or completed: a second load writes no history
            queues[name] = queue
    return queues


def _records(region: str):
    """Demo records of a region to write items about (deterministic: ordered by external id)."""
    from revops.models import Account, Lead, Opportunity

    countries = {"NA": ["US", "CA"], "EMEA": ["GB", "DE", "FR", "NL", "SE", "ES", "IE", "CH"]}[region]
    leads = list(Lead.objects.filter(country__in=countries).order_by("external_id")[:40])
    accounts = list(Account.objects.filter(country__in=countries).order_by("external_id")[:20])
    opportunities = list(
        Opportunity.objects.filter(account__country__in=countries)
        .select_related("account")
        .order_by("external_id")[:40]
    )
    return leads, accounts, opportunities


def _item_specs(region: str, queue: Queue, now: dt.datetime) -> list[dict]:
    """A region's morning: about a dozen items of several kinds, a third of them overdue."""
    leads, accounts, opportunities = _records(region)
    if len(leads) < 12 or len(accounts) < 4 or len(opportunities) < 6:
        return []
    h = dt.timedelta(hours=1)
    specs = []

    def add(kind, severity, record, title, reason, expected, *, due, age, obj_type, proposal=None):
        specs.append(
            {
                "kind": kind,
                "severity": severity,
                "title": title,
                "reason": reason,
                "expected_action": expected,
                "object_type": obj_type,
                "object_id": record.pk,
                "external_id": record.external_id,
                "due_at": now + due,
                "age": age,
                "dedupe_key": f"demo:{region}:{kind}:{obj_type}:{record.external_id}",
                "queue": queue,
            }
        )

    def lead_name(lead):
        return f"{lead.first_name} {lead.last_name} ({lead.company or lead.email})"

    for lead in leads[0:3]:
        add(
            K.NO_ROUTING_MATCH,
            "high",
            lead,
            f"No routing rule matched {lead_name(lead)}",
            f"Lead {lead.external_id} from {lead.country or 'an unknown country'}"
            f"{', ' + lead.state if lead.state else ''} with score {lead.score} matched none of the "
            f"{region} routing rules (segment unknown: no employee count, no matched account).",
            "Pick the owner by hand (Assign) or add the missing company size so routing can run again.",
            due=-3 * h,
            age=dt.timedelta(hours=9),
            obj_type="lead",
        )
    for lead, (a, b) in zip(leads[3:5], [(accounts[0], accounts[1]), (accounts[2], accounts[3])], strict=False):
        add(
            K.ACCOUNT_MATCH,
            "medium",
            lead,
            f"Ambiguous account match for {lead_name(lead)}",
            f"The lead's company “{lead.company}” matches two accounts equally well: {a.name} ({a.external_id}, "
            f"{a.domain}) and {b.name} ({b.external_id}, {b.domain}); the email domain decides neither.",
            f"Link the lead to the right account ({a.external_id} or {b.external_id}); routing follows the account owner.",
            due=5 * h,
            age=dt.timedelta(hours=20),
            obj_type="lead",
        )
    for lead in leads[5:8]:
        add(
            K.MISSING_DATA,
            "medium",
            lead,
            f"Missing required data on {lead_name(lead)}",
            f"Lead {lead.external_id} has no job title and no phone; the data dictionary requires both for "
            "status “working” (required-field prompt, failed twice).",
            "Ask the owner to complete title and phone in the CRM, or mark the lead unqualified.",
            due=(-26 * h if lead is leads[5] else 30 * h),
            age=dt.timedelta(days=2, hours=3),
            obj_type="lead",
        )
    add(
        K.SYNC_REJECTED,
        "high",
        leads[8],
        f"CRM update rejected for {leads[8].external_id}",
        f"POST /api/v1/sync/leads/ rejected record {leads[8].external_id}: email “{leads[8].email.split('@')[0]}@” is "
        "not a valid email address; the CRM keeps retrying the same value.",
        "Fix the email in the CRM; the next sync will be accepted.",
        due=-1 * h,
        age=dt.timedelta(hours=5),
        obj_type="lead",
    )
    for lead in leads[9:11]:
        add(
            K.SLA_BREACH,
            "critical",
            lead,
            f"Response SLA breached: {lead_name(lead)}",
            f"Hot lead {lead.external_id} (score {lead.score}) was assigned 3 h 40 min ago; the {region} inbound policy "
            "expects a first touch within 2 hours and no call, email or meeting is logged.",
            "Call the lead now, or reassign it to an available rep.",
            due=-(100 if lead is leads[9] else 20) * dt.timedelta(minutes=1),
            age=dt.timedelta(hours=4),
            obj_type="lead",
        )
    add(
        K.DUPLICATE,
        "low",
        leads[11],
        f"Possible duplicate: {lead_name(leads[11])}",
        f"Lead {leads[11].external_id} has the same normalized email domain and last name as an open lead created "
        "yesterday; merging needs a human (high-impact action).",
        "Compare both leads and merge them in the CRM, or dismiss if they are different people.",
        due=4 * 24 * h,
        age=dt.timedelta(days=1),
        obj_type="lead",
    )
    for opp in opportunities[0:2]:
        add(
            K.HANDOFF_INCOMPLETE,
            "high",
            opp,
            f"Closed-won handoff incomplete: {opp.name}",
            f"{opp.name} ({opp.external_id}) moved to closed won but lacks billing contact and executive sponsor; "
            "onboarding cannot accept the handoff without them.",
            "Add the billing contact and executive sponsor to the opportunity; the checklist re-runs on save.",
            due=(-5 * h if opp is opportunities[0] else 18 * h),
            age=dt.timedelta(days=1, hours=2),
            obj_type="opportunity",
        )
    for opp in opportunities[2:4]:
        add(
            K.HYGIENE,
            "medium",
            opp,
            f"Close date in the past: {opp.name}",
            f"{opp.name} ({opp.external_id}) is open in stage “{opp.stage}” with close date {opp.close_date}; "
            "forecast hygiene requires a future close date on open deals.",
            "Ask the owner to update the close date or close the deal lost.",
            due=2 * 24 * h,
            age=dt.timedelta(days=3),
            obj_type="opportunity",
        )
    return specs


def _revops_specs(queue: Queue, now: dt.datetime) -> list[dict]:
    """The RevOps triage queue: failed automations and sync problems."""
    from revops.models import Automation, Lead

    specs = []
    automations = list(Automation.objects.order_by("name")[:3])
    leads = list(Lead.objects.order_by("-external_id")[:4])
    for index, automation in enumerate(automations):
        lead = leads[index] if index < len(leads) else None
        specs.append(
            {
                "kind": K.AUTOMATION_FAILED,
                "severity": "high" if index == 0 else "medium",
                "title": f"“{automation.name}” failed after 5 attempts",
                "reason": f"The automation raised OperationalError (lock timeout on revops_task) on "
                f"{lead.external_id if lead else 'a record'} five times; the run is parked.",
                "expected_action": "Look at the run's error, fix the cause and retry the run (or pause the automation).",
                "automation": automation,
                "object_type": "lead" if lead else "",
                "object_id": lead.pk if lead else None,
                "external_id": lead.external_id if lead else "",
                "due_at": now + dt.timedelta(hours=(-2 if index == 0 else 6)),
                "age": dt.timedelta(hours=7),
                "dedupe_key": f"demo:revops:automation_failed:{automation.pk}",
                "queue": queue,
            }
        )
    if len(leads) > 3:
        specs.append(
            {
                "kind": K.SYNC_REJECTED,
                "severity": "medium",
                "title": f"CRM update rejected for {leads[3].external_id}",
                "reason": "The CRM sent country “Untied States”, which is not an ISO country code (dictionary: "
                "lead.country, type choice).",
                "expected_action": "Fix the value in the CRM or add a mapping in the sync settings.",
                "object_type": "lead",
                "object_id": leads[3].pk,
                "external_id": leads[3].external_id,
                "due_at": now + dt.timedelta(hours=20),
                "age": dt.timedelta(hours=3),
                "dedupe_key": f"demo:revops:sync_rejected:{leads[3].external_id}",
                "queue": queue,
            }
        )
    return specs


def _approvals(*, actor, region: str, queue: Queue, now: dt.datetime, limit: int = 3) -> int:
    """Run a region's high-risk forecast automation on its stale commit deals: real approvals."""
    from revops.automations import automation_create
    from revops.demo import DEMO_FAILURE_OWNER, DEMO_RULE_OWNER, demo_automation_specs
    from revops.engine.pipeline import active_rules, run_rule
    from revops.models import Automation, Opportunity

    name = f"{STALE_COMMIT_SPEC_NAME} ({region})"
    automation = Automation.objects.filter(name=name).first()
    if automation is None:
        spec = next((s for s in demo_automation_specs() if s["name"] == STALE_COMMIT_SPEC_NAME), None)
        if spec is None:
            return 0
        users = get_user_model().objects.in_bulk([DEMO_RULE_OWNER[0], DEMO_FAILURE_OWNER[0]], field_name="username")
        automation = automation_create(
            actor=actor,
            reason="demo automation",
            **{**spec, "name": name, "purpose": spec["purpose"] + f" {region} deals; approvals go to {queue.name}."},
            rule_owner=users.get(DEMO_RULE_OWNER[0]),
            system_owner=users.get(DEMO_RULE_OWNER[0]),
            failure_owner=users.get(DEMO_FAILURE_OWNER[0]),
            exception_queue=queue.name,
            last_reviewed_at=timezone.localdate(),
        )
    rules = active_rules(["opportunity"], automation_ids=[automation.pk]).get("opportunity", [])
    if not rules:
        return 0
    countries = {"NA": ["US", "CA"], "EMEA": ["GB", "DE", "FR", "NL", "SE", "ES", "IE", "CH"]}[region]
    stale = Opportunity.objects.filter(
        account__country__in=countries,
        forecast_category="commit",
        last_activity_at__lt=now - dt.timedelta(days=30),
    ).order_by("external_id")[:limit]
    count = 0
    for opportunity in stale:
        _status, _run = run_rule(rules[0], opportunity, trigger_key=f"demo:morning:{opportunity.pk}", now=now)
        count += 1
    return count


@transaction.atomic
def demo_exception_queue_ensure(*, actor=None, now: dt.datetime | None = None) -> dict[str, int]:
    """Managers, queues and the morning's items (idempotent); returns counts of what was created."""
    from . import services

    now = now or timezone.now()
    actor = actor or system_user("demo-loader", first_name="Demo loader")
    managers = demo_managers_ensure(actor=actor)
    queues = demo_queues_ensure(actor=actor, managers=managers)
    if ExceptionItem.objects.filter(dedupe_key__startswith="demo:").exists():
        return {"items": 0, "approvals": 0}
    specs = _item_specs("NA", queues["NA Sales ops"], now)
    specs += _item_specs("EMEA", queues["EMEA Sales ops"], now)
    specs += _revops_specs(queues["RevOps triage"], now)
    created = 0
    for spec in specs:
        spec = dict(spec)
        age = spec.pop("age")
        item, was_created = services.exception_item_open(actor=actor, **spec)
        # Demo only: the items arrived over the last days, not all at the moment of loading.
        ExceptionItem.objects.filter(pk=item.pk).update(first_seen_at=now - age, last_seen_at=now - age / 3)
        created += int(was_created)
    approvals = 0
    for region, queue_name in (("NA", "NA Sales ops"), ("EMEA", "EMEA Sales ops")):
        approvals += _approvals(actor=actor, region=region, queue=queues[queue_name], now=now)
    return {"items": created, "approvals": approvals}
