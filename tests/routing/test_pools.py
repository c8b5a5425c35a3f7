"""Pool member selection: strategies, availability, caps, membership, snapshots and the locked pick."""

import datetime as dt
import json
import time
from fractions import Fraction

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError
from hypothesis import given, settings
from hypothesis import strategies as st

from revops.models import Lead
from routing.models import Pool, PoolCounter, PoolMember, RoutingDecision
from routing.pools import (
    MemberState,
    PoolConfig,
    PoolPick,
    choose,
    load_states,
    local_midnight,
    newcomer_baseline,
    pool_pick,
    pool_record_assignment,
    resolve_members,
)
from tests.factories import LeadFactory, RepFactory, TeamFactory

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday: 10:00 in New York, 15:00 in Berlin, 23:00 in Tokyo
WEIGHTED = PoolConfig(pool_id=1, name="Inbound", strategy="weighted")
WORKING_HOURS = PoolConfig(name="Inbound", strategy="round_robin", respect_working_hours=True)


def route_lead(lead: Lead, pool_id: int, *, now: dt.datetime, exclude_rep_ids=(), pause: float = 0.0) -> PoolPick:
    """What the routing engine does for a pool target, in one transaction: lock and pick, assign, count, record."""
    with transaction.atomic():
        pick = pool_pick(pool_id, now=now, lock=True, exclude_rep_ids=exclude_rep_ids)
        if pause:
            time.sleep(pause)  # widen the window in which an unlocked picker would read stale counts
        decision = {"lead": lead, "mode": "live", "pool_id": pool_id, "decided_at": now, "target_type": "pool"}
        decision.update(explanation={"pool": pick.as_dict()}, summary=pick.reason)
        if pick.rep_id is None:
            RoutingDecision.objects.create(outcome="unassigned", **decision)
            return pick
        lead.owner_id = pick.rep_id
        lead.save(update_fields=["owner", "updated_at"])
        pool_record_assignment(pool_id=pool_id, rep_id=pick.rep_id, now=now)
        RoutingDecision.objects.create(outcome="assigned", owner_id=pick.rep_id, **decision)
    return pick


def member(rep_id: int, name: str, **kwargs) -> MemberState:
    return MemberState(rep_id=rep_id, external_id=f"R{rep_id}", name=name, **kwargs)


def by_name(pick: PoolPick) -> dict:
    return {c.name: c for c in pick.candidates}


def take(members: list[MemberState], config: PoolConfig, *, now=NOW, last_rep_id=None) -> PoolPick:
    """Pick and move the chosen member's snapshot forward, as the backtest does."""
    pick = choose(config, members, now=now, last_rep_id=last_rep_id)
    for m in members:
        if m.rep_id == pick.rep_id:
            m.record_assignment(now=now)
    return pick


# --- Strategies (pure) -------------------------------------------------------------------------------------------


def test_weighted_follows_weights_and_keeps_per_weight_counts_within_one():
    members = [member(1, "Ana", weight=1), member(2, "Bo", weight=2, position=1), member(3, "Cy", weight=3, position=2)]
    for _ in range(60):
        take(members, WEIGHTED)
        shares = [Fraction(m.assigned, m.weight) for m in members]
        assert max(shares) - min(shares) <= 1
    assert [m.assigned for m in members] == [10, 20, 30]


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(1, 12), min_size=1, max_size=7), picks=st.integers(0, 150))
def test_weighted_spread_property(weights, picks):
    members = [member(i + 1, f"M{i}", weight=w, position=i) for i, w in enumerate(weights)]
    for _ in range(picks):
        take(members, WEIGHTED)
    shares = [Fraction(m.assigned, m.weight) for m in members]
    assert max(shares) - min(shares) <= 1
    assert sum(m.assigned for m in members) == picks


