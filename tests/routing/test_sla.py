"""Response-SLA maths and policy choice: business hours (weekends, nights, holidays, DST, long
targets), 24/7 clocks, calendars per team, first-match policy choice with its explanation, and the
plan a routing action starts a clock from."""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from routing import sla
from routing.models import BusinessCalendar, SlaPolicy
from routing.sla import (
    business_deadline,
    business_minutes_between,
    calendar_for,
    choose_policy,
    load_calendars,
    sla_plan,
)
from tests.factories import LeadFactory, RepFactory, TeamFactory

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC


def at(zone, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def calendar(tz="Europe/Berlin", **fields) -> BusinessCalendar:
    """An unsaved calendar: the maths needs no database."""
    values = {
        "name": f"Office {tz}",
        "time_zone": tz,
        "working_days": [0, 1, 2, 3, 4],
        "day_start": dt.time(9),
        "day_end": dt.time(17),
        "holidays": [],
    }
    values.update(fields)
    return BusinessCalendar(**values)


# --- business_deadline ----------------------------------------------------------------------------


def test_without_a_calendar_the_clock_counts_around_the_clock():
    start = at(UTC, 2026, 11, 28, 23, 50)  # a Saturday night
    assert business_deadline(start, 30, None) == at(UTC, 2026, 11, 29, 0, 20)
    assert business_minutes_between(start, at(UTC, 2026, 11, 29, 0, 20), None) == 30


def test_inside_working_hours_the_deadline_is_the_same_day():
    start = at(BERLIN, 2026, 11, 24, 10, 0)
    due = business_deadline(start, 60, calendar())
    assert due == at(BERLIN, 2026, 11, 24, 11, 0)
    assert due.tzinfo == UTC


def test_time_left_at_closing_carries_over_to_the_next_morning():
    due = business_deadline(at(BERLIN, 2026, 11, 24, 16, 30), 60, calendar())
    assert due == at(BERLIN, 2026, 11, 25, 9, 30)


def test_a_target_filling_the_rest_of_the_day_ends_at_closing_time():
    assert business_deadline(at(BERLIN, 2026, 11, 24, 16, 0), 60, calendar()) == at(BERLIN, 2026, 11, 24, 17, 0)


def test_weekends_are_skipped():
    due = business_deadline(at(BERLIN, 2026, 11, 27, 16, 0), 120, calendar())  # Friday
    assert due == at(BERLIN, 2026, 11, 30, 10, 0)  # Monday


@pytest.mark.parametrize(
    "start",
    [
        at(BERLIN, 2026, 11, 28, 12, 0),  # Saturday noon
        at(BERLIN, 2026, 11, 27, 18, 30),  # Friday evening
        at(BERLIN, 2026, 11, 30, 6, 0),  # Monday before opening
    ],
)
def test_a_start_outside_hours_counts_from_the_next_opening(start):
    assert business_deadline(start, 15, calendar()) == at(BERLIN, 2026, 11, 30, 9, 15)


def test_holidays_are_skipped():
    cal = calendar(holidays=["2026-12-24", "2026-12-25"])
    due = business_deadline(at(BERLIN, 2026, 12, 23, 16, 0), 120, cal)  # Wednesday before Christmas
    assert due == at(BERLIN, 2026, 12, 28, 10, 0)  # Thursday and Friday off, then the weekend


def test_hours_are_local_wall_time_across_the_spring_dst_change_in_berlin():
    # Friday 16:00 CET (15:00 UTC); the clocks go forward on Sunday 29 March.
    due = business_deadline(at(BERLIN, 2026, 3, 27, 16, 0), 120, calendar())
    assert due == at(BERLIN, 2026, 3, 30, 10, 0)
    assert due == at(UTC, 2026, 3, 30, 8, 0)  # CEST: one hour less offset to UTC than on Friday


def test_hours_are_local_wall_time_across_the_autumn_dst_change_in_new_york():
    cal = calendar("America/New_York")
    due = business_deadline(at(NEW_YORK, 2026, 10, 30, 16, 0), 120, cal)  # Friday, EDT
    assert due == at(UTC, 2026, 11, 2, 15, 0)  # Monday 10:00 EST
    assert business_minutes_between(at(NEW_YORK, 2026, 10, 30, 16, 0), due, cal) == 120


def test_a_working_window_containing_the_dst_change_counts_real_minutes():
    cal = calendar(working_days=list(range(7)), day_start=dt.time(0), day_end=dt.time(12))
    sunday = dt.date(2026, 3, 29)  # 02:00 → 03:00 in Berlin
    start = dt.datetime.combine(sunday, dt.time(0), tzinfo=BERLIN)
    assert business_minutes_between(start, start + dt.timedelta(days=1), cal) == 11 * 60
    assert business_deadline(start, 11 * 60, cal) == at(BERLIN, 2026, 3, 29, 12, 0)


def test_long_targets_span_many_days():
    cal = calendar("UTC")
    monday = at(UTC, 2026, 11, 2, 9, 0)
    assert business_deadline(monday, 5 * 480, cal) == at(UTC, 2026, 11, 6, 17, 0)  # one working week
    assert business_deadline(monday, 20 * 480 + 400, cal) == at(UTC, 2026, 11, 30, 15, 40)


def test_long_targets_jump_whole_days():
    cal = calendar(holidays=[f"2027-01-{day:02d}" for day in range(1, 29)])
    began = time.perf_counter()
    due = business_deadline(at(BERLIN, 2026, 11, 2, 9, 0), 500_000, cal)  # ~1040 working days
    assert time.perf_counter() - began < 1.0
    assert business_minutes_between(at(BERLIN, 2026, 11, 2, 9, 0), due, cal) == pytest.approx(500_000)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"working_days": []}, "no working days"),
        ({"day_start": dt.time(17), "day_end": dt.time(9)}, "no working time"),
        ({"day_start": dt.time(9), "day_end": dt.time(9)}, "no working time"),
        ({"time_zone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"holidays": ["next Tuesday"]}, "not a date"),
    ],
)
def test_a_calendar_without_working_time_is_refused_plainly(fields, message):
    with pytest.raises(ValueError, match=message):
        business_deadline(at(UTC, 2026, 11, 24, 10, 0), 30, calendar(**fields))


