"""The demo's handoffs, made by the real services from the demo org.

*Sales → Onboarding*, for deals won in the last 45 days (older won deals were handed over before
the portal), and *CS → Renewal*, which starts 90 days before a customer account's renewal date.
The won deals are evaluated as the portal would have when each closed (the services take the
clock), so some have waited for context for days, with overdue items for the owners' managers,
and the complete ones were sent to the NA Customer Success manager. That manager's answers go
through the same services the handoff page calls: the older handoffs accepted within a day, one
sent back with a reason, one left unanswered past its acceptance SLA (the acceptance check raises
it). The same manager confirms the risk review of the renewals whose account data is complete,
which sends them to their owners. The CRM's morning sync, which runs after this builder, brings
more won deals (complete and incomplete).
"""

from __future__ import annotations

import datetime as dt

from exceptions import roles
from revops.demo_records.builders import demo_user_ensure
from revops.models import Opportunity, Rep, Team
from revops.services import record_save

from .attestations import handoff_attest
from .models import Checklist, Handoff
from .renewals import renewals_evaluate
from .services import (
    checklist_save,
    handoff_accept,
    handoff_reject,
    handoffs_acceptance_tick,
    handoffs_evaluate,
)

ONBOARDING = "Sales → Onboarding"
RENEWAL = "CS → Renewal"
RECEIVER_USERNAME = "cs.na"


def demo_checklist_ensure(*, actor) -> Checklist:
    """The demo's onboarding checklist (created once; never overwritten)."""
    existing = Checklist.objects.filter(name=ONBOARDING).first()
    if existing is not None:
        return existing
    cs_team = Team.objects.filter(name="Customer Success").first()
    csm = Rep.objects.filter(team=cs_team, title="Customer Success Manager", region="NA").order_by("pk").first()
    return checklist_save(
        checklist=Checklist(
            name=ONBOARDING,
            description="What onboarding needs before the kickoff call: the order, the people, the money.",
            conditions={"all": [{"field": "opportunity.close_date", "op": "within_days", "value": 45}]},
            required_fields=[
                {"field": "contract_start_date"},
                {"field": "products_purchased"},
                {"field": "executive_sponsor"},
                {
                    "field": "billing_contact",
                    "when": {"all": [{"field": "opportunity.amount", "op": "gte", "value": 50000}]},
                },
            ],
            tasks=[
                {"title": "Onboarding kickoff call", "due_in_days": 3},
                {"title": "Send the welcome pack", "due_in_days": 1},
            ],
            receiving_team=cs_team,
            owner_rule=Checklist.OwnerRule.REP if csm else Checklist.OwnerRule.DEAL_OWNER,
            owner_rep=csm,
            accept_within_hours=48,
        ),
        actor=actor,
        reason="demo: onboarding checklist",
    )


def demo_renewal_checklist_ensure(*, actor) -> Checklist:
    """The demo's renewal checklist: what the renewal owner (the account owner) needs 90 days out."""
    existing = Checklist.objects.filter(name=RENEWAL).first()
    if existing is not None:
        return existing
    return checklist_save(
        checklist=Checklist(
            name=RENEWAL,
            kind=Checklist.Kind.RENEWAL,
            description="Customer Success briefs the renewal owner: health, usage, sponsor and open risks.",
            days_before=90,
            required_fields=[{"field": "health_score"}, {"field": "usage_trend"}, {"field": "executive_sponsor"}],
            attestations=[
                {"key": "open_risks", "label": "Open risks reviewed with the account team", "role": "Customer Success"}
            ],
            tasks=[{"title": "Renewal plan and pricing proposal", "due_in_days": 14}],
            receiving_team=None,
            owner_rule=Checklist.OwnerRule.DEAL_OWNER,
            accept_within_hours=72,
        ),
        actor=actor,
        reason="demo: renewal checklist",
    )


