"""The scan's policy scopes: conditions over the deal's own columns are evaluated in memory on the loaded
chunk, exactly as the query would select; relations and case-folding text matches still query; policies
with the same conditions share one scope; ``deal_signals`` over loaded deals equals the one by ids."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from monitors.scopes import PolicyScope, policy_scopes
from monitors.selectors import deal_signals
from revops import conditions
from revops.models import Opportunity
from tests.factories import AccountFactory, OpportunityFactory
from tests.monitors.hygiene_support import hygiene_policy

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
TODAY = NOW.date()

IN_MEMORY = [
    {"all": [{"field": "opportunity.forecast_category", "op": "eq", "value": "commit"}]},
    {"any": [{"field": "opportunity.stage", "op": "in", "value": ["negotiation", "proposal"]}]},
    {"not": {"field": "opportunity.next_step", "op": "is_empty"}},
    {"all": [{"field": "opportunity.next_step", "op": "ne", "value": "Demo"}]},
    {"all": [{"field": "opportunity.amount", "op": "gte", "value": "50000"}]},
    {"all": [{"field": "opportunity.amount", "op": "between", "value": ["100", "60000"]}]},
    {"all": [{"field": "opportunity.close_date", "op": "within_days", "value": 30}]},
    {"all": [{"field": "opportunity.close_date", "op": "lt", "value": "2026-11-20"}]},
    {"all": [{"field": "opportunity.last_activity_at", "op": "older_than_days", "value": 14}]},
    {"all": [{"field": "opportunity.owner", "op": "is_not_empty"}]},
]
QUERIED = [  # (condition, the indexes of the deals it covers)
    ({"all": [{"field": "opportunity.account.name", "op": "eq", "value": "Acme"}]}, {2}),
    ({"all": [{"field": "opportunity.next_step", "op": "contains", "value": "demo"}]}, {0, 2}),
]


@pytest.fixture
def deals():
    acme = AccountFactory(name="Acme")
    made = [
        OpportunityFactory(forecast_category="commit", stage="negotiation", next_step="Demo", amount=Decimal(50000)),
        OpportunityFactory(
            forecast_category="pipeline",
            stage="discovery",
            next_step="",
            amount=None,
            close_date=TODAY + dt.timedelta(days=10),
        ),
        OpportunityFactory(
            account=acme,
            forecast_category="best_case",
            stage="proposal",
            next_step="Send DEMO recap",
            amount=Decimal("99.99"),
            close_date=TODAY - dt.timedelta(days=1),
            last_activity_at=NOW - dt.timedelta(days=20),
        ),
        OpportunityFactory(
            forecast_category="commit",
            next_step="Call",
            close_date=TODAY + dt.timedelta(days=31),
            last_activity_at=NOW - dt.timedelta(days=3),
        ),
    ]
    return list(Opportunity.objects.filter(pk__in=[d.pk for d in made]).select_related("owner").order_by("pk"))


@pytest.mark.parametrize("tree", IN_MEMORY)
def test_own_column_conditions_are_evaluated_in_memory_as_the_query_selects(tree, deals):
    scope = PolicyScope(tree, NOW, object_type="opportunity")
    assert scope.q is None and scope.predicate is not None
    expected = set(
        Opportunity.objects.filter(pk__in=[d.pk for d in deals])
        .filter(conditions.to_q(tree, object_type="opportunity", now=NOW))
        .values_list("pk", flat=True)
    )
    assert scope.ids(deals) == expected


@pytest.mark.parametrize(("tree", "covered"), QUERIED)
def test_relations_and_case_folding_matches_are_queried(tree, covered, deals):
    scope = PolicyScope(tree, NOW, object_type="opportunity")
    assert scope.q is not None
    assert scope.ids(deals) == {deals[i].pk for i in covered}


def test_policies_with_the_same_conditions_share_one_scope():
    commit = {"all": [{"field": "opportunity.forecast_category", "op": "eq", "value": "commit"}]}
    policies = [
        hygiene_policy("close_date_past", conditions=commit),
        hygiene_policy("commit_next_step", conditions=commit),
        hygiene_policy("late_stage_no_activity"),
    ]
    scopes = policy_scopes(policies, NOW, object_type="opportunity")
    assert scopes[policies[0].pk] is scopes[policies[1].pk]
    assert scopes[policies[2].pk] is not scopes[policies[0].pk] and scopes[policies[2].pk].everything


def test_signals_of_loaded_deals_equal_the_ones_by_id(deals):
    assert deal_signals(deals=deals, now=NOW) == deal_signals(opportunity_ids=[d.pk for d in deals], now=NOW)
    assert deal_signals(deals=[], now=NOW) == {}


def test_a_cached_day_follows_the_active_language():
    from django.utils import translation

    from monitors import words

    day = dt.date(2026, 3, 5)
    assert words.day(day, TODAY) == "5 Mar" and words.day(day, dt.date(2025, 1, 1)) == "5 Mar 2026"
    with translation.override("de"):
        assert words.day(day, TODAY) == "5 Mär"
    assert words.day(timezone.make_aware(dt.datetime(2026, 3, 5, 12)), TODAY) == "5 Mar"