def test_weighted_reasons_and_ties_by_position():
    members = [
        member(4, "Di Li", weight=3, assigned=9, position=3),
        member(1, "Ana Ruiz", weight=1, assigned=3, position=0),
        member(2, "Bo Chen", weight=1, assigned=4, position=1),
        member(3, "Cy Park", weight=2, assigned=7, position=2),
    ]
    pick = choose(WEIGHTED, members, now=NOW)
    assert pick.rep_id == 1
    assert pick.reason == "Ana Ruiz: fewest leads per unit of weight (3/1) among 4 available members"
    assert [c.name for c in pick.candidates] == ["Ana Ruiz", "Bo Chen", "Cy Park", "Di Li"]
    c = by_name(pick)
    assert (c["Ana Ruiz"].status, c["Ana Ruiz"].reason) == ("chosen", "chosen: fewest leads per unit of weight (3/1)")
    assert c["Bo Chen"].status == "eligible"
    assert c["Bo Chen"].reason == "not chosen: 4 leads per unit of weight vs 3 for Ana Ruiz"
    assert c["Cy Park"].reason == "not chosen: 3.5 leads per unit of weight vs 3 for Ana Ruiz"
    assert (
        c["Di Li"].reason
        == "not chosen: same 3 leads per unit of weight as Ana Ruiz, who comes first in the pool order"
    )
    assert pick.chosen is c["Ana Ruiz"]


def test_round_robin_order_wrap_and_skip():
    config = PoolConfig(strategy="round_robin")
    members = [member(3, "Cy", position=2), member(1, "Ana", position=0), member(4, "Di", position=3)]
    members.insert(1, member(2, "Bo", position=1))
    assert choose(config, members, now=NOW).rep_id == 1
    assert choose(config, members, now=NOW).reason == "Ana: first in the rotation among 4 available members"
    assert choose(config, members, now=NOW, last_rep_id=2).rep_id == 3
    wrapped = choose(config, members, now=NOW, last_rep_id=4)
    assert wrapped.rep_id == 1 and wrapped.reason == "Ana: next in the rotation after Di among 4 available members"
    assert by_name(wrapped)["Bo"].reason == "not chosen: Ana comes before them in the rotation"
    assert choose(config, members, now=NOW, last_rep_id=99).rep_id == 1  # the last rep left the pool

    next(m for m in members if m.name == "Cy").is_active = False
    assert choose(config, members, now=NOW, last_rep_id=2).rep_id == 4
    for m in members:
        m.is_active = m.rep_id == 2
    alone = choose(config, members, now=NOW, last_rep_id=2)
    assert alone.rep_id == 2 and alone.reason == "Bo: next in the rotation after Bo among 1 available member"

    sequence = [take(members := [member(i, f"M{i}", position=i) for i in (1, 2, 3)], config).rep_id]
    last = sequence[0]
    for _ in range(5):
        last = take(members, config, last_rep_id=last).rep_id
        sequence.append(last)
    assert sequence == [1, 2, 3, 1, 2, 3]


def test_least_loaded_prefers_fewest_open_then_longest_wait_then_position():
    config = PoolConfig(strategy="least_loaded")
    members = [
        member(1, "Ana", open_leads=5, position=0),
        member(2, "Bo", open_leads=3, position=1, last_assigned_at=NOW - dt.timedelta(hours=1)),
        member(3, "Cy", open_leads=3, position=2, last_assigned_at=NOW - dt.timedelta(hours=5)),
        member(4, "Di", open_leads=3, position=3),  # never assigned by this pool: waited longest
    ]
    pick = choose(config, members, now=NOW)
    assert pick.rep_id == 4 and pick.reason == "Di: fewest open leads (3) among 4 available members"
    c = by_name(pick)
    assert c["Ana"].reason == "not chosen: 5 open leads vs 3 for Di"
    assert c["Bo"].reason == "not chosen: same 3 open leads as Di, who has waited longer for a lead"
    members[3].open_leads = 4
    assert choose(config, members, now=NOW).rep_id == 3
    members[2].last_assigned_at = members[1].last_assigned_at
    tie = choose(config, members, now=NOW)
    assert tie.rep_id == 2
    assert by_name(tie)["Cy"].reason == "not chosen: same 3 open leads as Bo, who comes first in the pool order"


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown pool strategy 'random'"):
        choose(PoolConfig(strategy="random"), [member(1, "Ana")], now=NOW)


# --- Availability and caps (pure) --------------------------------------------------------------------------------


def test_inactive_and_out_of_office_members_are_skipped():
    berlin = dt.timezone(dt.timedelta(hours=1))
    members = [
        member(1, "Ana", is_active=False),
        member(2, "Bo", out_of_office_until=dt.datetime(2026, 3, 12, 10, 0, tzinfo=berlin)),
        member(3, "Cy", out_of_office_until=NOW - dt.timedelta(minutes=1)),  # back already
        member(4, "Di", out_of_office_until=NOW),  # back exactly now
    ]
    pick = choose(WEIGHTED, members, now=NOW)
    c = by_name(pick)
    assert (c["Ana"].status, c["Ana"].reason) == ("skipped", "inactive in the CRM")
    assert (c["Bo"].status, c["Bo"].reason) == ("skipped", "out of office until 2026-03-12 09:00 UTC")
    assert pick.rep_id == 3 and c["Di"].status == "eligible"
    assert pick.reason.endswith("among 2 available members")


