"""A forecast category changes only through a manager's approval: the "moved to Commit without evidence"
policy, its ``propose_category``, and the guarded field — live at low and high risk, shadow, approved,
rejected, changed meanwhile, reverted, and never from the hourly scan."""

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from exceptions.approvals import exception_approval_approve, exception_approval_reject
from exceptions.models import ExceptionItem, Queue
from monitors.hygiene import hygiene_scan
from monitors.kind import ForecastHygiene
from monitors.models import DealMovement
from monitors.policies import policy_check, policy_config_clean
from monitors.selectors import deal_signals
from revops.engine.actions import approval_key
from revops.engine.pipeline import engine_process_events
from revops.engine.revert import run_revert
from revops.engine.services import automation_create
from revops.models import AppliedAction, Automation, OutboxEvent
from revops.services import record_save
from tests.factories import OpportunityFactory, RepFactory, TeamFactory, UserFactory
from tests.monitors.support import movement

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC)
LABELS = {"executive_sponsor": "Executive sponsor", "use_case": "Use case"}
EVIDENCE = ["executive_sponsor", "use_case"]
SEQ = itertools.count()


def check(deal, **config):
    cleaned = policy_config_clean({"policy": "commit_without_evidence", "fields": EVIDENCE, **config})
    signals = deal_signals(opportunity_ids=[deal.pk], now=NOW)[deal.pk]
    return policy_check(cleaned, deal, signals, today=NOW.date(), labels=LABELS)


# --- the policy ------------------------------------------------------------------------------------


def test_moved_to_commit_without_evidence_names_the_day_the_old_category_and_the_empty_fields():
    deal = OpportunityFactory(forecast_category="commit", attributes={"use_case": ""})
    movement(deal, "forecast_category", "best_case", "commit", dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC))
    result = check(deal)
    assert result.fired
    assert result.text == "Moved to Commit on 2 Dec (from Best case) without Executive sponsor and Use case."
    assert result.values["missing"] == EVIDENCE and result.values["days_since_move"] == 2

    deal.attributes = {"executive_sponsor": "Dana (CFO)", "use_case": "Forecasting"}
    filled = check(deal)
    assert not filled.fired
    assert filled.text == "Moved to Commit on 2 Dec (from Best case) with Executive sponsor and Use case filled in."


def test_an_old_move_another_category_no_recorded_move_or_no_fields_do_not_fire():
    old = OpportunityFactory(forecast_category="commit")
    movement(old, "forecast_category", "pipeline", "commit", dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC))
    result = check(old)
    assert not result.fired and result.text == "Moved to Commit on 1 Oct (from Pipeline), more than 30 days ago."
    assert check(old, days=90).fired

    left = OpportunityFactory(forecast_category="best_case")
    movement(left, "forecast_category", "best_case", "commit", dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert check(left).text == "Not in Commit (in Best case)."
    never = OpportunityFactory(forecast_category="commit")
    assert check(never).text == "In Commit, with no move to Commit recorded by the portal."
    assert not check(never, fields=[]).fired


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"propose_category": "commit"}, "propose_category (the category to propose instead) must be one of"),
        ({"propose_category": "closed"}, "or null to propose nothing, not 'closed'."),
        ({"days": 0}, "days (how many days ago the move to Commit may be) must be a whole number from 1 to 3650"),
        ({"fields": "executive_sponsor"}, "fields (the evidence fields) must be a list"),
    ],
)
def test_bad_configs_are_refused_in_words(config, message):
    with pytest.raises(ValidationError) as caught:
        ForecastHygiene().validate_config({"policy": "commit_without_evidence", **config}, object_type="opportunity")
    assert message in " ".join(caught.value.messages)


def test_missing_evidence_may_propose_a_category_outside_the_ones_needing_evidence():
    cleaned = policy_config_clean({"policy": "missing_evidence", "fields": EVIDENCE, "propose_category": "pipeline"})
    assert cleaned["propose_category"] == "pipeline"
    assert policy_config_clean({"policy": "missing_evidence"})["propose_category"] is None
    with pytest.raises(ValidationError) as caught:
        policy_config_clean({"policy": "missing_evidence", "fields": EVIDENCE, "propose_category": "best_case"})
    assert "must be one of pipeline, omitted" in " ".join(caught.value.messages)


# --- proposals through the engine -------------------------------------------------------------------


@pytest.fixture
def org():
    """A deal in best case owned by a rep of NA SMB, under NA Sales (Nora manages it; its queue)."""
    nora = UserFactory(username="nora")
    team = TeamFactory(name="NA Sales", manager=RepFactory(name="Nora Adams", user=nora))
    queue = Queue.objects.create(name="NA Sales ops", team=team)
    rep = RepFactory(name="Angel Baldwin", team=TeamFactory(name="NA SMB", parent=team))
    deal = OpportunityFactory(owner=rep, forecast_category="best_case", attributes={"use_case": "Forecasting"})
    Queue.objects.get_or_create(name="RevOps")
    return {"nora": nora, "queue": queue, "deal": deal}


def policy(*, risk="low", mode="live", propose="best_case", name="Hygiene: Moved to Commit without evidence"):
    rule = UserFactory(username=f"rule.{next(SEQ)}")
    return automation_create(
        actor=rule,
        name=name,
        purpose="Commit needs evidence.",
        kind="forecast_hygiene",
        object_type="opportunity",
        trigger=Automation.Trigger.FIELD_CHANGED,
        trigger_fields=["forecast_category"],
        conditions={"all": []},
        config={"policy": "commit_without_evidence", "fields": EVIDENCE, "propose_category": propose},
        risk=risk,
        mode=mode,
        rule_owner=rule,
        failure_owner=rule,
        exception_queue="RevOps",
    )