def test_business_minutes_between_skips_nights_weekends_and_works_both_ways():
    cal = calendar()
    friday = at(BERLIN, 2026, 11, 27, 16, 0)
    monday = at(BERLIN, 2026, 11, 30, 10, 0)
    assert business_minutes_between(friday, monday, cal) == 120
    assert business_minutes_between(monday, friday, cal) == -120
    assert business_minutes_between(at(BERLIN, 2026, 11, 28, 8), at(BERLIN, 2026, 11, 29, 20), cal) == 0


@pytest.mark.parametrize("minutes", [1, 59, 480, 481, 1000, 7777])
@pytest.mark.parametrize("hour", [0, 8, 9, 12, 16, 17, 23])
def test_deadline_and_minutes_between_agree(minutes, hour):
    cal = calendar(holidays=["2026-11-26"])
    start = at(BERLIN, 2026, 11, 25, hour, 17)
    assert business_minutes_between(start, business_deadline(start, minutes, cal), cal) == pytest.approx(minutes)


# --- calendars ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_calendar_for_prefers_the_team_calendar_then_the_default(django_assert_num_queries):
    emea, amer, other = TeamFactory(), TeamFactory(), TeamFactory()
    berlin = BusinessCalendar.objects.create(name="EMEA", time_zone="Europe/Berlin")
    berlin.teams.add(emea)
    default = BusinessCalendar.objects.create(name="Default", time_zone="America/New_York", is_default=True)
    default.teams.add(amer)
    with django_assert_num_queries(2):
        calendars = load_calendars()
        assert calendar_for(RepFactory.build(team=emea), calendars) == berlin
        assert calendar_for(RepFactory.build(team=amer), calendars) == default
        assert calendar_for(RepFactory.build(team=other), calendars) == default
        assert calendar_for(None, calendars) == default
    assert calendar_for(RepFactory.build(team=other), [berlin]) is None


# --- policy choice --------------------------------------------------------------------------------


