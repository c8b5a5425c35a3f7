"""Lead routing end to end: CRM sync → outbox → engine → routing kind → owner, decision, items, feed, SLA."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem, Queue
from revops.engine.actions import approval_execute
from revops.engine.pipeline import engine_process_events
from revops.engine.services import automation_create
from revops.models import ApiToken, AutomationRun, ChangeEntry, Lead, OutboxEvent
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from routing.backtest import backtest
from routing.matching import reset_account_index
from routing.models import Pool, PoolCounter, PoolMember, RoutingDecision, RoutingRule, SlaClock, SlaPolicy
from routing.selectors import lead_latest_decision, reassignment_rates
from routing.services import lead_reroute, routing_preview, routing_rule_move
from tests.factories import AccountFactory, OpportunityFactory, RepFactory, TeamFactory, UserFactory

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # a Tuesday
NAMED = {"all": [{"field": "lead.matched_account.is_named", "op": "eq", "value": True}]}
CUSTOMER = {"all": [{"field": "lead.matched_account.customer_status", "op": "eq", "value": "customer"}]}
US = {"all": [{"field": "lead.country", "op": "eq", "value": "US"}]}
DE = {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}
BIG = {"all": [{"field": "lead.matched_account.employees", "op": "gte", "value": 5000}]}


@pytest.fixture(autouse=True)
def _fresh_index():
    reset_account_index()
    yield
    reset_account_index()


def token():
    return ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]


def sync(object_name, *records):
    crm = token()
    return sync_batch_apply(object_name=object_name, records=list(records), actor=crm.user, token=crm)


def rec(ext, at="2026-11-24T15:00:00Z", **values):
    return {"external_id": ext, "source_updated_at": at, **values}


def process(now=None):
    ids = list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True))
    return engine_process_events(event_ids=ids, now=now)


def router(*, fallback=None, mode="live", **config):
    owner = UserFactory(username="revops.lead", email="revops.lead@example.com")
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    return automation_create(
        actor=owner,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": [{"field": "lead.status", "op": "ne", "value": "converted"}]},
        config={"fallback": fallback or {"type": "none"}, **config},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode=mode,
    )


def rule(name, conditions, target_type, priority, **fields):
    return RoutingRule.objects.create(
        name=name, conditions=conditions, target_type=target_type, priority=priority, status="live", **fields
    )


def pool(name, reps, **fields):
    p = Pool.objects.create(name=name, **fields)
    for position, (rep, weight) in enumerate(reps):
        PoolMember.objects.create(pool=p, rep=rep, weight=weight, position=position)
    return p


def route(*records, now=None):
    sync("leads", *records)
    process(now=now)
    return [Lead.objects.get(external_id=r["external_id"]) for r in records]


@pytest.fixture
def world(db):
    """Named account Acme (owner Nia) with a subsidiary, a customer with an open deal, a US pool."""
    nia = RepFactory(external_id="R-NIA", name="Nia Named")
    ollie = RepFactory(external_id="R-OLLIE", name="Ollie Opp")
    ana = RepFactory(external_id="R-ANA", name="Ana Ruiz")
    ben = RepFactory(external_id="R-BEN", name="Ben Stone")
    acme = AccountFactory(external_id="A-ACME", name="Acme Corp", domain="acme.com", owner=nia, is_named=True)
    AccountFactory(external_id="A-ACME-UK", name="Acme UK Ltd", domain="acme.co.uk", owner=None, parent=acme)
    globex = AccountFactory(
        external_id="A-GLOBEX", name="Globex", domain="globex.com", owner=ben, customer_status="customer"
    )
    OpportunityFactory(external_id="O-1", account=globex, owner=ollie, stage="proposal", amount=50000)
    us = pool("US inbound", [(ana, 1), (ben, 1)])
    return {"nia": nia, "ollie": ollie, "ana": ana, "ben": ben, "acme": acme, "globex": globex, "us": us}


def decision_for(lead):
    return RoutingDecision.objects.filter(lead=lead).latest("decided_at")


# --- targets and precedence -------------------------------------------------------------------


@pytest.mark.django_db
def test_named_account_owner_wins_over_territory_and_decision_is_explained(world):
    router()
    rule("Named accounts", NAMED, "account_owner", 10)
    rule("US territory", US, "pool", 20, target_pool=world["us"])
    (lead,) = route(rec("L1", email="kim@acme.com", company="Acme", country="US"))
    assert lead.owner == world["nia"] and lead.matched_account == world["acme"]
    decision = decision_for(lead)
    assert decision.rule_name == "Named accounts" and decision.outcome == "assigned" and decision.mode == "live"
    assert decision.match_status == "matched"
    explanation = decision.explanation
    assert explanation["inputs"]["email"] == "kim@acme.com"
    assert any("acme.com" in line for line in explanation["match"]["evidence"])
    assert [r["rule"] for r in explanation["rules"]] == ["Named accounts"]
    assert decision.latency_ms > 0
    feed = ChangeEntry.objects.filter(kind="owner_assigned", external_id="L1").get()
    assert feed.payload["owner"] == "R-NIA" and feed.payload["rule"] == "Named accounts"
    assert ChangeEntry.objects.filter(kind="field_updated", external_id="L1", payload__field="matched_account").exists()


@pytest.mark.django_db
def test_reordering_rules_changes_the_winner(world, admin_user):
    router()
    named = rule("Named accounts", NAMED, "account_owner", 10)
    rule("US territory", US, "pool", 20, target_pool=world["us"])
    routing_rule_move(rule=named, direction="down", actor=admin_user)
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["US territory", "Named accounts"]
    (lead,) = route(rec("L1", email="kim@acme.com", company="Acme", country="US"))
    assert lead.owner in (world["ana"], world["ben"])
    assert decision_for(lead).rule_name == "US territory"


@pytest.mark.django_db
def test_subsidiary_routes_through_parent_named_owner(world):
    router()
    rule(
        "Named accounts (incl. subsidiaries)",
        {"all": [{"field": "lead.matched_account", "op": "is_not_empty"}]},
        "account_owner",
        10,
    )
    (lead,) = route(rec("L1", email="jo@acme.co.uk", company="Acme UK", country="GB"))
    assert lead.matched_account.external_id == "A-ACME-UK"
    assert lead.owner == world["nia"]
    note = decision_for(lead).explanation["rules"][0]["note"]
    assert "Acme Corp" in note


@pytest.mark.django_db
def test_existing_customer_goes_to_open_opportunity_owner(world):
    router()
    rule("Existing customer: deal owner", CUSTOMER, "opportunity_owner", 10)
    (lead,) = route(rec("L1", email="x@globex.com", company="Globex", country="US"))
    assert lead.owner == world["ollie"]
    assert "O-1" in decision_for(lead).explanation["rules"][0]["note"]


@pytest.mark.django_db
def test_specific_rep_target_and_unavailable_rep_falls_to_next_rule(world):
    router()
    world["nia"].out_of_office_until = timezone.now() + dt.timedelta(days=3)
    world["nia"].save()
    rule("Germany to Nia", DE, "rep", 10, target_rep=world["nia"])
    rule("Germany backup", DE, "rep", 20, target_rep=world["ollie"])
    (lead,) = route(rec("L1", email="a@example.de", company="Beispiel", country="DE"))
    assert lead.owner == world["ollie"]
    rules = decision_for(lead).explanation["rules"]
    assert "out of office" in rules[0]["note"] and rules[1]["matched"]

    to_nia = RoutingRule.objects.get(name="Germany to Nia")
    to_nia.when_unavailable = "assign_anyway"
    to_nia.save()
    (lead2,) = route(rec("L2", email="b@example.de", company="Beispiel2", country="DE"))
    assert lead2.owner == world["nia"]


def test_a_lead_routed_alone_is_locked_before_its_pool_as_in_bulk(world):
    """The bulk driver locks a chunk's leads, then the pools; a lead routed alone takes the same order,
    so the two never wait for each other in a circle."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if not connection.features.has_select_for_update:
        pytest.skip("SQLite takes no row locks")
    router()
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    sync("leads", rec("L1", email="p@initech.io", company="Initech", country="US"))
    with CaptureQueriesContext(connection) as ctx:
        process()
    locks = [q["sql"] for q in ctx.captured_queries if q["sql"].rstrip().endswith("FOR UPDATE")]
    lead_lock = next(i for i, sql in enumerate(locks) if 'FROM "revops_lead"' in sql)
    pool_lock = next(i for i, sql in enumerate(locks) if 'FROM "routing_pool"' in sql)
    assert lead_lock < pool_lock, locks
    assert Lead.objects.get(external_id="L1").owner == world["ana"]


