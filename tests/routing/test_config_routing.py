"""Configuration as code for routing: business calendars, pools, routing rules and SLA policies."""

import datetime as dt
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model

from exceptions.models import Queue
from revops.configuration import Attr, config_apply, config_export, config_export_text, config_plan
from revops.configuration.base import Section
from revops.engine import services as automation_services
from revops.models import Automation
from routing.models import BusinessCalendar, Pool, PoolCounter, PoolMember, RoutingRule, SlaPolicy
from routing.services import routing_rule_save
from tests.factories import RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "routing-config.yaml"
ROUTING_SECTIONS = ("business_calendars", "pools", "routing_rules", "sla_policies")
US = {"all": [{"field": "lead.country", "op": "in", "value": ["US", "CA"]}]}


def doc(**sections):
    return {"version": 1, **sections}


def summary(plan):
    return [(c.section, c.action, c.key, [f[0] for f in c.fields]) for c in plan.changes]


def errors(plan):
    return [str(p) for p in plan.problems]


def routing_counts():
    return tuple(m.objects.count() for m in (BusinessCalendar, Pool, PoolMember, RoutingRule, SlaPolicy))


@pytest.fixture
def org():
    """Two teams and three reps, by external id, and the exception queue a rule sends leads to."""
    Queue.objects.create(name="Strategic review")
    smb = TeamFactory(external_id="T-NA-SMB", name="NA SMB")
    mm = TeamFactory(external_id="T-NA-MM", name="NA Mid-Market")
    reps = {
        "R-101": RepFactory(external_id="R-101", team=smb, title="Account Executive"),
        "R-102": RepFactory(external_id="R-102", team=smb, title="SDR"),
        "R-201": RepFactory(external_id="R-201", team=mm, title="Account Executive"),
    }
    return {"teams": {"T-NA-SMB": smb, "T-NA-MM": mm}, "reps": reps}


POOLS = [
    {
        "name": "NA SMB",
        "description": "NA SMB reps.",
        "strategy": "weighted",
        "max_open_leads": 40,
        "respect_working_hours": True,
        "working_hours_start": "08:30",
        "working_hours_end": "17:30",
        "members": [{"rep": "R-101", "weight": 2}, {"team": "T-NA-SMB", "role": "SDR"}],
    },
    {"name": "NA Mid-Market", "strategy": "least_loaded", "members": [{"team": "T-NA-MM"}]},
]
RULES = [
    {
        "name": "Named accounts",
        "priority": 10,
        "status": "live",
        "conditions": {"all": [{"field": "lead.matched_account.is_named", "op": "eq", "value": True}]},
        "target_type": "account_owner",
    },
    {"name": "Strategic review", "priority": 20, "target_type": "queue", "target_queue": "Strategic review"},
    {
        "name": "NA inbound",
        "priority": 30,
        "status": "live",
        "conditions": US,
        "target_type": "pool",
        "target_pool": "NA SMB",
    },
    {
        "name": "Big deals need approval",
        "priority": 40,
        "status": "shadow",
        "target_type": "approval",
        "approval_owner": "rep",
        "target_rep": "R-201",
        "when_unavailable": "assign_anyway",
        "use_parent_account": False,
    },
]
POLICIES = [
    {
        "name": "Hot inbound",
        "priority": 10,
        "conditions": {"all": [{"field": "lead.score", "op": "gte", "value": 80}]},
        "target_minutes": 5,
        "reminder_share": 0.6,
        "reroute_on_breach": True,
    },
    {"name": "MQL", "priority": 30, "target_minutes": 1440, "use_business_hours": True, "reminder_share": 0},
]
CALENDARS = [
    {
        "name": "North America",
        "time_zone": "America/New_York",
        "working_days": [4, 0, 1, 2, 3],
        "day_start": "08:00",
        "day_end": "17:30",
        "holidays": [dt.date(2026, 12, 25), "2026-07-03"],
        "teams": ["T-NA-MM", "T-NA-SMB"],
        "is_default": True,
    },
    {"name": "Weekend desk", "time_zone": "UTC", "working_days": [5, 6]},
]