def test_working_hours_are_read_in_each_reps_zone():
    members = [
        member(1, "Tokyo", time_zone="Asia/Tokyo"),
        member(2, "New York", time_zone="America/New_York", position=1),
        member(3, "Berlin", time_zone="Europe/Berlin", position=2),
    ]
    pick = choose(WORKING_HOURS, members, now=NOW)
    c = by_name(pick)
    assert c["Tokyo"].reason == "outside working hours (23:00 in Asia/Tokyo; works 09:00–17:00 Mon–Fri)"
    assert pick.rep_id == 2 and c["Berlin"].status == "eligible"

    early = choose(WORKING_HOURS, members, now=NOW - dt.timedelta(hours=1, minutes=48))  # 12:12 UTC
    assert (
        by_name(early)["New York"].reason
        == "outside working hours (08:12 in America/New_York; works 09:00–17:00 Mon–Fri)"
    )
    assert early.rep_id == 3

    saturday = choose(WORKING_HOURS, members, now=dt.datetime(2026, 3, 14, 14, 0, tzinfo=UTC))
    assert saturday.rep_id is None and saturday.all_unavailable
    reason = by_name(saturday)["New York"].reason
    assert reason == "outside working hours (Sat 10:00 in America/New_York; works 09:00–17:00 Mon–Fri)"

    ignoring = choose(PoolConfig(strategy="round_robin"), members, now=NOW)
    assert ignoring.rep_id == 1  # working hours not respected by this pool


def test_unknown_time_zone_is_treated_as_utc_and_said_so():
    members = [member(1, "Mars", time_zone="Mars/Olympus")]
    day = choose(WORKING_HOURS, members, now=NOW)
    assert day.rep_id == 1
    assert day.candidates[0].reason == (
        "chosen: first in the rotation (time zone 'Mars/Olympus' is unknown, so UTC was used)"
    )
    night = choose(WORKING_HOURS, members, now=NOW.replace(hour=20))
    assert night.candidates[0].reason == (
        "outside working hours (20:00 in UTC, as time zone 'Mars/Olympus' is unknown; works 09:00–17:00 Mon–Fri)"
    )
    assert local_midnight(NOW, "Mars/Olympus") == dt.datetime(2026, 3, 10, tzinfo=UTC)


def test_overnight_shifts_and_odd_working_days():
    config = PoolConfig(
        strategy="weighted",
        respect_working_hours=True,
        working_hours_start=dt.time(22, 0),
        working_hours_end=dt.time(6, 0),
        working_days=(0, 2, 4),
    )
    members = [member(1, "Night", time_zone="UTC")]
    monday = dt.datetime(2026, 3, 9, tzinfo=UTC)
    assert choose(config, members, now=monday.replace(hour=23)).rep_id == 1
    assert choose(config, members, now=monday.replace(hour=3)).rep_id == 1
    noon = choose(config, members, now=monday.replace(hour=12))
    assert noon.candidates[0].reason == "outside working hours (12:00 in UTC; works 22:00–06:00 Mon, Wed, Fri)"


def test_open_lead_and_daily_caps():
    members = [
        member(1, "Ana", open_leads=25, max_open_leads=25),
        member(2, "Bo", today=10, max_per_day=10, position=1),
        member(3, "Cy", open_leads=24, max_open_leads=25, today=9, max_per_day=10, position=2),
    ]
    pick = choose(WEIGHTED, members, now=NOW)
    c = by_name(pick)
    assert c["Ana"].reason == "at the open-lead cap (25 of 25)"
    assert c["Bo"].reason == "at the daily cap (10 of 10 today)"
    assert pick.rep_id == 3 and pick.reason == "Cy: fewest leads per unit of weight (0/1) among 1 available member"