@pytest.mark.django_db
def test_pool_target_explains_skipped_members(world):
    router()
    world["ben"].out_of_office_until = timezone.now() + dt.timedelta(days=2)
    world["ben"].save()
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    assert lead.owner == world["ana"]
    decision = decision_for(lead)
    assert decision.pool == world["us"]
    skipped = [c for c in decision.explanation["pool"]["candidates"] if c["status"] == "skipped"]
    assert skipped and skipped[0]["name"] == "Ben Stone" and "out of office" in skipped[0]["reason"]
    assert PoolCounter.objects.get(pool=world["us"], rep=world["ana"]).assigned == 1


@pytest.mark.django_db
def test_strategic_accounts_go_to_a_review_queue(world):
    router()
    world["acme"].employees = 20000
    world["acme"].save()
    Queue.objects.create(name="Strategic review")
    rule("Strategic: manual review", BIG, "queue", 10, target_queue="Strategic review")
    (lead,) = route(rec("L1", email="ceo@acme.com", company="Acme", country="US"))
    assert lead.owner is None
    item = ExceptionItem.objects.get(kind="routing_review", object_id=lead.pk)
    assert item.queue.name == "Strategic review" and item.status == "open"
    assert decision_for(lead).outcome == "queued"


@pytest.mark.django_db
def test_approval_target_waits_for_a_human(world, admin_user):
    router()
    rule("Named: approve first", NAMED, "approval", 10, approval_owner="account_owner")
    (lead,) = route(rec("L1", email="kim@acme.com", company="Acme", country="US"))
    assert lead.owner is None
    item = ExceptionItem.objects.get(kind="approval_required", object_id=lead.pk)
    assert decision_for(lead).outcome == "approval"
    approval_execute(item=item, actor=admin_user)
    lead.refresh_from_db()
    assert lead.owner == world["nia"]