def full():
    return doc(business_calendars=CALENDARS, pools=POOLS, routing_rules=RULES, sla_policies=POLICIES)


def apply(document, **kwargs):
    plan = config_apply(document=document, **kwargs)
    assert plan.applied, plan.render()
    return plan


# --- create, export, round trip ---------------------------------------------------------------------


def test_sections_are_registered_in_dependency_order():
    document = config_export()
    assert list(document) == [
        "version",
        "dictionary",
        "queues",
        "business_calendars",
        "pools",
        "automations",
        "routing_rules",
        "sla_policies",
        "checklists",
        "scoring_models",
        "lifecycle_stages",
        "duplicate_rules",
    ]


def test_apply_creates_everything_through_the_services(org):
    plan = apply(full())

    assert [(c.section, c.action) for c in plan.changes] == [
        ("business_calendars", "create"),
        ("business_calendars", "create"),
        ("pools", "create"),
        ("pools", "create"),
        *[("routing_rules", "create")] * 4,
        ("sla_policies", "create"),
        ("sla_policies", "create"),
    ]
    pool = Pool.objects.get(name="NA SMB")
    assert (pool.working_hours_start, pool.working_hours_end) == (dt.time(8, 30), dt.time(17, 30))
    assert [(m.rep_id, m.team_id, m.role, m.weight, m.position) for m in pool.members.order_by("position")] == [
        (org["reps"]["R-101"].pk, None, "", 2, 0),
        (None, org["teams"]["T-NA-SMB"].pk, "SDR", 1, 1),
    ]
    rule = RoutingRule.objects.get(name="NA inbound")
    assert rule.target_pool == pool and rule.fields_used == ["lead.country"]
    approval = RoutingRule.objects.get(name="Big deals need approval")
    assert approval.target_rep == org["reps"]["R-201"] and approval.use_parent_account is False
    assert RoutingRule.objects.get(name="Strategic review").status == "draft"  # the default
    hot = SlaPolicy.objects.get(name="Hot inbound")
    assert (hot.target_minutes, hot.reminder_share, hot.fields_used) == (5, 0.6, ["lead.score"])
    calendar = BusinessCalendar.objects.get(name="North America")
    assert calendar.working_days == [0, 1, 2, 3, 4]
    assert calendar.holidays == ["2026-07-03", "2026-12-25"]
    assert (calendar.day_start, calendar.day_end) == (dt.time(8), dt.time(17, 30))
    assert sorted(t.external_id for t in calendar.teams.all()) == ["T-NA-MM", "T-NA-SMB"]
    assert config_plan(document=full()).changes == []  # applying the same file again changes nothing


def test_export_is_short_and_references_by_external_id_and_name(org):
    apply(full())
    document = yaml.safe_load(config_export_text())

    na = next(p for p in document["pools"] if p["name"] == "NA SMB")
    assert na["members"] == [{"rep": "R-101", "weight": 2}, {"team": "T-NA-SMB", "role": "SDR"}]
    assert na["working_hours_end"] == "17:30"
    assert [r["name"] for r in document["routing_rules"]] == [r["name"] for r in RULES]  # priority order
    inbound = document["routing_rules"][2]
    assert inbound["target_pool"] == "NA SMB" and "target_rep" not in inbound and "fields_used" not in inbound
    approval = document["routing_rules"][3]
    assert approval["target_rep"] == "R-201" and approval["use_parent_account"] is False
    mql = document["sla_policies"][1]
    assert mql["reminder_share"] == 0.0 and mql["conditions"] == {"all": []}
    calendar = document["business_calendars"][0]
    assert calendar["holidays"] == ["2026-07-03", "2026-12-25"] and calendar["teams"] == ["T-NA-MM", "T-NA-SMB"]
    assert "is_default" not in document["business_calendars"][1]


