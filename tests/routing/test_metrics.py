"""Routing's dashboard metrics on known clocks and decisions (UTC, one day)."""

import datetime as dt

import pytest

from revops.metrics.rollup import metrics_rollup
from revops.metrics.selectors import metrics_read
from revops.models import Lead
from routing.models import RoutingDecision, SlaClock
from tests.factories import LeadFactory, RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
DAY = dt.date(2026, 3, 2)


def at(hour, minute=0):
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=UTC)


@pytest.fixture(autouse=True)
def _utc(settings):
    settings.TIME_ZONE = "UTC"


@pytest.fixture
def people():
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    return RepFactory(name="Ann Lee", team=east), RepFactory(name="Bob Diaz", team=west), east, west


def clock(owner, *, arrived, started, touched=None, status="met", rule=""):
    lead = LeadFactory(owner=owner)
    Lead.objects.filter(pk=lead.pk).update(created_at=arrived)
    decision = RoutingDecision.objects.create(
        lead=lead, outcome="assigned", rule_name=rule, owner=owner, decided_at=started
    )
    return SlaClock.objects.create(
        lead=lead,
        owner=owner,
        policy="Inbound 1 hour",
        decision=decision,
        target_minutes=60,
        started_at=started,
        due_at=started + dt.timedelta(hours=1),
        first_touch_at=touched,
        stopped_at=touched if status == "met" else None,
        breached_at=started + dt.timedelta(hours=1) if status == "breached" else None,
        status=status,
    )


def totals(team_ids=None, **read):
    data = metrics_read(start=DAY, end=DAY, team_ids=team_ids, **read)
    return {m["key"]: {s["name"]: (s["total"], s["points"][0]["value"]) for s in m["series"]} for m in data}


@pytest.fixture
def clocks(people):
    ann, bob, _, _ = people
    clock(ann, arrived=at(9, 50), started=at(10), touched=at(10, 30), rule="US inbound")
    clock(ann, arrived=at(11), started=at(11), touched=at(13), status="breached", rule="US inbound")
    clock(bob, arrived=at(11, 40), started=at(12), touched=at(12, 10))
    clock(bob, arrived=at(12, 55), started=at(13), status="running")
    metrics_rollup(now=at(18), full=True)


def test_speed_to_lead_median_and_p90(clocks, people):
    _, _, east, west = people
    # Arrival to first touch: 40, 120 and 30 minutes; the running clock has no touch yet.
    assert totals(keys=["speed_to_lead"])["speed_to_lead"] == {
        "Median": (None, 40.0),
        "90th percentile": (None, 120.0),
    }
    assert totals({east.pk}, keys=["speed_to_lead"])["speed_to_lead"] == {
        "Median": (None, 80.0),
        "90th percentile": (None, 120.0),
    }
    both = totals({east.pk, west.pk}, keys=["speed_to_lead"])["speed_to_lead"]
    assert both["Median — East"] == (None, 80.0) and both["Median — West"] == (None, 30.0)


def test_sla_met_and_first_touch_per_team_rule_and_rep(clocks, people):
    _, _, east, _ = people
    got = totals(keys=["sla_met", "sla_met_by_rule", "sla_met_by_rep", "first_touch", "first_touch_by_rep"])
    assert got["sla_met"] == {"SLA met": (66.7, 66.7)}
    assert got["sla_met_by_rule"] == {"US inbound": (50.0, 50.0), "No routing rule": (100.0, 100.0)}
    assert got["sla_met_by_rep"] == {"Ann Lee": (50.0, 50.0), "Bob Diaz": (100.0, 100.0)}
    # Assignment to first touch: 30, 120 and 10 minutes.
    assert got["first_touch"] == {"Time to first touch": (53.3, 53.3)}
    assert got["first_touch_by_rep"] == {"Ann Lee": (75.0, 75.0), "Bob Diaz": (10.0, 10.0)}
    assert totals({east.pk}, keys=["sla_met"])["sla_met"] == {"SLA met": (50.0, 50.0)}


def test_manual_reassignment_rate_per_rule(people):
    ann, bob, _, _ = people

    def decide(rule, *, outcome="assigned", mode="live", reassigned=False):
        RoutingDecision.objects.create(
            lead=LeadFactory(),
            outcome=outcome,
            mode=mode,
            rule_name=rule,
            owner=ann,
            decided_at=at(9),
            reassigned_at=at(15) if reassigned else None,
            reassigned_to=bob if reassigned else None,
        )

    decide("US inbound", reassigned=True)
    decide("US inbound")
    decide("US inbound")
    decide("", outcome="fallback", reassigned=True)
    decide("US inbound", mode="shadow", reassigned=True)  # shadow decisions assign nobody
    decide("US inbound", outcome="queued")  # nobody assigned, nothing to reassign
    metrics_rollup(now=at(18), full=True)
    assert totals(keys=["reassignment_rate"])["reassignment_rate"] == {
        "US inbound": (33.3, 33.3),
        "No routing rule": (100.0, 100.0),
    }


def test_a_later_touch_updates_the_day_it_belongs_to(people):
    """A clock started yesterday and touched today: the next roll-up recomputes yesterday."""
    ann, _, _, _ = people
    started = at(10) - dt.timedelta(days=3)
    c = clock(ann, arrived=started, started=started, status="running")
    metrics_rollup(now=at(8))
    assert "SLA met" not in {
        s["name"] for s in metrics_read(start=started.date(), end=DAY, team_ids=None, keys=["sla_met"])[0]["series"]
    }
    SlaClock.objects.filter(pk=c.pk).update(status="met", first_touch_at=at(9), stopped_at=at(9))
    metrics_rollup(now=at(9, 5))
    data = metrics_read(start=started.date(), end=started.date(), team_ids=None, keys=["sla_met"])
    assert data[0]["series"][0]["total"] == 100.0


def test_speed_to_lead_of_a_lead_stored_after_its_assignment_counts_from_the_assignment(people):
    ann, _, _, _ = people
    clock(ann, arrived=at(14), started=at(10), touched=at(10, 30))  # imported after the fact
    metrics_rollup(now=at(18), full=True)
    assert totals(keys=["speed_to_lead"])["speed_to_lead"]["Median"] == (None, 30.0)