@pytest.mark.django_db
def test_no_rule_match_uses_fallback_and_opens_an_item(world):
    router(fallback={"type": "pool", "pool": "US inbound"})
    rule("Germany", DE, "rep", 10, target_rep=world["nia"])
    (lead,) = route(rec("L1", email="z@zeta.fr", company="Zeta", country="FR"))
    assert lead.owner in (world["ana"], world["ben"])
    decision = decision_for(lead)
    assert decision.outcome == "fallback" and decision.rule is None
    item = ExceptionItem.objects.get(kind="no_routing_match", object_id=lead.pk)
    assert "No routing rule matched" in item.title and item.severity == "medium"


@pytest.mark.django_db
def test_all_members_capped_goes_to_fallback_and_says_so(world):
    router(fallback={"type": "rep", "rep": "R-OLLIE"})
    world["us"].max_open_leads = 0
    world["us"].save()
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    assert lead.owner == world["ollie"]
    item = ExceptionItem.objects.get(kind="no_routing_match", object_id=lead.pk)
    assert "capped" in item.title
    decision = decision_for(lead)
    assert decision.outcome == "fallback" and decision.rule_name == "US territory"
    assert all(c["status"] == "skipped" for c in decision.explanation["pool"]["candidates"])


@pytest.mark.django_db
def test_nothing_matches_and_no_fallback_leaves_a_high_item(world):
    router()
    (lead,) = route(rec("L1", email="z@zeta.fr", company="Zeta", country="FR"))
    assert lead.owner is None
    item = ExceptionItem.objects.get(kind="no_routing_match", object_id=lead.pk)
    assert item.severity == "high" and "NO owner" in item.reason
    assert decision_for(lead).outcome == "unassigned"