def test_export_apply_round_trip_is_a_no_op_and_rebuilds_the_same_configuration(org):
    apply(full())
    text = config_export_text()
    assert config_plan(document=text).changes == []

    for model in (RoutingRule, SlaPolicy, Pool, BusinessCalendar):
        model.objects.all().delete()
    plan = apply(text)
    assert plan.counts()["create"] == 10
    assert config_export_text() == text


def test_the_routing_example_is_the_demo_orgs_routing_and_round_trips():
    from revops.demo import demo_load

    demo_load()
    text = EXAMPLE.read_text()

    plan = apply(text, source="routing-config.yaml")

    assert plan.changes == [], "docs/examples/routing-config.yaml no longer matches the demo:\n" + plan.render()
    exported = config_export_text()
    for model in (RoutingRule, SlaPolicy, Pool, BusinessCalendar):
        model.objects.all().delete()
    plan = apply(text)
    assert plan.counts() == {"create": 24, "update": 0, "delete": 0, "retire": 0}
    assert [m.rep.external_id for m in Pool.objects.get(name="Inbound overflow").members.order_by("position")] == [
        "REP-0003",
        "REP-0006",
        "REP-0012",
        "REP-0015",
        "REP-0020",
        "REP-0023",
    ]
    assert config_export_text() == exported


# --- updates and members ---------------------------------------------------------------------------


def test_updates_show_old_and_new_values(org):
    apply(full())
    pools = [dict(POOLS[0], max_open_leads=25), POOLS[1]]
    rules = [dict(RULES[0], status="shadow"), *RULES[1:3], dict(RULES[3], target_rep="R-101")]
    policies = [dict(POLICIES[0], target_minutes=10), POLICIES[1]]

    plan = apply(doc(pools=pools, routing_rules=rules, sla_policies=policies))

    assert summary(plan) == [
        ("pools", "update", "'NA SMB'", ["max_open_leads"]),
        ("routing_rules", "update", "'Named accounts'", ["status"]),
        ("routing_rules", "update", "'Big deals need approval'", ["target_rep"]),
        ("sla_policies", "update", "'Hot inbound'", ["target_minutes"]),
    ]
    assert plan.changes[2].fields == [("target_rep", "R-201", "R-101")]
    assert RoutingRule.objects.get(name="Big deals need approval").target_rep == org["reps"]["R-101"]
    assert SlaPolicy.objects.get(name="Hot inbound").target_minutes == 10


def test_apply_replaces_the_member_list_keeping_the_entries_that_stay(org):
    apply(doc(pools=POOLS))
    pool = Pool.objects.get(name="NA SMB")
    kept = pool.members.get(rep=org["reps"]["R-101"])
    PoolCounter.objects.create(pool=pool, rep=org["reps"]["R-101"], assigned=7)
    members = [{"team": "T-NA-MM", "role": "Account Executive", "max_per_day": 3}, {"rep": "R-101", "weight": 5}]

    plan = apply(doc(pools=[dict(POOLS[0], members=members)]))

    assert plan.changes[0].fields == [("members", POOLS[0]["members"], members)]
    rows = list(pool.members.order_by("position"))
    assert [(m.rep_id, m.team_id, m.role, m.weight, m.max_per_day, m.position) for m in rows] == [
        (None, org["teams"]["T-NA-MM"].pk, "Account Executive", 1, 3, 0),
        (org["reps"]["R-101"].pk, None, "", 5, None, 1),
    ]
    assert rows[1].pk == kept.pk  # the rep stayed: same entry, new weight and position
    assert PoolCounter.objects.get(pool=pool).assigned == 7  # and their share
    assert not PoolMember.objects.filter(team=org["teams"]["T-NA-SMB"]).exists()

    apply(doc(pools=[dict(POOLS[0], members=[])]))
    assert not pool.members.exists()


