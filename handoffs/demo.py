"""The demo's handoffs, made by the real services from the demo org.

*Sales → Onboarding*, for deals won in the last 45 days (older won deals were handed over before
the portal), and *CS → Renewal*, which starts 90 days before a customer account's renewal date. Evaluating the won deals gives handoffs in every state the data supports:
waiting for context (with one item per deal for the owner's manager) and sent (tasks created for the
Customer Success manager). The NA Customer Success manager then answers two sent handoffs through
the same service the handoff page calls — one accepted, one rejected with a reason — and confirms
the risk review of the renewals whose account data is complete, which sends them to their renewal
owners. The CRM's morning sync, which runs after this builder, brings more won deals (complete and
incomplete).
"""

from __future__ import annotations

from exceptions import roles
from revops.demo_records.builders import demo_user_ensure
from revops.models import Opportunity, Rep, Team
from revops.services import record_save

from .attestations import handoff_attest
from .models import Checklist, Handoff
from .renewals import renewals_evaluate
from .services import checklist_save, handoff_accept, handoff_reject, handoffs_evaluate

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


def handoffs_demo_build(context: dict) -> None:
    """Demo builder: the checklists; on a fresh org, the won deals' handoffs, two answers from CS, and the
    renewals due in the next 90 days."""
    actor, now = context["actor"], context["now"]
    checklist = demo_checklist_ensure(actor=actor)
    renewal = demo_renewal_checklist_ensure(actor=actor)
    if not context.get("fresh"):
        return
    won = list(Opportunity.objects.filter(stage=Opportunity.Stage.CLOSED_WON).values_list("pk", flat=True))
    handoffs_evaluate(opportunity_ids=won, actor=actor, cause="demo: handoffs of the recently won deals", now=now)
    receiver = _receiver_login(checklist.owner_rep, actor=actor)
    sent = list(Handoff.objects.filter(checklist=checklist, status=Handoff.Status.SENT).order_by("pk")[:2])
    if receiver is not None and len(sent) == 2:
        handoff_accept(handoff=sent[0], actor=receiver, now=now)
        handoff_reject(
            handoff=sent[1],
            reason_code="context_vague",
            note="The success criteria only say 'faster onboarding'; what does the customer measure?",
            actor=receiver,
            now=now,
        )
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