def commit(deal, category="commit"):
    """A person (or the CRM) moves the deal's category; the engine processes the change."""
    deal.refresh_from_db()
    deal.forecast_category = category
    record_save(instance=deal, actor=UserFactory(username=f"rep.{next(SEQ)}"))
    engine_process_events(event_ids=list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True)))
    deal.refresh_from_db()


def approvals():
    return ExceptionItem.objects.filter(kind="approval_required")


@pytest.mark.parametrize("risk", ["low", "high"])
def test_a_live_policy_only_proposes_and_the_owners_manager_approves(org, risk):
    automation = policy(risk=risk)
    deal = org["deal"]
    commit(deal)
    assert deal.forecast_category == "commit"  # nothing changed without a person
    assert DealMovement.objects.filter(opportunity=deal, new_value="commit").exists()
    applied = AppliedAction.objects.get(run__automation=automation)
    assert applied.action == "propose_forecast_category" and applied.status == "approval"
    item = approvals().get()
    assert item.queue == org["queue"] and item.owner == org["nora"] and item.severity == "high"
    assert item.dedupe_key == approval_key("opportunity", deal.pk, "field:forecast_category")
    assert item.reason.startswith("Moved to Commit on ")
    assert "without Executive sponsor" in item.reason
    assert "it needs approval because changing a forecast category is the manager's decision" in item.reason
    assert item.proposal["params"] == {
        "value": "best_case",
        "expected": "commit",
        "reason": item.proposal["params"]["reason"],
    }
    assert applied.run.expected_next.startswith(
        "The manager of the deal owner's team approves or rejects moving it to Best case"
    )

    exception_approval_approve(item=item, actor=org["nora"])
    deal.refresh_from_db()
    assert deal.forecast_category == "best_case" and deal.history.first().history_user == org["nora"]
    applied.refresh_from_db()
    assert applied.status == "applied"

    run_revert(run=applied.run, actor=org["nora"], reason="approved by mistake")
    deal.refresh_from_db()
    assert deal.forecast_category == "commit"


def test_a_shadow_policy_proposes_nothing_to_anyone(org):
    automation = policy(mode="shadow")
    commit(org["deal"])
    assert org["deal"].forecast_category == "commit" and not approvals().exists()
    assert AppliedAction.objects.get(run__automation=automation).status == "shadow"


def test_a_rejected_proposal_changes_nothing(org):
    automation = policy()
    commit(org["deal"])
    item = approvals().get()
    exception_approval_reject(item=item, actor=org["nora"], reason="The sponsor is confirmed by email")
    org["deal"].refresh_from_db()
    assert org["deal"].forecast_category == "commit"
    applied = AppliedAction.objects.get(run__automation=automation)
    assert applied.status == "skipped" and "The sponsor is confirmed by email" in applied.after["note"]


def test_a_category_changed_since_the_proposal_is_left_alone(org):
    automation = policy()
    commit(org["deal"])
    item = approvals().get()
    commit(org["deal"], "pipeline")  # the CRM moved it meanwhile
    exception_approval_approve(item=item, actor=org["nora"])
    org["deal"].refresh_from_db()
    assert org["deal"].forecast_category == "pipeline"
    applied = AppliedAction.objects.get(run__automation=automation)
    assert applied.status == "skipped"
    assert applied.after["note"] == (
        "the forecast category changed since it was proposed: it was Commit, it is now Pipeline"
    )


def test_a_field_update_of_the_category_waits_too_and_shares_the_deals_one_approval(org):
    policy()
    rule = UserFactory(username="stale.rule")
    stale = automation_create(
        actor=rule,
        name="Downgrade stale commit deals",
        purpose="Stale commit moves to best case.",
        kind="field_update",
        object_type="opportunity",
        trigger="updated",
        conditions={"all": [{"field": "opportunity.forecast_category", "op": "eq", "value": "commit"}]},
        config={"set": {"forecast_category": "best_case"}},
        risk="low",
        mode="live",
        rule_owner=rule,
        failure_owner=rule,
        exception_queue="RevOps",
    )
    commit(org["deal"])
    assert org["deal"].forecast_category == "commit"
    item = approvals().get()
    assert item.occurrences == 2 and len(item.proposal["proposals"]) == 2
    assert "They propose the same change." in item.reason
    assert AppliedAction.objects.get(run__automation=stale).status == "approval"

    exception_approval_approve(item=item, actor=org["nora"])
    org["deal"].refresh_from_db()
    assert org["deal"].forecast_category == "best_case"
    assert sorted(AppliedAction.objects.values_list("status", flat=True)) == ["applied", "skipped"]


def test_the_hourly_scan_runs_no_action(org):
    policy()
    deal = org["deal"]
    deal.forecast_category = "commit"
    deal.save(update_fields=["forecast_category"])
    movement(deal, "forecast_category", "best_case", "commit", timezone.now() - dt.timedelta(days=1))
    hygiene_scan(now=timezone.now())
    deal.refresh_from_db()
    assert deal.forecast_category == "commit" and not approvals().exists()
    assert ExceptionItem.objects.filter(kind="forecast_hygiene", object_id=deal.pk).exists()