def test_everyone_capped_or_unavailable():
    members = [
        member(1, "Ana", open_leads=25, max_open_leads=25),
        member(2, "Bo", today=10, max_per_day=10, position=1),
        member(3, "Cy", is_active=False, position=2),
        member(4, "Di", max_per_day=0, position=3),
    ]
    pick = choose(WEIGHTED, members, now=NOW)
    assert pick.rep_id is None and pick.all_unavailable and pick.chosen is None
    assert all(c.status == "skipped" for c in pick.candidates)
    assert [c.reason for c in pick.candidates] == [
        "at the open-lead cap (25 of 25)",
        "at the daily cap (10 of 10 today)",
        "inactive in the CRM",
        "at the daily cap (0 of 0 today)",
    ]
    assert pick.reason == (
        "no member can take the lead: Ana, at the open-lead cap (25 of 25); "
        "Bo, at the daily cap (10 of 10 today); Cy, inactive in the CRM; Di, at the daily cap (0 of 0 today)"
    )
    # The headline names what kept each one out: not "every member is capped" while Cy is inactive.
    assert not pick.all_capped
    assert pick.unavailable == "Ana is capped, Bo is capped, Cy is inactive, Di is capped"
    capped = choose(WEIGHTED, [members[0], members[1]], now=NOW)
    assert capped.all_capped and capped.reason.startswith("every member is capped: ")
    excluded = choose(WEIGHTED, [member(1, "Ana"), members[2]], now=NOW, exclude_rep_ids={1: "routed away"})
    assert excluded.unavailable == "Ana is excluded from this re-route, Cy is inactive"
    crowd = [member(i, f"R{i}", today=10, max_per_day=10, position=i) for i in range(5)]
    crowd.append(member(9, "Zed", is_active=False, position=9))
    assert choose(WEIGHTED, crowd, now=NOW).unavailable == "5 capped, 1 inactive"
    empty = choose(WEIGHTED, [], now=NOW)
    assert (empty.rep_id, empty.all_unavailable, empty.reason) == (None, False, "the pool has no active members")


def test_excluded_reps_are_skipped_with_the_callers_reason():
    members = [member(1, "Ana"), member(2, "Bo", position=1, assigned=5)]
    pick = choose(WEIGHTED, members, now=NOW, exclude_rep_ids={1: "the current owner missed the SLA"})
    assert pick.rep_id == 2
    assert by_name(pick)["Ana"].reason == "excluded: the current owner missed the SLA"
    plain = choose(WEIGHTED, members, now=NOW, exclude_rep_ids={1})
    assert by_name(plain)["Ana"].reason == "excluded: the lead is being routed away from this rep"
    assert choose(WEIGHTED, members, now=NOW, exclude_rep_ids=[1, 2]).all_unavailable


def test_pick_is_json_ready_and_reasons_read_as_sentences():
    members = [
        member(1, "Ana", weight=2, assigned=3),
        member(2, "Bo", is_active=False, position=1),
        member(3, "Cy", today=4, max_per_day=4, position=2),
        member(4, "Di", open_leads=1, assigned=1, position=3),
    ]
    pick = choose(WEIGHTED, members, now=NOW)
    data = json.loads(json.dumps(pick.as_dict()))
    assert data["rep_id"] == 4 and data["strategy"] == "weighted" and data["pool_name"] == "Inbound"
    assert set(data["candidates"][0]) == {
        "rep_id", "external_id", "name", "weight", "status", "reason", "open_leads", "today", "assigned",
    }  # fmt: skip
    for text in [pick.reason, *(c.reason for c in pick.candidates)]:
        assert text and text == text.strip() and text[0].isalpha()
        assert not any(bad in text for bad in ("None", "Fraction", "{", "}", "[", "_"))
    assert by_name(pick)["Ana"].reason == "not chosen: 1.5 leads per unit of weight vs 1 for Di"
    assert pick.reason == "Di: fewest leads per unit of weight (1/1) among 2 available members"


def test_newcomer_baseline():
    assert newcomer_baseline(3, []) == 0
    assert newcomer_baseline(3, [(5, 1), (12, 2)]) == 15
    assert newcomer_baseline(2, [(7, 3), (9, 3)]) == 4  # floor(7/3 × 2)


# --- Database layer ----------------------------------------------------------------------------------------------


def make_pool(name="Inbound", **kwargs) -> Pool:
    return Pool.objects.create(name=name, **kwargs)


def add(pool: Pool, rep=None, **kwargs) -> PoolMember:
    return PoolMember.objects.create(pool=pool, rep=rep, **kwargs)