def test_member_problems_are_located(org):
    members = [
        {"rep": "R-101"},
        {"rep": "R-999"},
        {"team": "T-NOPE"},
        {"rep": "R-101", "team": "T-NA-SMB"},
        {"team": "T-NA-SMB", "weight": 0},
        {"rep": "R-101", "weight": 3},
    ]
    plan = config_plan(document=doc(pools=[{"name": "NA SMB", "members": members}]))
    assert errors(plan) == [
        "pools[0] 'NA SMB': members[1].rep: no rep with external id 'R-999'",
        "pools[0] 'NA SMB': members[2].team: no team with external id 'T-NOPE'",
    ]

    del members[1:3]
    members.append({"rep": "R-102", "role": "SDR"})
    plan = config_plan(document=doc(pools=[{"name": "NA SMB", "members": members}]))
    assert errors(plan) == [
        "pools[0] 'NA SMB': members[1]: give either a rep or a team (with an optional role), not both",
        "pools[0] 'NA SMB': members[3]: duplicate of members[0]",
        "pools[0] 'NA SMB': members[4].role: a role narrows a team; leave it out for a single rep",
    ]
    members.pop()

    del members[1]
    del members[2]
    plan = config_plan(document=doc(pools=[{"name": "NA SMB", "members": members}]))
    assert errors(plan) == ["pools[0] 'NA SMB': members[1].weight: Ensure this value is greater than or equal to 1."]

    plan = config_plan(document=doc(pools=[{"name": "NA SMB", "members": [{"rep": "R-101", "wieght": 2}]}]))
    assert errors(plan) == [
        "pools[0] 'NA SMB': members[0].wieght: unknown key; valid keys: rep, team, role, weight, max_open_leads, "
        "max_per_day, is_active"
    ]
    assert not Pool.objects.exists()


# --- problems ----------------------------------------------------------------------------------------


def test_bad_conditions_are_located(org):
    rules = [*RULES[:2], dict(RULES[2], conditions={"all": [{"field": "lead.contry", "op": "eq", "value": "US"}]})]
    policies = [dict(POLICIES[0], conditions={"all": [{"field": "lead.score", "op": "gte", "value": "hot"}]})]

    plan = config_plan(document=doc(pools=POOLS, routing_rules=rules, sla_policies=policies))

    assert len(plan.problems) == 2
    assert str(plan.problems[0]).startswith("routing_rules[2] 'NA inbound': conditions: ")
    assert "lead.contry" in str(plan.problems[0])
    assert str(plan.problems[1]).startswith("sla_policies[0] 'Hot inbound': conditions: ")


def test_unknown_references_and_incoherent_targets_are_located(org):
    rules = [
        {"name": "To a ghost pool", "target_type": "pool", "target_pool": "Nope"},
        {"name": "To a ghost rep", "target_type": "rep", "target_rep": "R-999"},
        {"name": "Pool without a pool", "target_type": "pool"},
        {"name": "Somewhere", "target_type": "teleport"},
        {"name": "Bad status", "target_type": "queue", "target_queue": "Strategic review", "status": "on"},
        {"name": "Unknown queue", "target_type": "queue", "target_queue": "Nowhere"},
    ]
    plan = config_plan(document=doc(routing_rules=rules))
    assert errors(plan) == [
        "routing_rules[0] 'To a ghost pool': target_pool: no pool named 'Nope'",
        "routing_rules[1] 'To a ghost rep': target_rep: no rep with external id 'R-999'",
        "routing_rules[2] 'Pool without a pool': target_pool: the target “A pool (round robin / weighted / least "
        "loaded)” needs a pool",
        "routing_rules[3] 'Somewhere': target_type: Value 'teleport' is not a valid choice.",
        "routing_rules[4] 'Bad status': status: Value 'on' is not a valid choice.",
        "routing_rules[5] 'Unknown queue': target_queue: there is no exception queue named 'Nowhere'",
    ]
    plan = config_plan(document=doc(business_calendars=[{"name": "NA", "teams": ["T-NA-SMB", "T-GONE"]}]))
    assert errors(plan) == ["business_calendars[0] 'NA': teams: no team with external id 'T-GONE'"]


def test_a_rule_may_target_a_pool_the_same_file_creates(org):
    plan = apply(doc(routing_rules=RULES[2:3], pools=POOLS[:1]))  # file order does not matter
    assert [c.section for c in plan.changes] == ["pools", "routing_rules"]