@pytest.mark.django_db
def test_ambiguous_match_opens_an_account_match_item(world):
    router()
    AccountFactory(external_id="A-X1", name="Umbrella", domain="umbrella.com")
    AccountFactory(external_id="A-X2", name="Umbrella Labs", domain="umbrella.com")
    (lead,) = route(rec("L1", email="a@umbrella.com", company="Umbrella Health", country="US"))
    item = ExceptionItem.objects.get(kind="account_match", object_id=lead.pk)
    assert "A-X1" in item.reason and "A-X2" in item.reason
    assert decision_for(lead).match_status == "ambiguous" and lead.matched_account is None


@pytest.mark.django_db
def test_leads_arriving_with_an_owner_keep_it(world):
    router()
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US", owner="R-NIA"))
    assert lead.owner == world["nia"]
    assert not RoutingDecision.objects.exists()
    run = AutomationRun.objects.get(object_id=lead.pk)
    assert run.outcome == "not_fired" and "arrived with an owner" in run.summary


# --- shadow, preview, reassignment, re-route ----------------------------------------------------


@pytest.mark.django_db
def test_shadow_mode_applies_nothing(world):
    router(mode="shadow")
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    assert lead.owner is None and lead.matched_account is None
    decision = decision_for(lead)
    assert decision.mode == "shadow" and decision.owner is not None
    assert not PoolCounter.objects.exists() and not SlaClock.objects.exists()
    assert not ChangeEntry.objects.filter(kind="owner_assigned").exists()


@pytest.mark.django_db
def test_shadow_rule_is_recorded_but_the_live_rule_routes(world):
    router()
    RoutingRule.objects.create(
        name="New: Germany to Nia",
        conditions=US,
        target_type="rep",
        target_rep=world["nia"],
        priority=5,
        status="shadow",
    )
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    assert lead.owner in (world["ana"], world["ben"])
    shadow = decision_for(lead).explanation["shadow"]
    assert shadow["rule"] == "New: Germany to Nia" and "Nia Named" in shadow["would_route_to"]


@pytest.mark.django_db
def test_preview_writes_nothing(world):
    router()
    rule("Named accounts", NAMED, "account_owner", 10)
    rule("US territory", US, "pool", 20, target_pool=world["us"])
    models = (Lead, RoutingDecision, AutomationRun, ExceptionItem, SlaClock, PoolCounter, ChangeEntry, OutboxEvent)
    before = [m.objects.count() for m in models]
    plan = routing_preview(values={"email": "kim@acme.com", "company": "Acme", "country": "US"})
    assert plan.owner == world["nia"] and plan.rule.name == "Named accounts"
    plan2 = routing_preview(values={"email": "p@initech.io", "company": "Initech", "country": "US"})
    assert plan2.owner in (world["ana"], world["ben"]) and plan2.pick.candidates
    assert [m.objects.count() for m in models] == before


@pytest.mark.django_db
def test_preview_can_include_draft_rules(world):
    router()
    rule("US territory", US, "pool", 20, target_pool=world["us"])
    RoutingRule.objects.create(
        name="Draft: US to Ollie",
        conditions=US,
        target_type="rep",
        target_rep=world["ollie"],
        priority=10,
        status="draft",
    )
    values = {"email": "p@initech.io", "company": "Initech", "country": "US"}
    assert routing_preview(values=values).rule.name == "US territory"
    assert routing_preview(values=values, include_drafts=True).owner == world["ollie"]


