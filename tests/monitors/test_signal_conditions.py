"""The forecast signals as computed opportunity fields: any automation's conditions can use them, evaluated
as of the engine's clock from the portal's own movements and snapshots."""

import datetime as dt
from decimal import Decimal

import pytest

from exceptions.models import ExceptionItem, Queue
from monitors.models import ForecastSnapshot
from monitors.scopes import PolicyScope
from revops import conditions
from revops.engine.pipeline import engine_process_events
from revops.engine.schedule import run_scheduled_automations
from revops.engine.selectors import run_explanation
from revops.engine.services import automation_create
from revops.models import AutomationRun, Opportunity, OutboxEvent
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from tests.factories import OpportunityFactory, RepFactory, UserFactory
from tests.monitors.support import movement

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)  # Q4 2026 starts on 1 Oct
SLIPPING = {"field": "opportunity.close_date_pushes_this_quarter", "op": "gte", "value": 2}


def alert(name, conditions_tree, **fields):
    owner = UserFactory(username=f"owner.{len(name)}", first_name="Rita", last_name="Rule")
    Queue.objects.get_or_create(name="RevOps")
    values = {
        "purpose": "Tell the manager about deals that keep slipping.",
        "kind": "alert",
        "object_type": "opportunity",
        "trigger": "updated",
        "conditions": conditions_tree,
        "config": {"title": "Slipping deal {record}", "expected_action": "Review the close date with the rep."},
        "rule_owner": owner,
        "failure_owner": owner,
        "exception_queue": "RevOps",
        "mode": "live",
        **fields,
    }
    return automation_create(actor=owner, name=name, **values)


def test_the_signals_are_offered_to_every_condition():
    keys = {spec.key for spec in conditions.computed_fields("opportunity")}
    assert {
        "amount_change_since_snapshot",
        "amount_change_pct_since_snapshot",
        "close_date_pushes_this_quarter",
        "days_slipped_this_quarter",
        "days_in_stage",
        "forecast_category_changes_this_quarter",
        "days_since_activity",
        "close_date_changes_30d",
        "amount_changes_30d",
        "stage_changes_30d",
    } <= keys
    (message,) = conditions.validate_condition(
        {"field": "opportunity.pushes_this_quarter", "op": "gte", "value": 2}, object_type="opportunity"
    )
    assert message.startswith(
        "opportunity.pushes_this_quarter is not an opportunity field in the data dictionary nor a computed "
        "opportunity field"
    )
    assert "close_date_pushes_this_quarter" in message and "days_in_stage" in message
    (changed,) = conditions.validate_condition(
        {"field": "opportunity.days_in_stage", "op": "changed"}, object_type="opportunity"
    )
    assert "a computed field has no event changes" in changed
    with pytest.raises(
        conditions.ConditionNotQueryable,
        match=r"Close-date pushes this quarter \(opportunity.close_date_pushes_this_quarter\) is a computed",
    ):
        conditions.to_q(
            {"all": [SLIPPING, {"field": "opportunity.days_in_stage", "op": "gt", "value": 30}]},
            object_type="opportunity",
            now=NOW,
        )
    assert conditions.render(SLIPPING, object_type="opportunity") == "Close-date pushes this quarter ≥ 2"


def test_an_alert_fires_when_synced_history_makes_the_deal_slip():
    RepFactory(external_id="R-SAM", name="Sam Seller")
    automation = alert("Slipping deals", {"all": [SLIPPING]})
    token, _ = api_token_create(name="crm", scopes=["sync:write"])

    def sync_and_process(at, close_date):
        deal = {
            "external_id": "O-1",
            "name": "Acme - Platform",
            "stage": "negotiation",
            "forecast_category": "commit",
            "owner": "R-SAM",
            "amount": "100000",
            "close_date": close_date,
            "source_updated_at": at,
        }
        sync_batch_apply(object_name="opportunities", records=[deal], actor=token.user, token=token)
        pending = list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True))
        engine_process_events(event_ids=pending, now=NOW)
        return AutomationRun.objects.filter(automation=automation).order_by("-pk").first()

    assert sync_and_process("2026-11-02T09:00:00Z", "2026-12-01").outcome == "not_fired"  # created
    first = sync_and_process("2026-11-05T09:00:00Z", "2026-12-15")
    assert first.outcome == "not_fired"
    assert "✗ Close-date pushes this quarter ≥ 2 (actual: 1)" in [
        line.strip() for line in run_explanation(first)["conditions_text"]
    ]
    assert not ExceptionItem.objects.filter(kind="hygiene_alert").exists()

    second = sync_and_process("2026-11-10T09:00:00Z", "2027-01-10")
    assert second.outcome == "fired"
    assert "✓ Close-date pushes this quarter ≥ 2 (actual: 2)" in [
        line.strip() for line in run_explanation(second)["conditions_text"]
    ]
    item = ExceptionItem.objects.get(kind="hygiene_alert")
    assert "Close-date pushes this quarter ≥ 2" in item.reason
    assert item.object_id == Opportunity.objects.get(external_id="O-1").pk