def test_times_zones_and_numbers_are_validated(org):
    calendars = [
        {"name": "Unquoted", "day_end": 1050},  # YAML's reading of an unquoted 17:30
        {"name": "Zone", "time_zone": "Europe/Berln"},
        {"name": "Backwards", "day_start": "18:00", "day_end": "09:00"},
        {"name": "Never", "working_days": []},
        {"name": "Days", "working_days": [1, 7]},
        {"name": "Holiday", "holidays": ["2026-02-30"]},
        {"name": "Clock", "day_start": "25:00"},
    ]
    plan = config_plan(document=doc(business_calendars=calendars))
    assert errors(plan) == [
        "business_calendars[0] 'Unquoted': day_end: expected a time of day in quotes (HH:MM), got a number (1050) "
        "(YAML reads an unquoted 17:30 as a number: quote it, '17:30')",
        "business_calendars[4] 'Days': working_days: expected a list of weekday numbers 0 (Monday) … 6 (Sunday), "
        "got a list",
        "business_calendars[5] 'Holiday': holidays[0]: expected a date (YYYY-MM-DD), got text ('2026-02-30')",
        "business_calendars[6] 'Clock': day_start: expected a time of day (HH:MM, 00:00 to 23:59), got text ('25:00')",
        "business_calendars[1] 'Zone': time_zone: unknown time zone 'Europe/Berln' (use an IANA name such as "
        "Europe/Berlin)",
        "business_calendars[2] 'Backwards': day_end: the working day must end after it starts (09:00 is not after "
        "18:00)",
        "business_calendars[3] 'Never': working_days: a business calendar needs at least one working day",
    ]
    policies = [
        {"name": "Share", "target_minutes": 5, "reminder_share": 1.5},
        {"name": "Zero", "target_minutes": 0},
        {"name": "Missing"},
        {"name": "Text", "target_minutes": 5, "reminder_share": "half"},
    ]
    plan = config_plan(document=doc(sla_policies=policies))
    assert errors(plan) == [
        "sla_policies[2] 'Missing': target_minutes: is required",
        "sla_policies[3] 'Text': reminder_share: expected a number, got text ('half')",
        "sla_policies[0] 'Share': reminder_share: Ensure this value is less than or equal to 0.99.",
        "sla_policies[1] 'Zero': target_minutes: the response target must be at least 1 minute",
    ]
    pool = {"name": "P", "strategy": "random", "working_hours_start": "18:00", "working_hours_end": "09:00"}
    assert errors(config_plan(document=doc(pools=[pool]))) == [
        "pools[0] 'P': strategy: Value 'random' is not a valid choice."
    ]
    plan = config_plan(document=doc(pools=[dict(pool, strategy="weighted", respect_working_hours=True)]))
    assert errors(plan) == [
        "pools[0] 'P': working_hours_end: working hours end after they start (09:00 is not after 18:00)"
    ]


def test_calendars_have_one_default_and_a_team_has_one_calendar(org):
    apply(doc(business_calendars=CALENDARS))
    plan = config_plan(
        document=doc(business_calendars=[{"name": "EMEA", "time_zone": "Europe/London", "is_default": True}])
    )
    assert errors(plan) == [
        "business_calendars[0] 'EMEA': is_default: only one calendar can be the default; so is 'North America'"
    ]
    moved = [dict(CALENDARS[0], is_default=False), {"name": "EMEA", "is_default": True}]
    assert apply(doc(business_calendars=moved)).ok  # the default moves within one file

    plan = config_plan(document=doc(business_calendars=[{"name": "SMB", "teams": ["T-NA-SMB"]}]))
    assert errors(plan) == [
        "business_calendars[0] 'SMB': teams: team T-NA-SMB is also in calendar 'North America'; a team has one calendar"
    ]

    # Calendars set up elsewhere (e.g. in the admin) that overlap do not stop a file that leaves them as they are.
    other = BusinessCalendar.objects.create(name="Other", is_default=True)
    other.teams.add(org["teams"]["T-NA-SMB"])
    assert config_plan(document=config_export_text()).ok