def policy(name, priority=100, conditions=None, **fields) -> SlaPolicy:
    values = {"target_minutes": 60, "reminder_share": 0.5}
    values.update(fields)
    return SlaPolicy.objects.create(name=name, priority=priority, conditions=conditions or {}, **values)


HOT = {
    "all": [
        {"field": "lead.score", "op": "gte", "value": 80},
        {"field": "lead.source", "op": "eq", "value": "web_form"},
    ]
}
INBOUND = {"all": [{"field": "lead.source", "op": "eq", "value": "web_form"}]}
NOW = at(UTC, 2026, 11, 24, 14, 0)


@pytest.fixture
def policies(db):
    return [
        policy("Catch-all", 100, {}, target_minutes=1440),
        policy("Inbound", 20, INBOUND, target_minutes=60),
        policy("Hot inbound", 10, HOT, target_minutes=5),
        policy("Retired", 1, {}, is_active=False),
    ]


@pytest.mark.django_db
def test_the_first_matching_policy_in_priority_order_wins(policies):
    hot, warm, cold = (
        LeadFactory(score=90, source="web_form"),
        LeadFactory(score=40, source="web_form"),
        LeadFactory(score=90, source="event"),
    )
    assert choose_policy(hot, policies=policies, now=NOW)[0].name == "Hot inbound"
    assert choose_policy(warm, policies=policies, now=NOW)[0].name == "Inbound"
    assert choose_policy(cold, policies=policies, now=NOW)[0].name == "Catch-all"


@pytest.mark.django_db
def test_equal_priorities_are_tried_in_creation_order(db):
    first = policy("First", 5, INBOUND)
    second = policy("Second", 5, INBOUND)
    chosen, _ = choose_policy(LeadFactory(source="web_form"), policies=[second, first], now=NOW)
    assert chosen == first


@pytest.mark.django_db
def test_the_explanation_lists_the_policies_tried_and_the_matched_conditions(policies):
    chosen, why = choose_policy(LeadFactory(score=40, source="web_form"), policies=policies, now=NOW)
    assert chosen.name == "Inbound"
    assert [p["text"] for p in why["policies"]] == ["✗ Hot inbound (priority 10)", "✓ Inbound (priority 20)"]
    assert why["matched"] == {"id": chosen.pk, "name": "Inbound"}
    assert why["conditions_text"][0].startswith("✓ all of")
    assert any("web_form" in line and line.strip().startswith("✓") for line in why["conditions_text"])
    assert "Inbound" in why["summary"]


@pytest.mark.django_db
def test_no_match_is_explained(db):
    only = policy("Hot inbound", 10, HOT)
    chosen, why = choose_policy(LeadFactory(score=10), policies=[only], now=NOW)
    assert chosen is None and why["matched"] is None
    assert why["summary"] == "No SLA policy matched (1 tried)."
    assert choose_policy(LeadFactory(), policies=[], now=NOW)[1]["summary"] == "No active SLA policy exists."


@pytest.mark.django_db
def test_a_policy_with_invalid_conditions_is_skipped_and_says_why(db):
    broken = policy("Broken", 1, {"all": [{"field": "lead.no_such_field", "op": "eq", "value": 1}]})
    fallback = policy("Catch-all", 100, {})
    chosen, why = choose_policy(LeadFactory(), policies=[broken, fallback], now=NOW)
    assert chosen == fallback
    assert why["policies"][0]["matched"] is False and "invalid conditions" in why["policies"][0]["text"]


@pytest.mark.django_db
def test_compiled_conditions_are_cached_per_policy_version(db):
    hot = policy("Hot inbound", 10, HOT)
    lead = LeadFactory(score=90, source="web_form")
    choose_policy(lead, policies=[hot], now=NOW)
    compiled = sla._compiled[(hot.pk, hot.updated_at)]
    choose_policy(lead, policies=[hot], now=NOW)
    assert sla._compiled[(hot.pk, hot.updated_at)] is compiled
    hot.conditions = {"all": [{"field": "lead.score", "op": "gte", "value": 95}]}
    hot.save()
    assert choose_policy(lead, policies=[hot], now=NOW)[0] is None  # the new version is compiled


