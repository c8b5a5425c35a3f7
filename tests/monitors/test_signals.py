"""The derived signals, for many deals at once, as of a controllable ``now``."""

import datetime as dt
from decimal import Decimal

import pytest

from monitors.models import ForecastSnapshot
from monitors.selectors import deal_signals, quarter_start
from revops.models import Opportunity
from tests.factories import OpportunityFactory
from tests.monitors.support import movement as move

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)  # Q4 2026 starts on 1 Oct


def at(days_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days_ago)


def push(deal, days, when):
    return move(
        deal, "close_date", "2026-12-01", (dt.date(2026, 12, 1) + dt.timedelta(days=days)).isoformat(), when, days
    )


def test_quarter_start():
    assert quarter_start(dt.date(2026, 11, 20)) == dt.date(2026, 10, 1)
    assert quarter_start(dt.date(2026, 3, 31)) == dt.date(2026, 1, 1)


def test_pushes_count_only_later_close_dates_within_the_window():
    deal = OpportunityFactory()
    push(deal, 10, at(30))
    push(deal, -5, at(20))  # pulled in: not a push, and not subtracted
    push(deal, 20, at(3))
    push(deal, 7, dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC))  # last quarter
    push(deal, 3, at(-1))  # after "now": ignored
    move(deal, "close_date", "", "2026-12-01", at(2))  # a date set for the first time: not a push

    signals = deal_signals(opportunity_ids=[deal.pk], now=NOW)[deal.pk]

    assert (signals.pushes, signals.days_slipped) == (2, 30)
    assert signals.window_start == dt.date(2026, 10, 1)
    wider = deal_signals(opportunity_ids=[deal.pk], now=NOW, window_start=dt.date(2026, 7, 1))[deal.pk]
    assert (wider.pushes, wider.days_slipped) == (3, 37)


def test_amount_change_since_the_latest_snapshot():
    deal = OpportunityFactory(amount=Decimal("80000"))
    ForecastSnapshot.objects.create(
        opportunity=deal, taken_on=dt.date(2026, 11, 8), stage="discovery", forecast_category="pipeline", amount=90000
    )
    ForecastSnapshot.objects.create(
        opportunity=deal, taken_on=dt.date(2026, 11, 15), stage="discovery", forecast_category="pipeline", amount=100000
    )
    ForecastSnapshot.objects.create(  # after "now": not yet taken
        opportunity=deal, taken_on=dt.date(2026, 11, 22), stage="discovery", forecast_category="pipeline", amount=1
    )

    signals = deal_signals(opportunity_ids=[deal.pk], now=NOW)[deal.pk]
    last_week = deal_signals(opportunity_ids=[deal.pk], now=NOW, snapshot_on_or_before=dt.date(2026, 11, 13))

    assert signals.snapshot_on == dt.date(2026, 11, 15)
    assert (signals.amount_change, signals.amount_change_pct) == (Decimal("-20000"), -20.0)
    assert last_week[deal.pk].snapshot_on == dt.date(2026, 11, 8)
    assert round(last_week[deal.pk].amount_change_pct, 2) == -11.11


def test_amount_change_without_a_comparable_snapshot():
    never = OpportunityFactory()
    from_zero = OpportunityFactory(amount=Decimal("5000"))
    ForecastSnapshot.objects.create(
        opportunity=from_zero, taken_on=dt.date(2026, 11, 15), stage="discovery", forecast_category="pipeline", amount=0
    )

    signals = deal_signals(opportunity_ids=[never.pk, from_zero.pk], now=NOW)

    assert (signals[never.pk].snapshot_on, signals[never.pk].amount_change) == (None, None)
    assert (signals[from_zero.pk].amount_change, signals[from_zero.pk].amount_change_pct) == (Decimal("5000"), None)


def test_days_in_stage_from_the_last_stage_movement_else_from_creation():
    moved = OpportunityFactory(stage=Opportunity.Stage.NEGOTIATION)
    move(moved, "stage", "discovery", "proposal", at(40))
    move(moved, "stage", "proposal", "negotiation", at(12.5))
    move(moved, "stage", "negotiation", "closed_won", at(-2))  # after "now"
    still = OpportunityFactory()
    Opportunity.objects.filter(pk=still.pk).update(created_at=at(33))

    signals = deal_signals(opportunity_ids=[moved.pk, still.pk], now=NOW)

    assert (signals[moved.pk].days_in_stage, signals[moved.pk].stage_since) == (12, at(12.5))
    assert signals[still.pk].days_in_stage == 33


def test_forecast_category_changes_and_last_activity():
    deal = OpportunityFactory(last_activity_at=at(9.2))
    move(deal, "forecast_category", "pipeline", "best_case", dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    move(deal, "forecast_category", "best_case", "commit", at(10))
    move(deal, "forecast_category", "commit", "best_case", at(4))
    quiet = OpportunityFactory(last_activity_at=None)

    signals = deal_signals(opportunity_ids=[deal.pk, quiet.pk], now=NOW)

    assert signals[deal.pk].category_changes == 2
    assert signals[deal.pk].last_category_change == (at(4), "commit", "best_case")
    assert signals[deal.pk].days_since_activity == 9
    assert (signals[quiet.pk].category_changes, signals[quiet.pk].last_category_change) == (0, None)
    assert signals[quiet.pk].days_since_activity is None


def test_many_deals_in_chunks(monkeypatch):
    from monitors import selectors

    monkeypatch.setattr(selectors, "CHUNK", 2)
    deals = [OpportunityFactory() for _ in range(5)]
    for deal in deals:
        push(deal, 4, at(1))

    signals = deal_signals(opportunity_ids=[d.pk for d in deals] + [10**9], now=NOW)

    assert set(signals) == {d.pk for d in deals}  # an unknown id is left out
    assert {s.pushes for s in signals.values()} == {1}