def test_apply_is_atomic_one_bad_entry_writes_nothing(org):
    bad_policies = [*POLICIES, {"name": "Broken", "target_minutes": 5, "conditions": {"all": [{"field": "lead.x"}]}}]
    plan = config_apply(
        document=doc(business_calendars=CALENDARS, pools=POOLS, routing_rules=RULES, sla_policies=bad_policies)
    )

    assert not plan.applied and len(plan.problems) == 1
    assert str(plan.problems[0]).startswith("sla_policies[2] 'Broken': conditions: ")
    assert plan.counts()["create"] == 11  # the plan still shows everything else it would do
    assert routing_counts() == (0, 0, 0, 0, 0)
    assert not BusinessCalendar.history.exists() and not Pool.history.exists()


def test_plan_writes_nothing(org):
    plan = config_plan(document=full())
    assert plan.ok and plan.counts()["create"] == 10
    assert routing_counts() == (0, 0, 0, 0, 0)


# --- prune -------------------------------------------------------------------------------------------


def test_prune_deletes_only_when_asked(org):
    apply(full())
    smaller = doc(business_calendars=CALENDARS[:1], pools=POOLS[:1], routing_rules=RULES[:3], sla_policies=POLICIES[:1])

    assert config_plan(document=smaller).changes == []  # without prune, what is missing stays
    plan = apply({**smaller, "prune": True})

    assert summary(plan) == [
        ("sla_policies", "delete", "'MQL'", []),
        ("routing_rules", "delete", "'Big deals need approval'", []),
        ("pools", "delete", "'NA Mid-Market'", []),
        ("business_calendars", "delete", "'Weekend desk'", []),
    ]
    assert routing_counts() == (1, 1, 2, 3, 1)
    assert config_plan(document={**smaller, "prune": True}).changes == []


def test_prune_only_the_listed_sections_and_never_a_missing_section(org):
    apply(full())
    plan = apply(doc(prune=["sla_policies"], routing_rules=[], sla_policies=[]))
    assert summary(plan) == [("sla_policies", "delete", "'Hot inbound'", []), ("sla_policies", "delete", "'MQL'", [])]
    assert RoutingRule.objects.count() == 4 and Pool.objects.count() == 2


def test_a_pool_still_routed_to_cannot_be_pruned(org, admin_user):
    apply(full())
    plan = config_plan(document=doc(prune=True, pools=POOLS[1:]))
    assert errors(plan) == [
        "pools 'NA SMB': routing rule 'NA inbound' still route(s) to pool 'NA SMB'; change them first, "
        "or keep the pool (is_active: false)."
    ]

    # Pruning the rule in the same file frees the pool (rules are pruned before pools).
    rules = [r for r in RULES if r["name"] != "NA inbound"]
    assert apply(doc(prune=True, pools=POOLS[1:], routing_rules=rules)).counts()["delete"] == 2

    # The routing automation's fallback also keeps a pool.
    apply(doc(pools=POOLS))
    automation_services.automation_create(
        actor=admin_user,
        name="Lead routing",
        purpose="Route new leads.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        config={"fallback": {"type": "pool", "pool": "NA SMB"}},
    )
    plan = config_plan(document=doc(prune=True, pools=POOLS[1:]))
    assert errors(plan) == [
        "pools 'NA SMB': the routing automation 'Lead routing' (its fallback) still route(s) to pool 'NA SMB'; "
        "change them first, or keep the pool (is_active: false)."
    ]
    Automation.objects.filter(name="Lead routing").update(mode=Automation.Mode.RETIRED)
    assert config_plan(document=doc(prune=True, pools=POOLS[1:])).ok


# --- history and stored data written elsewhere -------------------------------------------------------


