"""Each shipped hygiene policy, with a controllable clock, through the kind's ``evaluate`` and the pure check."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from monitors.kind import ForecastHygiene
from monitors.models import ForecastSnapshot
from monitors.policies import policy_check, policy_config_clean
from monitors.selectors import deal_signals
from revops.conditions import compile_condition
from revops.engine.context import EvalContext
from tests.factories import OpportunityFactory
from tests.monitors.support import movement

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
TODAY = NOW.date()


def check(deal, policy, **thresholds):
    signals = deal_signals(opportunity_ids=[deal.pk], now=NOW)[deal.pk]
    return policy_check(policy_config_clean({"policy": policy, **thresholds}), deal, signals, today=TODAY)


def test_commit_with_no_next_step_or_a_past_next_step_date():
    assert check(OpportunityFactory(forecast_category="commit", next_step=""), "commit_next_step").text == (
        "In Commit with no next step."
    )
    late = check(
        OpportunityFactory(forecast_category="commit", next_step="Demo", next_step_date=dt.date(2026, 11, 12)),
        "commit_next_step",
    )
    assert late.fired and late.text == "In Commit, but its next step “Demo” was due 12 Nov (8 days ago)."
    fine = check(
        OpportunityFactory(forecast_category="commit", next_step="Demo", next_step_date=dt.date(2026, 11, 25)),
        "commit_next_step",
    )
    assert not fine.fired and fine.text == "In Commit with next step “Demo” on 25 Nov."
    assert not check(OpportunityFactory(forecast_category="best_case"), "commit_next_step").fired


def test_close_date_in_the_past():
    past = check(OpportunityFactory(close_date=dt.date(2026, 11, 17)), "close_date_past")
    assert (
        past.fired and past.text == "Close date 17 Nov is in the past (3 days ago)." and past.values["days_past"] == 3
    )
    assert not check(OpportunityFactory(close_date=TODAY), "close_date_past").fired


def test_late_stage_without_activity():
    idle = OpportunityFactory(stage="negotiation", last_activity_at=NOW - dt.timedelta(days=15))
    result = check(idle, "late_stage_no_activity")
    assert (
        result.fired and result.text == "In Negotiation with no activity for 15 days (last on 5 Nov; limit: 14 days)."
    )
    assert not check(idle, "late_stage_no_activity", days=20).fired
    assert not check(OpportunityFactory(stage="discovery"), "late_stage_no_activity").fired
    assert check(OpportunityFactory(stage="proposal", last_activity_at=None), "late_stage_no_activity").fired


def test_amount_changed_since_the_last_snapshot_by_percent_or_money():
    deal = OpportunityFactory(amount=Decimal("75000"))
    ForecastSnapshot.objects.create(
        opportunity=deal, taken_on=dt.date(2026, 11, 15), stage="discovery", forecast_category="pipeline", amount=100000
    )
    result = check(deal, "amount_changed")
    assert result.fired
    assert result.text == "Amount down 25 % since the snapshot of 15 Nov (100,000 → 75,000; limits: 20 % or 50,000)."
    assert result.values["change"] == -25000.0
    assert not check(deal, "amount_changed", percent=30).fired
    assert check(deal, "amount_changed", percent=None, amount=20000).fired
    assert not check(OpportunityFactory(), "amount_changed").fired  # no snapshot yet


def test_close_date_pushed_this_quarter():
    deal = OpportunityFactory()
    movement(deal, "close_date", "2026-12-01", "2026-12-20", NOW - dt.timedelta(days=20), 19)
    movement(deal, "close_date", "2026-12-20", "2027-01-10", NOW - dt.timedelta(days=5), 21)
    result = check(deal, "close_date_pushed")
    assert result.fired and result.text == (
        "Close date moved later twice this quarter, 40 days in total (limits: twice or 30 days)."
    )
    assert check(deal, "close_date_pushed", times=3).fired  # 40 days ≥ 30
    assert not check(deal, "close_date_pushed", times=3, days=41).fired


def test_stalled_in_stage_per_stage():
    deal = OpportunityFactory(stage="proposal")
    movement(deal, "stage", "solution", "proposal", NOW - dt.timedelta(days=22))
    result = check(deal, "stalled_in_stage")
    assert result.fired and result.text == "22 days in Proposal (since 29 Oct); limit: 21 days."
    assert not check(deal, "stalled_in_stage", days={"proposal": 30}).fired
    assert not check(deal, "stalled_in_stage", days={"discovery": 5}).fired  # no limit for proposal


def test_without_a_recorded_stage_change_the_stay_counts_from_when_the_portal_first_saw_the_deal():
    deal = OpportunityFactory(stage="proposal")
    type(deal).objects.filter(pk=deal.pk).update(created_at=NOW - dt.timedelta(days=3))
    deal.refresh_from_db()
    result = check(deal, "stalled_in_stage")
    assert not result.fired
    assert result.text == (
        "3 days in Proposal as far as the portal knows (no stage change recorded since it first saw the deal "
        "on 17 Nov); limit: 21 days."
    )


def test_missing_evidence_fields_and_an_empty_list_is_off():
    deal = OpportunityFactory(forecast_category="commit", attributes={})
    result = check(deal, "missing_evidence", fields=["executive_sponsor"])
    assert result.fired and result.text.startswith("In Commit without ")
    assert not check(deal, "missing_evidence", fields=[]).fired
    assert not check(
        OpportunityFactory(forecast_category="pipeline"), "missing_evidence", fields=["executive_sponsor"]
    ).fired


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "policy must be one of"),
        ({"policy": "nope"}, "policy must be one of"),
        ({"policy": "close_date_past", "days": 3}, "has no parameter 'days'"),
        ({"policy": "late_stage_no_activity", "days": 0}, "days (days without activity) must be a whole number"),
        ({"policy": "late_stage_no_activity", "stages": ["closed_won"]}, "stages (the late stages) must be a list"),
        ({"policy": "amount_changed", "percent": None, "amount": None}, "cannot both be off"),
        ({"policy": "amount_changed", "percent": -5}, "percent (the change in % that counts) must be a number above 0"),
        ({"policy": "close_date_pushed", "times": "two"}, "times (how many pushes count)"),
        ({"policy": "stalled_in_stage", "days": {"closed_won": 3}}, "not an open stage"),
        ({"policy": "missing_evidence", "fields": ["no_such_field"]}, "does not define for opportunities"),
    ],
)
def test_config_validation_names_the_bad_parameter(config, message):
    with pytest.raises(ValidationError) as caught:
        ForecastHygiene().validate_config(config, object_type="opportunity")
    assert message in " ".join(caught.value.messages)


def test_defaults_are_filled_in():
    assert policy_config_clean({"policy": "stalled_in_stage"})["days"]["discovery"] == 30
    assert policy_config_clean({"policy": "amount_changed", "percent": 10}) == {
        "policy": "amount_changed",
        "percent": 10,
        "amount": 50000,
    }


def test_evaluate_decides_one_deal_and_never_acts():
    deal = OpportunityFactory(close_date=dt.date(2026, 11, 1))

    class Version:
        config = policy_config_clean({"policy": "close_date_past"})

    context = EvalContext(automation=None, version=Version, object_type="opportunity", record=deal, now=NOW)
    predicate = compile_condition({"all": []}, object_type="opportunity")
    outcome = ForecastHygiene().evaluate(deal, version=Version, predicate=predicate, context=context)
    assert outcome.fired and outcome.actions == []
    assert outcome.summary == "Close date 1 Nov is in the past (19 days ago)."
    assert outcome.explanation["values"]["days_past"] == 19