@pytest.mark.django_db
def test_resolve_members_expands_teams_by_role_and_dedupes():
    team = TeamFactory()
    sam = RepFactory(team=team, title="SDR", name="Sam")
    ae = RepFactory(team=team, title="Account Executive", name="Ae")
    RepFactory(team=team, title="Senior SDR", name="Gone", is_active=False)
    bea = RepFactory(team=team, title="senior sdr", name="Bea")
    solo = RepFactory(name="Solo", is_active=False)
    pool = make_pool()
    sdrs = add(pool, team=team, role="SDR", weight=2, position=0)
    add(pool, solo, position=1)
    explicit_sam = add(pool, sam, weight=3, position=5)
    add(pool, ae, position=2, is_active=False)
    everyone = add(pool, team=team, weight=7, position=9)

    resolved = resolve_members(pool)
    assert [(rep.name, entry.pk) for rep, entry in resolved] == [
        ("Gone", sdrs.pk),  # inactive team members stay too: the pick shows them skipped
        ("Bea", sdrs.pk),
        ("Solo", resolved[2][1].pk),  # inactive explicit reps stay, so the pick can explain the skip
        ("Sam", explicit_sam.pk),  # the explicit entry wins over the team entry
        ("Ae", everyone.pk),  # the inactive explicit entry is ignored; the second team entry brings Ae in
    ]

    newcomer = RepFactory(team=team, title="SDR II", name="Newcomer")
    names = [rep.name for rep, _ in resolve_members(pool)]
    assert names == ["Gone", "Bea", "Newcomer", "Solo", "Sam", "Ae"]
    states = load_states(pool, now=NOW)
    assert [(s.name, s.weight, s.position) for s in states][:3] == [("Gone", 2, 0), ("Bea", 2, 0), ("Newcomer", 2, 0)]
    assert resolve_members(make_pool("Empty")) == []

    pick = pool_pick(pool, now=NOW, lock=False)
    assert pick.rep_id == bea.pk  # everyone at 0 per weight: the first in rotation order
    assert by_name(pick)["Solo"].reason == by_name(pick)["Gone"].reason == "inactive in the CRM"
    lead = LeadFactory()
    route_lead(lead, pool.pk, now=NOW)
    assert pool_pick(pool, now=NOW, lock=False).rep_id == newcomer.pk


@pytest.mark.django_db
def test_load_states_counts_caps_and_local_days():
    pool = make_pool(max_open_leads=20, max_per_day=5)
    ny = RepFactory(name="Ny", time_zone="America/New_York")
    tokyo = RepFactory(name="Tokyo", time_zone="Asia/Tokyo", out_of_office_until=NOW + dt.timedelta(days=1))
    add(pool, ny, weight=2, max_per_day=3, position=0)
    add(pool, tokyo, weight=3, max_open_leads=4, position=1)
    for status in ("new", "new", "working", "qualified", "nurture"):
        LeadFactory(owner=ny, status=status)
    LeadFactory(owner=None)

    def decided(rep, at, **kwargs):
        fields = {"mode": "live", "outcome": "assigned", **kwargs}
        RoutingDecision.objects.create(lead=LeadFactory(), owner=rep, decided_at=at, **fields)

    # New York's day began at 04:00 UTC; Tokyo's at 15:00 UTC the day before.
    decided(ny, dt.datetime(2026, 3, 10, 3, 59, tzinfo=UTC))  # yesterday in New York
    decided(ny, dt.datetime(2026, 3, 10, 4, 0, tzinfo=UTC))
    decided(ny, dt.datetime(2026, 3, 10, 13, 0, tzinfo=UTC))
    decided(ny, dt.datetime(2026, 3, 10, 12, 30, tzinfo=UTC), outcome="fallback")
    decided(ny, dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC), mode="shadow")
    decided(ny, dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC), outcome="queued")
    decided(tokyo, dt.datetime(2026, 3, 9, 14, 59, tzinfo=UTC))
    decided(tokyo, dt.datetime(2026, 3, 9, 15, 0, tzinfo=UTC))
    PoolCounter.objects.create(pool=pool, rep=ny, assigned=6, last_assigned_at=NOW - dt.timedelta(hours=2))

    ny_state, tokyo_state = load_states(pool, now=NOW)
    assert ny_state == MemberState(
        rep_id=ny.pk,
        external_id=ny.external_id,
        name="Ny",
        weight=2,
        position=0,
        is_active=True,
        out_of_office_until=None,
        time_zone="America/New_York",
        max_open_leads=20,
        max_per_day=3,
        open_leads=3,
        today=3,
        assigned=6,
        last_assigned_at=NOW - dt.timedelta(hours=2),
    )
    assert (tokyo_state.max_open_leads, tokyo_state.max_per_day) == (4, 5)
    assert (tokyo_state.open_leads, tokyo_state.today) == (0, 1)
    assert (tokyo_state.assigned, tokyo_state.last_assigned_at) == (9, None)  # newcomer: floor(6/2 × 3)
    assert tokyo_state.out_of_office_until == tokyo.out_of_office_until

    pick = pool_pick(pool.pk, now=NOW, lock=False)
    assert pick.rep_id is None and pick.all_unavailable
    assert [c.reason for c in pick.candidates] == [
        "at the daily cap (3 of 3 today)",
        f"out of office until {tokyo.out_of_office_until.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
    ]