def test_history_names_the_actor_and_the_file(org):
    carol = get_user_model().objects.create(username="carol")
    apply(full(), actor=carol, source="routing.yaml")
    for model in (BusinessCalendar, Pool, PoolMember, RoutingRule, SlaPolicy):
        row = model.history.order_by("-history_id").first()
        assert (row.history_user, row.history_change_reason) == (carol, "config apply routing.yaml by carol"), model

    apply(doc(routing_rules=[dict(RULES[0], status="disabled")]), actor=carol, source="off.yaml")
    row = RoutingRule.objects.get(name="Named accounts").history.first()
    assert (row.history_type, row.status, row.history_change_reason) == (
        "~",
        "disabled",
        "config apply off.yaml by carol",
    )


def test_rows_written_by_other_code_export_in_canonical_form(org, admin_user):
    """A rule saved by the service and a policy with empty, non-canonical conditions round trip unchanged."""
    pool = Pool.objects.create(name="Overflow", working_days=[4, 0])
    PoolMember.objects.create(pool=pool, rep=org["reps"]["R-102"], position=10)
    PoolMember.objects.create(pool=pool, team=org["teams"]["T-NA-MM"], position=20, weight=3)
    rule = RoutingRule(name="Legacy", target_type="pool", target_pool=pool, conditions={})
    routing_rule_save(rule=rule, actor=admin_user)
    SlaPolicy.objects.create(
        name="Old", target_minutes=30, conditions={"all": [{"value": "70", "op": "gte", "field": "lead.score"}]}
    )
    text = config_export_text()
    document = yaml.safe_load(text)
    assert document["pools"][0]["working_days"] == [0, 4]
    assert document["pools"][0]["members"] == [{"rep": "R-102"}, {"team": "T-NA-MM", "weight": 3}]
    assert document["sla_policies"][0]["conditions"] == {"all": [{"field": "lead.score", "op": "gte", "value": 70}]}
    assert config_plan(document=text).changes == []


# --- the new attribute types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attr", "value", "parsed"),
    [
        (Attr("t", "time"), "9:05", "09:05"),
        (Attr("t", "time"), "23:59:30", "23:59:30"),
        (Attr("f", "float"), 1, 1.0),
        (Attr("d", "weekdays"), [3, 1, 1], [1, 3]),
        (Attr("h", "date_list"), ["2026-12-25", dt.date(2026, 1, 1), "2026-12-25"], ["2026-01-01", "2026-12-25"]),
        (
            Attr("m", "entries", items=(Attr("a", required=True), Attr("n", "int", default=1))),
            [{"a": "x", "n": 1}],
            [{"a": "x"}],
        ),
    ],
)
def test_attribute_types_parse_to_a_canonical_form(attr, value, parsed):
    assert attr.parse(value) == parsed


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        (Attr("t", "time"), "9am", "expected a time of day (HH:MM, 00:00 to 23:59), got text ('9am')"),
        (Attr("f", "float"), True, "expected a number, got a boolean (true)"),
        (Attr("f", "float"), float("nan"), "expected a number, got a number (nan)"),
        (Attr("d", "weekdays"), [True], "expected a list of weekday numbers 0 (Monday) … 6 (Sunday), got a list"),
        (Attr("m", "entries", items=(Attr("a", required=True),)), [{}], "is required"),
        (Attr("m", "entries", items=(Attr("a"),)), ["x"], "expected a map, got text ('x')"),
    ],
)
def test_attribute_types_refuse_bad_values(attr, value, message):
    with pytest.raises(ValueError) as exc:
        attr.parse(value)
    assert str(exc.value) == message


def test_a_bool_whose_default_is_true_is_exported_when_false():
    class Flags(Section):
        name = "flags"
        attrs = (Attr("name", required=True), Attr("on", "bool", default=True), Attr("note"))

    assert Flags().compact({"name": "x", "on": False, "note": ""}) == {"name": "x", "on": False}
    assert Flags().compact({"name": "x", "on": True, "note": ""}) == {"name": "x", "on": True}


def test_routing_sections_document_their_keys():
    text = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    for section in ROUTING_SECTIONS:
        assert f"### `{section}`" in text