def test_a_scheduled_alert_selects_in_sql_and_checks_the_signal_in_python():
    def deal(stage, amount, snapshot_amount):
        found = OpportunityFactory(stage=stage, amount=Decimal(amount))
        ForecastSnapshot.objects.create(
            opportunity=found,
            taken_on=dt.date(2026, 11, 15),
            stage=stage,
            forecast_category="pipeline",
            amount=Decimal(snapshot_amount),
        )
        return found

    shrunk = deal("negotiation", "80000", "100000")  # -20 %
    deal("negotiation", "95000", "100000")  # -5 %: checked, not run
    deal("discovery", "50000", "100000")  # the wrong stage: never a candidate
    tree = {
        "all": [
            {"field": "opportunity.stage", "op": "eq", "value": "negotiation"},
            {"field": "opportunity.amount_change_pct_since_snapshot", "op": "lte", "value": "-10"},
        ]
    }
    alert("Shrinking deals", tree, trigger="schedule", schedule_minutes=60)

    assert run_scheduled_automations(now=NOW) == {"Shrinking deals": 1}
    run = AutomationRun.objects.get()
    assert run.object_id == shrunk.pk and run.outcome == "fired"
    assert "✓ Amount change since the last snapshot (%) ≤ -10 (actual: -20.00)" in [
        line.strip() for line in run.explanation["conditions_text"]
    ]
    assert ExceptionItem.objects.get(kind="hygiene_alert").object_id == shrunk.pk


def test_changes_in_a_window_and_days_since_activity():
    busy = OpportunityFactory(last_activity_at=NOW - dt.timedelta(days=12, hours=1))
    quiet = OpportunityFactory(last_activity_at=None)
    movement(busy, "close_date", "2026-12-01", "2026-12-10", NOW - dt.timedelta(days=3), 9)
    movement(busy, "close_date", "2026-12-10", "2026-12-05", NOW - dt.timedelta(days=10), -5)  # a pull-in counts
    movement(busy, "close_date", "2026-11-01", "2026-12-01", NOW - dt.timedelta(days=31), 30)  # too old
    movement(quiet, "amount", "100", "200", NOW - dt.timedelta(days=1))
    deals = list(Opportunity.objects.order_by("pk"))

    def scope(tree):
        return PolicyScope(tree, NOW, object_type="opportunity").ids(deals)

    assert scope({"field": "opportunity.close_date_changes_30d", "op": "gte", "value": 2}) == {busy.pk}
    assert scope({"field": "opportunity.amount_changes_30d", "op": "eq", "value": 1}) == {quiet.pk}
    assert scope({"field": "opportunity.days_since_activity", "op": "gte", "value": 12}) == {busy.pk}
    assert scope({"field": "opportunity.days_since_activity", "op": "is_empty"}) == {quiet.pk}
    # A relation and a signal together: no SQL form, so the whole condition runs in memory on the chunk.
    mixed = {
        "all": [
            {"field": "opportunity.account.name", "op": "is_not_empty"},
            {"field": "opportunity.close_date_changes_30d", "op": "gte", "value": 2},
        ]
    }
    assert scope(mixed) == {busy.pk}


def test_the_fields_of_one_evaluation_share_one_read(monkeypatch):
    from monitors import signal_fields

    calls = []
    real = signal_fields.deal_signals

    def counting(**kwargs):
        calls.append(sorted(deal.pk for deal in kwargs["deals"]))
        return real(**kwargs)

    monkeypatch.setattr(signal_fields, "deal_signals", counting)
    OpportunityFactory()
    OpportunityFactory()
    pred = conditions.compile_condition(
        {
            "all": [
                {"field": "opportunity.days_in_stage", "op": "gte", "value": 0},
                {"field": "opportunity.close_date_changes_30d", "op": "eq", "value": 0},
                {"field": "opportunity.days_since_activity", "op": "is_empty"},
            ]
        },
        object_type="opportunity",
    )
    deals = list(Opportunity.objects.order_by("pk"))
    contexts = conditions.batch_contexts(deals, predicate=pred, now=NOW)
    assert [pred(ctx) for ctx in contexts] == [True, True]
    assert calls == [[deal.pk for deal in deals]]  # three fields, one read for the batch

    calls.clear()
    one = conditions.Context(deals[0], now=NOW)
    assert pred(one) and pred(one)
    assert calls == [[deals[0].pk]]  # computed lazily, once for the context


def test_the_documented_example_works_as_written():
    import json
    import re
    from pathlib import Path

    from revops.engine.admin.helpers import fields_used_links

    text = Path(__file__).resolve().parents[2].joinpath("docs", "automations.md").read_text()
    section = text.split("### Computed fields", 1)[1]
    tree = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    automation = alert("Slipping commits", tree)
    assert "opportunity.close_date_pushes_this_quarter" in automation.fields_used
    assert "computed" in fields_used_links(automation.fields_used)

    slipping = OpportunityFactory(forecast_category="commit", close_date=NOW.date() + dt.timedelta(days=20))
    steady = OpportunityFactory(forecast_category="commit", close_date=NOW.date() + dt.timedelta(days=20))
    for days_ago in (40, 10):
        movement(slipping, "close_date", "2026-11-01", "2026-12-10", NOW - dt.timedelta(days=days_ago), 39)
    movement(steady, "close_date", "2026-11-01", "2026-12-10", NOW - dt.timedelta(days=10), 39)
    pred = conditions.compile_condition(tree, object_type="opportunity")
    assert pred(conditions.Context(Opportunity.objects.get(pk=slipping.pk), now=NOW))
    assert not pred(conditions.Context(Opportunity.objects.get(pk=steady.pk), now=NOW))
