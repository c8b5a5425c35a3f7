"""The demo's review of the morning's automation work, done by the RevOps lead through the same
services a person uses in the portal: one prepared field update approved, one forecast-category
proposal rejected, one "no routing match" item dismissed as noise (the rule is wrong for it), and
one automation run reverted. The dashboard's override rate and unintended side effects then show
real decisions. The lead also dismisses the "no routing match" items of three leads without a
country (nothing to route by until the CRM sends one), so the health review finds that most of the
router's alerts are ignored and suggests reviewing it. Runs after every workflow's demo, before the
metrics roll-up."""

from __future__ import annotations

from exceptions.approvals import exception_approval_approve, exception_approval_reject
from exceptions.models import ExceptionItem
from exceptions.registry import approval_kinds
from exceptions.services import exception_item_dismiss
from revops.models import AppliedAction, AutomationRun, Lead

from .revert import revertible_actions, run_revert


def _first_open(**filters) -> ExceptionItem | None:
    # Queues in reverse name order: the review takes RevOps triage's and NA's items first and leaves
    # the EMEA manager's approvals open for the triage walkthrough (README, docs/exceptions.md).
    items = ExceptionItem.objects.filter(status__in=ExceptionItem.OPEN_STATUSES, **filters)
    return items.order_by("-queue__name", "pk").first()


def _no_country_items(*, limit: int) -> list[ExceptionItem]:
    items = ExceptionItem.objects.filter(
        kind="no_routing_match", status__in=ExceptionItem.OPEN_STATUSES, object_type="lead"
    ).order_by("-queue__name", "pk")
    no_country = set(Lead.objects.filter(pk__in=[i.object_id for i in items], country="").values_list("pk", flat=True))
    return [item for item in items if item.object_id in no_country][:limit]


def engine_demo_review_build(context: dict) -> None:
    if not context.get("fresh"):
        return
    actor = context["revops_lead"]
    approve = _first_open(kind__in=approval_kinds(), proposal__action="update_field")
    if approve is not None:
        exception_approval_approve(item=approve, actor=actor, note="Checked against the CRM: the update is right.")
    reject = _first_open(kind__in=approval_kinds(), proposal__action="propose_forecast_category")
    if reject is not None:
        exception_approval_reject(
            item=reject, actor=actor, reason="The rep has a signed order form; the deal stays in commit."
        )
    noise = _first_open(kind="no_routing_match")
    if noise is not None:
        exception_item_dismiss(
            item=noise, actor=actor, noise=True, reason="Partner referral: partner leads are not routed by the rules."
        )
    for item in _no_country_items(limit=3):
        exception_item_dismiss(
            item=item,
            actor=actor,
            reason="No country on the lead yet: nothing to route it by until the CRM sends one.",
        )
    run = (
        AutomationRun.objects.filter(
            mode="live",
            applied__status=AppliedAction.Status.APPLIED,
            applied__action__in=revertible_actions(),
            applied__action="update_field",
        )
        .order_by("pk")
        .first()
    )
    if run is not None:
        run_revert(run=run, actor=actor, reason="Set by a rule the team no longer uses; the CRM's value was right.")