@pytest.mark.django_db
def test_manual_reassignment_is_counted_against_the_rule(world):
    router()
    us = rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    routed_to = lead.owner.external_id
    other = "R-OLLIE"
    sync("leads", rec("L1", at="2026-11-24T16:00:00Z", owner=other))
    process()
    decision = decision_for(lead)
    assert decision.reassigned_at is not None and decision.reassigned_to.external_id == other
    rates = reassignment_rates(since=timezone.now() - dt.timedelta(days=1))
    assert rates[us.pk] == {"rule": "US territory", "assigned": 1, "reassigned": 1, "rate": 1.0}
    # the CRM echoing our own decision, or repeating the reassignment, counts nothing more
    sync("leads", rec("L1", at="2026-11-24T17:00:00Z", owner=other, title="VP"))
    process()
    assert reassignment_rates()[us.pk]["reassigned"] == 1
    assert routed_to != other


@pytest.mark.django_db
def test_reroute_excludes_the_current_owner_and_moves_the_clock(world):
    router()
    SlaPolicy.objects.create(name="Everything", priority=10, target_minutes=60)
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US"))
    first = lead.owner
    decision = lead_reroute(lead_id=lead.pk, exclude_rep_ids=[first.pk], reason="SLA missed")
    lead.refresh_from_db()
    assert lead.owner != first and decision.owner == lead.owner
    assert decision.previous_owner == first
    excluded = [c for c in decision.explanation["pool"]["candidates"] if c["rep_id"] == first.pk][0]
    assert excluded["status"] == "skipped"
    clocks = {c.owner_id: c for c in SlaClock.objects.filter(lead=lead)}
    assert clocks[first.pk].status == "cancelled"
    assert clocks[lead.owner_id].status == "running" and clocks[lead.owner_id].decision == decision