@pytest.mark.django_db
def test_daily_cap_boundary_is_the_reps_local_midnight():
    pool = make_pool(max_per_day=1)
    tokyo = RepFactory(name="Tokyo", time_zone="Asia/Tokyo")
    add(pool, tokyo)
    RoutingDecision.objects.create(
        lead=LeadFactory(),
        owner=tokyo,
        mode="live",
        outcome="assigned",
        decided_at=dt.datetime(2026, 3, 9, 14, 30, tzinfo=UTC),
    )  # 23:30 on Monday in Tokyo
    assert pool_pick(pool, now=NOW, lock=False).rep_id == tokyo.pk
    RoutingDecision.objects.create(
        lead=LeadFactory(),
        owner=tokyo,
        mode="live",
        outcome="assigned",
        decided_at=dt.datetime(2026, 3, 9, 15, 30, tzinfo=UTC),
    )  # 00:30 on Tuesday in Tokyo, still Monday in UTC
    pick = pool_pick(pool, now=NOW, lock=False)
    assert pick.rep_id is None
    assert pick.candidates[0].reason == "at the daily cap (1 of 1 today)"
    tomorrow = dt.datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 00:00 on Wednesday in Tokyo
    assert pool_pick(pool, now=tomorrow, lock=False).rep_id == tokyo.pk


@pytest.mark.django_db
def test_routing_flow_counts_and_rotates():
    pool = make_pool(strategy="weighted")
    ana, bo = RepFactory(name="Ana"), RepFactory(name="Bo")
    add(pool, ana, weight=1, position=0)
    add(pool, bo, weight=2, position=1)
    picks = [route_lead(LeadFactory(), pool.pk, now=NOW).rep_id for _ in range(6)]
    assert picks.count(ana.pk) == 2 and picks.count(bo.pk) == 4
    counters = dict(PoolCounter.objects.filter(pool=pool).values_list("rep_id", "assigned"))
    assert counters == {ana.pk: 2, bo.pk: 4}
    pool.refresh_from_db()
    assert pool.last_rep_id == picks[-1]
    assert pool.history.count() == 1  # last_rep is written with update(): no history row per lead
    assert Lead.objects.filter(owner=bo, status="new").count() == 4
    assert RoutingDecision.objects.filter(pool=pool, outcome="assigned").count() == 6

    rr = make_pool("Round robin", strategy="round_robin")
    cy = RepFactory(name="Cy")
    for position, rep in enumerate([ana, bo, cy]):
        add(rr, rep, position=position)
    assert [route_lead(LeadFactory(), rr.pk, now=NOW).rep_id for _ in range(4)] == [ana.pk, bo.pk, cy.pk, ana.pk]
    bo.is_active = False
    bo.save()
    assert [route_lead(LeadFactory(), rr.pk, now=NOW).rep_id for _ in range(2)] == [cy.pk, ana.pk]


@pytest.mark.django_db
def test_least_loaded_uses_open_leads_in_the_crm():
    pool = make_pool(strategy="least_loaded", max_open_leads=2)
    ana, bo = RepFactory(name="Ana"), RepFactory(name="Bo")
    add(pool, ana, position=0)
    add(pool, bo, position=1)
    LeadFactory(owner=ana, status="working")
    LeadFactory(owner=bo, status="unqualified")
    assert route_lead(LeadFactory(), pool.pk, now=NOW).rep_id == bo.pk
    assert route_lead(LeadFactory(), pool.pk, now=NOW).rep_id == ana.pk  # tie at 1: Ana has waited longer
    assert route_lead(LeadFactory(), pool.pk, now=NOW).rep_id == bo.pk
    capped = route_lead(LeadFactory(), pool.pk, now=NOW)
    assert capped.rep_id is None and capped.all_unavailable
    assert [c.reason for c in capped.candidates] == ["at the open-lead cap (2 of 2)"] * 2