def _receiver_login(rep: Rep | None, *, actor):
    if rep is None:
        return None
    first, _, last = rep.name.partition(" ")
    user = demo_user_ensure(RECEIVER_USERNAME, first, last, f"{RECEIVER_USERNAME}@example.com")
    roles.assign_role(user, roles.REP)
    if rep.user_id is None:
        rep.user = user
        record_save(instance=rep, actor=actor, reason="demo data")  # one reason for every demo row
    return user


def _replay_closings(*, now: dt.datetime, actor) -> None:
    """Evaluate the deals won in the last 45 days as the portal would have when each closed (at the
    end of its close date), so handoffs waiting since then have overdue items and the sent ones have
    their history. Older won deals were handed over before the portal."""
    since = now.date() - dt.timedelta(days=45)
    won = Opportunity.objects.filter(stage=Opportunity.Stage.CLOSED_WON, close_date__gte=since)
    by_day: dict[dt.date, list[int]] = {}
    for pk, day in won.order_by("close_date", "pk").values_list("pk", "close_date"):
        by_day.setdefault(day, []).append(pk)
    for day, ids in by_day.items():
        at = min(dt.datetime.combine(day, dt.time(17), tzinfo=dt.UTC), now)
        handoffs_evaluate(opportunity_ids=ids, actor=actor, cause="demo: handoffs of the deals won that day", now=at)


def _answer_as_cs(checklist: Checklist, *, receiver, now: dt.datetime) -> None:
    """The CS manager's answers: handoffs sent more than two days ago were accepted within a day,
    except the latest of them, sent back with a reason, and the one before it, still unanswered (so
    the acceptance check raises it); the last two days' handoffs await an answer."""
    older = list(
        Handoff.objects.filter(
            checklist=checklist, status=Handoff.Status.SENT, sent_at__lt=now - dt.timedelta(days=2)
        ).order_by("-sent_at", "-pk")
    )
    if len(older) < 3:
        return
    returned, accepted = older[0], older[2:]  # older[1] stays unanswered
    for handoff in accepted:
        handoff_accept(handoff=handoff, actor=receiver, now=handoff.sent_at + dt.timedelta(hours=4 + handoff.pk % 20))
    handoff_reject(
        handoff=returned,
        reason_code="context_vague",
        note="The success criteria only say 'faster onboarding'; what does the customer measure?",
        actor=receiver,
        now=returned.sent_at + dt.timedelta(hours=20),
    )
    handoffs_acceptance_tick(now=now)  # raises the unanswered one to the CS team's manager


def handoffs_demo_build(context: dict) -> None:
    """Demo builder: the checklists; on a fresh org, the handoffs of the deals won in the last 45 days as
    they closed, the CS manager's answers, and the renewals due in the next 90 days."""
    actor, now = context["actor"], context["now"]
    checklist = demo_checklist_ensure(actor=actor)
    renewal = demo_renewal_checklist_ensure(actor=actor)
    if not context.get("fresh"):
        return
    _replay_closings(now=now, actor=actor)
    receiver = _receiver_login(checklist.owner_rep, actor=actor)
    if receiver is not None:
        _answer_as_cs(checklist, receiver=receiver, now=now)
    renewals_evaluate(actor=actor, cause="demo: renewals in the next 90 days", now=now)
    if receiver is not None:  # CS confirms the risk review where the account data is complete
        for handoff in Handoff.objects.filter(checklist=renewal, status=Handoff.Status.WAITING).order_by("pk"):
            if [m["kind"] for m in handoff.missing] == ["attestation"]:
                handoff_attest(handoff=handoff, key="open_risks", actor=receiver, now=now)
    details = context.setdefault("details", {})
    labels = {
        Handoff.Status.WAITING: "handoff waiting for context",
        Handoff.Status.SENT: "handed off, awaiting acceptance",
        Handoff.Status.ACCEPTED: "handoff accepted",
        Handoff.Status.REJECTED: "handoff sent back",
    }
    for status, label in labels.items():
        count = Handoff.objects.filter(checklist=checklist, status=status).count()
        if count:
            details[f"opportunities:{label}"] = count
        count = Handoff.objects.filter(checklist=renewal, status=status).count()
        if count:
            details[f"accounts:renewal {label}"] = count