# --- the plan -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_24_7_plan_has_due_and_reminder_times_and_a_plain_sentence(policies):
    lead = LeadFactory(score=90, source="web_form")
    plan = sla_plan(lead, RepFactory(), now=NOW, policies=policies, calendars=[])
    hot = next(p for p in policies if p.name == "Hot inbound")
    assert plan["policy"] == "Hot inbound" and plan["policy_id"] == hot.pk
    assert plan["target_minutes"] == 5 and plan["business_hours"] is False and plan["calendar"] is None
    assert plan["started_at"] == NOW.isoformat()
    assert plan["due_at"] == "2026-11-24T14:05:00+00:00"
    assert plan["remind_at"] == "2026-11-24T14:02:30+00:00"
    assert plan["text"] == "Hot inbound: first touch due by 2026-11-24 14:05 UTC (5 minutes, 24/7)"
    assert plan["explanation"]["policy"]["matched"]["name"] == "Hot inbound"


@pytest.mark.django_db
def test_a_business_hours_plan_uses_the_owners_team_calendar_for_due_and_reminder(db):
    team = TeamFactory()
    cal = BusinessCalendar.objects.create(name="EMEA", time_zone="Europe/Berlin")
    cal.teams.add(team)
    rule = policy("Inbound", 10, {}, target_minutes=60, reminder_share=0.5, use_business_hours=True)
    friday_late = at(BERLIN, 2026, 11, 27, 16, 30)
    plan = sla_plan(LeadFactory(), RepFactory(team=team), now=friday_late, policies=[rule], calendars=load_calendars())
    assert plan["business_hours"] is True and plan["calendar"] == "EMEA"
    assert dt.datetime.fromisoformat(plan["remind_at"]) == at(BERLIN, 2026, 11, 27, 17, 0)
    assert dt.datetime.fromisoformat(plan["due_at"]) == at(BERLIN, 2026, 11, 30, 9, 30)
    assert plan["explanation"]["calendar"]["why"] == "the owner's team's calendar"
    assert "2026-11-30 08:30 UTC" in plan["text"] and "business hours of EMEA" in plan["text"]
    assert "09:30 Europe/Berlin" in plan["text"]


@pytest.mark.django_db
def test_no_reminder_when_the_share_is_zero(db):
    rule = policy("Quiet", 10, {}, target_minutes=30, reminder_share=0)
    plan = sla_plan(LeadFactory(), None, now=NOW, policies=[rule], calendars=[])
    assert plan["remind_at"] is None and plan["due_at"] == "2026-11-24T14:30:00+00:00"


@pytest.mark.django_db
def test_business_hours_without_any_calendar_falls_back_to_24_7_and_says_so(db):
    rule = policy("Inbound", 10, {}, target_minutes=60, use_business_hours=True)
    plan = sla_plan(LeadFactory(), RepFactory(), now=NOW, policies=[rule], calendars=[])
    assert plan["business_hours"] is False and plan["due_at"] == "2026-11-24T15:00:00+00:00"
    assert "no business calendar" in plan["explanation"]["note"] and "24/7" in plan["text"]


@pytest.mark.django_db
def test_a_calendar_with_no_working_time_falls_back_to_24_7_and_says_so(db):
    broken = BusinessCalendar.objects.create(name="Broken", working_days=[], is_default=True)
    rule = policy("Inbound", 10, {}, target_minutes=60, use_business_hours=True)
    plan = sla_plan(LeadFactory(), RepFactory(), now=NOW, policies=[rule], calendars=[broken])
    assert plan["business_hours"] is False and plan["calendar"] is None
    assert plan["due_at"] == "2026-11-24T15:00:00+00:00" and plan["remind_at"] == "2026-11-24T14:30:00+00:00"
    assert "no working days" in plan["explanation"]["note"] and "counts 24/7 instead" in plan["text"]


@pytest.mark.django_db
def test_no_plan_when_no_policy_matches(db):
    rule = policy("Hot inbound", 10, HOT)
    assert sla_plan(LeadFactory(score=1), None, now=NOW, policies=[rule], calendars=[]) is None