@pytest.mark.django_db
def test_exclude_and_inactive_pool():
    pool = make_pool()
    ana, bo = RepFactory(name="Ana"), RepFactory(name="Bo")
    add(pool, ana)
    add(pool, bo, position=1)
    pick = pool_pick(pool, now=NOW, lock=False, exclude_rep_ids={ana.pk: "the current owner missed the SLA"})
    assert pick.rep_id == bo.pk and by_name(pick)["Ana"].reason == "excluded: the current owner missed the SLA"
    Pool.objects.filter(pk=pool.pk).update(is_active=False)
    off = pool_pick(pool.pk, now=NOW, lock=False)
    assert (off.rep_id, off.all_unavailable, off.reason) == (None, False, "the pool is inactive")


@pytest.mark.django_db
def test_newcomer_starts_at_the_least_served_share():
    pool = make_pool(strategy="weighted")
    ana, bo, cy = RepFactory(name="Ana"), RepFactory(name="Bo"), RepFactory(name="Cy")
    add(pool, ana, weight=1, position=0)
    add(pool, bo, weight=2, position=1)
    PoolCounter.objects.create(pool=pool, rep=ana, assigned=5)
    PoolCounter.objects.create(pool=pool, rep=bo, assigned=12)
    add(pool, cy, weight=3, position=2)
    assert [s.assigned for s in load_states(pool, now=NOW)] == [5, 12, 15]

    picks = [route_lead(LeadFactory(), pool.pk, now=NOW).rep_id for _ in range(6)]
    assert picks == [ana.pk, cy.pk, cy.pk, cy.pk, ana.pk, bo.pk]  # no burst for the newcomer
    assert PoolCounter.objects.get(pool=pool, rep=cy).assigned == 18

    outsider = RepFactory(name="Outsider")  # e.g. assigned anyway; not a member: weight 1
    with transaction.atomic():
        pool_record_assignment(pool_id=pool.pk, rep_id=outsider.pk, now=NOW)
    assert PoolCounter.objects.get(pool=pool, rep=outsider).assigned == 6 + 1


@pytest.mark.django_db
def test_query_count_does_not_grow_with_the_pool(django_assert_max_num_queries, django_assert_num_queries):
    zones = ["UTC", "America/New_York", "Asia/Tokyo", "Europe/Berlin", "Australia/Sydney"]

    def build(name: str, size: int) -> Pool:
        pool = make_pool(name, max_per_day=50)
        team = TeamFactory()
        for i in range(size):
            rep = RepFactory(team=team if i % 2 else None, title="SDR", time_zone=zones[i % len(zones)])
            if i % 2 == 0:
                add(pool, rep, weight=1 + i % 3, position=i)
            LeadFactory(owner=rep)
            RoutingDecision.objects.create(
                lead=LeadFactory(), owner=rep, mode="live", outcome="assigned", decided_at=NOW
            )
            if i % 3:
                PoolCounter.objects.create(pool=pool, rep=rep, assigned=i)
        add(pool, team=team, role="sdr", position=size)
        return pool

    small, large = build("Small", 2), build("Large", 40)
    assert len(load_states(large, now=NOW)) == 40
    for pool in (small, large):
        with django_assert_num_queries(5):
            load_states(pool, now=NOW)
        with transaction.atomic():
            with django_assert_max_num_queries(6):
                pick = pool_pick(pool.pk, now=NOW, lock=True)
            assert pick.rep_id is not None


@pytest.mark.django_db(transaction=True)
def test_locked_pick_and_recording_require_a_transaction():
    pool = make_pool()
    rep = RepFactory()
    add(pool, rep)
    with pytest.raises(TransactionManagementError, match="inside transaction.atomic"):
        pool_pick(pool, now=NOW, lock=True)
    with pytest.raises(TransactionManagementError, match="inside transaction.atomic"):
        pool_record_assignment(pool_id=pool.pk, rep_id=rep.pk, now=NOW)
    assert pool_pick(pool, now=NOW, lock=False).rep_id == rep.pk