@pytest.mark.django_db
def test_routing_starts_the_sla_clock_and_the_api_shows_the_decision(world, client):
    router()
    SlaPolicy.objects.create(
        name="Hot inbound",
        priority=10,
        target_minutes=5,
        conditions={"all": [{"field": "lead.score", "op": "gte", "value": 80}]},
    )
    SlaPolicy.objects.create(name="Everything else", priority=100, target_minutes=24 * 60)
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US", score=90))
    clock = SlaClock.objects.get(lead=lead)
    assert clock.policy == "Hot inbound" and clock.status == "running" and clock.owner == lead.owner
    assert clock.decision == decision_for(lead)
    assert clock.due_at - clock.started_at == dt.timedelta(minutes=5)

    _token, secret = api_token_create(name="reader", scopes=["read"])
    response = client.get(f"/api/v1/leads/{lead.external_id}/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200, response.content
    latest = response.json()["latest_decision"]
    assert latest["rule"] == "US territory" and latest["owner"] == lead.owner.external_id
    assert latest["sla"]["policy"] == "Hot inbound" and latest["candidates"]

    # the owner's first activity from the CRM stops the clock as met
    touched = (clock.started_at + dt.timedelta(minutes=2)).isoformat()
    sync("activities", rec("ACT-1", kind="call", occurred_at=touched, lead="L1", rep=lead.owner.external_id))
    process()
    clock.refresh_from_db()
    assert clock.status == "met" and clock.first_touch_at is not None


@pytest.mark.django_db(transaction=True)
def test_sync_to_owner_through_a_real_worker(redis_conn, run_worker):
    ana = RepFactory(external_id="R-ANA", name="Ana Ruiz")
    router()
    rule("US territory", US, "pool", 10, target_pool=pool("US inbound", [(ana, 1)]))
    sync("leads", rec("L1", email="p@initech.io", company="Initech", country="US"))
    assert run_worker("hot") == 0
    assert Lead.objects.get(external_id="L1").owner == ana
    assert lead_latest_decision(Lead.objects.get(external_id="L1").pk).rule_name == "US territory"


# --- backtest ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_backtest_reports_distribution_changes_and_cap_violations(world):
    router()
    team = TeamFactory(external_id="T-1")
    for rep in (world["ana"], world["ben"]):
        rep.team = team
        rep.save()
    rule("Named accounts", NAMED, "account_owner", 10)
    rule("US territory", US, "pool", 20, target_pool=world["us"])
    world["us"].max_per_day = 1
    world["us"].save()
    PoolMember.objects.create(pool=world["us"], rep=world["nia"], weight=1, position=9)
    route(
        rec("L1", email="a@acme.com", company="Acme", country="US"),
        rec("L2", email="b@acme.com", company="Acme", country="US"),
        rec("L3", email="c@initech.io", company="Initech", country="US"),
        rec("L4", email="d@hooli.io", company="Hooli", country="US"),
        rec("L5", email="e@zeta.fr", company="Zeta", country="FR"),
    )
    RoutingRule.objects.create(
        name="Draft: US to Ollie",
        conditions=US,
        target_type="rep",
        target_rep=world["ollie"],
        priority=5,
        status="draft",
    )
    before = RoutingDecision.objects.count()
    report = backtest(days=7)
    assert RoutingDecision.objects.count() == before
    assert report["leads"] == 5
    by_rule = {row["rule"]: row["leads"] for row in report["by_rule"]}
    assert by_rule["Draft: US to Ollie"] == 4 and by_rule["(no rule took the lead)"] == 1
    ollie = next(row for row in report["by_rep"] if row["rep"] == "R-OLLIE")
    assert ollie["proposed"] == 4 and ollie["live"] == 0 and ollie["name"] == "Ollie Opp"
    assert report["changes"] == 4
    assert report["match"]["matched"] == 2

    # without the draft: the named owner takes both Acme leads in a day where the pool caps them at 1
    report = backtest(days=7, statuses=("live",))
    violations = {(v["rep"], v["assigned"], v["cap"]) for v in report["cap_violations"]}
    assert ("Nia Named", 2, 1) in violations
    assert report["changes"] == 0


def hot_lead_task(name):
    """A live task automation: call leads scoring 80 or more within 2 hours."""
    owner = UserFactory(username="rita.rule", email="rita@example.com")
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    return automation_create(
        actor=owner,
        name=name,
        purpose="Call hot leads.",
        kind="create_task",
        object_type="lead",
        trigger="created",
        conditions={"all": [{"field": "lead.score", "op": "gte", "value": 80}]},
        config={"title": "Call the lead", "due_in_hours": 2, "assignee": "owner"},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode="live",
    )


@pytest.mark.django_db
def test_routing_runs_before_the_leads_other_automations(world):
    router()
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    hot_lead_task("A hot lead task")  # sorts before "Lead routing" by name
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US", score=90))
    task = lead.tasks.get()
    assert lead.owner is not None and task.owner == lead.owner


@pytest.mark.django_db
def test_a_hot_leads_task_is_due_with_its_response_sla(world):
    """One deadline per hot lead: the follow-up task for the owner is due when the SLA's first touch is."""
    router()
    rule("US territory", US, "pool", 10, target_pool=world["us"])
    SlaPolicy.objects.create(name="Hot inbound: 5 minutes", conditions={"all": []}, target_minutes=5, priority=1)
    hot_lead_task("Z hot lead task")
    (lead,) = route(rec("L1", email="p@initech.io", company="Initech", country="US", score=90))
    clock = SlaClock.objects.get(lead=lead, status="running")
    task = lead.tasks.get()
    assert task.owner == lead.owner == clock.owner
    assert task.due_at == clock.due_at  # not two hours after it was created
    run = AutomationRun.objects.get(automation__name="Z hot lead task", object_id=lead.pk)
    deadline = run.explanation["deadline"]
    assert "due with the first touch under the response SLA 'Hot inbound: 5 minutes'" in deadline
    assert "not 2 hours after it was created" in deadline
    assert run.expected_next.endswith("when the first touch under the response SLA 'Hot inbound: 5 minutes' is due.")
