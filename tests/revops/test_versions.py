"""Versions of configuration objects: counters, diffs in words, restore through the services, authorisation."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from exceptions import roles
from exceptions.models import Queue
from exceptions.queues import queue_save
from handoffs.models import Checklist
from handoffs.services import checklist_save
from revops import services as core_services
from revops.engine import services as automations
from revops.models import FieldDefinition
from revops.version_words import version_diff
from revops.versions import version_restore, versioned, versions_of
from routing.models import Pool, RoutingRule, SlaPolicy
from routing.services import routing_rule_save
from routing.setup_services import pool_save, sla_policy_save
from tests.factories import RepFactory, TeamFactory, UserFactory
from tests.revops.automation_support import make_automation

pytestmark = pytest.mark.django_db

US = {"all": [{"field": "lead.country", "op": "eq", "value": "US"}]}
DE = {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}


@pytest.fixture
def admin(admin_user):
    return admin_user


def numbers(obj):
    return [v.number for v in versions_of(obj)]


def test_routing_rule_counts_each_saved_change_and_not_a_save_without_change(admin):
    ann = RepFactory(name="Ann Lee")
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=ann, status="live"),
        actor=admin,
        reason="first cut",
    )
    assert rule.version == 1
    rule.conditions = DE
    routing_rule_save(rule=rule, actor=admin, reason="Germany instead")
    assert rule.version == 2 and RoutingRule.objects.get(pk=rule.pk).version == 2
    routing_rule_save(rule=rule, actor=admin)  # nothing changed
    assert numbers(rule) == [2, 1]
    latest = versions_of(rule).first()
    assert latest.created_by == admin and latest.reason == "Germany instead"


def test_diff_between_two_versions_reads_in_words(admin):
    ann, bob = RepFactory(name="Ann Lee"), RepFactory(name="Bob Ray")
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=ann), actor=admin
    )
    rule.conditions, rule.target_rep, rule.status = DE, bob, "live"
    routing_rule_save(rule=rule, actor=admin)
    old, new = versions_of(rule).order_by("number")
    diff = {row["label"]: (row["old"], row["new"]) for row in version_diff(versioned(rule), old.data, new.data)}
    assert diff["Target rep"] == ("Ann Lee", "Bob Ray")
    assert diff["Status"] == ("Draft (preview and backtest only)", "Live")
    assert diff["Conditions"][0].startswith("Country is US") and diff["Conditions"][1].startswith("Country is DE")
    assert "Name" not in diff and "Priority" not in diff


def test_restore_routing_rule_creates_a_new_version_and_audits_it(admin):
    ann = RepFactory(name="Ann Lee")
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=ann), actor=admin
    )
    rule.conditions = DE
    routing_rule_save(rule=rule, actor=admin)
    with pytest.raises(ValidationError, match="why"):
        version_restore(obj=rule, number=1, actor=admin, reason="  ")
    made = version_restore(obj=rule, number=1, actor=admin, reason="Germany was a mistake")
    rule.refresh_from_db()
    assert made.number == 3 and made.restored_from == 1 and rule.version == 3
    assert rule.conditions == US
    assert "restored version 1: Germany was a mistake" in made.reason and made.created_by == admin
    assert rule.history.first().history_change_reason.startswith("restored version 1")
    assert numbers(rule) == [3, 2, 1]  # history is never rewritten
    with pytest.raises(ValidationError, match="same as the current"):
        version_restore(obj=rule, number=1, actor=admin, reason="again")


def test_restore_is_refused_when_the_old_version_is_no_longer_valid(admin):
    ann, bob = RepFactory(name="Ann Lee"), RepFactory(name="Bob Ray")
    pool = pool_save(pool=Pool(name="SDRs"), members=[{"rep": ann}, {"rep": bob}], actor=admin)
    assert pool.version == 1
    pool_save(pool=pool, members=[{"rep": bob}], actor=admin, reason="Ann moved to AEs")
    assert Pool.objects.get(pk=pool.pk).version == 2
    ann.is_active = False
    ann.save()
    with pytest.raises(ValidationError, match="Ann Lee is no longer active"):
        version_restore(obj=pool, number=1, actor=admin, reason="bring Ann back")
    assert numbers(pool) == [2, 1] and list(pool.members.values_list("rep__name", flat=True)) == ["Bob Ray"]


def test_restore_pool_members_and_fields(admin):
    ann, bob = RepFactory(name="Ann Lee"), RepFactory(name="Bob Ray")
    pool = pool_save(
        pool=Pool(name="SDRs", max_per_day=5), members=[{"rep": ann}, {"rep": bob, "weight": 3}], actor=admin
    )
    pool.max_per_day = 9
    pool_save(pool=pool, members=[{"rep": bob}], actor=admin)
    old, new = versions_of(pool).order_by("number")
    diff = {row["label"]: row for row in version_diff(versioned(pool), old.data, new.data)}
    assert diff["Max per day"]["old"] == "5" and diff["Max per day"]["new"] == "9"
    assert any("Ann Lee" in line for line in diff["Members"]["removed"])
    made = version_restore(obj=pool, number=1, actor=admin, reason="undo")
    pool.refresh_from_db()
    assert made.number == 3 and pool.max_per_day == 5
    assert [(m.rep.name, m.weight) for m in pool.members.order_by("position")] == [("Ann Lee", 1), ("Bob Ray", 3)]


def test_restore_sla_policy(admin):
    policy = sla_policy_save(policy=SlaPolicy(name="Hot", conditions=US, target_minutes=5), actor=admin)
    policy.target_minutes = 30
    sla_policy_save(policy=policy, actor=admin)
    assert policy.version == 2
    version_restore(obj=policy, number=1, actor=admin, reason="30 minutes is too slow")
    policy.refresh_from_db()
    assert policy.target_minutes == 5 and policy.version == 3


def test_restore_queue_is_refused_when_its_manager_left(admin):
    manager = UserFactory(username="mia")
    queue = queue_save(queue=Queue(name="Ops", manager=manager), actor=admin)
    queue.manager = None
    queue_save(queue=queue, actor=admin)
    assert queue.version == 2
    manager.is_active = False
    manager.save()
    with pytest.raises(ValidationError, match="cannot work items"):
        version_restore(obj=queue, number=1, actor=admin, reason="Mia again")
    queue.description = "Sales operations"
    queue_save(queue=queue, actor=admin)
    manager.is_active = True
    manager.save()
    made = version_restore(obj=queue, number=1, actor=admin, reason="Mia again")
    queue.refresh_from_db()
    assert queue.manager == manager and queue.description == "" and made.number == 4


def test_restore_checklist(admin):
    team = TeamFactory(name="Onboarding")
    checklist = checklist_save(checklist=Checklist(name="Sales → Onboarding", receiving_team=team), actor=admin)
    checklist.accept_within_hours = 24
    checklist_save(checklist=checklist, actor=admin)
    assert checklist.version == 2
    version_restore(obj=checklist, number=1, actor=admin, reason="back to two days")
    checklist.refresh_from_db()
    assert checklist.accept_within_hours == 48 and checklist.version == 3


def test_restore_dictionary_entry(admin):
    entry = core_services.dictionary_field_create(
        actor=admin,
        object_type="lead",
        key="partner_tier",
        label="Partner tier",
        definition="The partner's tier.",
        field_type="choice",
        allowed_values=["gold", "silver"],
        owning_team="Partnerships",
    )
    assert entry.version == 1
    core_services.dictionary_field_update(field=entry, actor=admin, label="Tier", allowed_values=["gold"])
    assert FieldDefinition.objects.get(pk=entry.pk).version == 2
    old, new = versions_of(entry).order_by("number")
    diff = {row["label"]: row for row in version_diff(versioned(entry), old.data, new.data)}
    assert diff["Label"]["old"] == "Partner tier" and diff["Allowed values"]["old"] == "gold, silver"
    version_restore(obj=entry, number=1, actor=admin, reason="silver is back")
    entry.refresh_from_db()
    assert entry.label == "Partner tier" and entry.allowed_values == ["gold", "silver"] and entry.version == 3


def test_restore_automation_keeps_its_mode_and_makes_a_rule_version(admin):
    automation = make_automation(actor=admin, conditions=US)
    automations.automation_update(automation=automation, actor=admin, conditions=DE, reason="Germany")
    rule_version = automation.version
    made = version_restore(obj=automation, number=1, actor=admin, reason="US again")
    automation.refresh_from_db()
    assert automation.conditions == US and automation.version == rule_version + 1
    assert made.number == 3 and made.restored_from == 1


def test_a_manager_cannot_restore_revops_rules(admin):
    ann = RepFactory(name="Ann Lee")
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=ann), actor=admin
    )
    rule.conditions = DE
    routing_rule_save(rule=rule, actor=admin)
    manager = UserFactory(username="manny", is_staff=True)
    roles.ensure_roles()
    roles.assign_role(manager, roles.MANAGER)
    with pytest.raises(PermissionDenied):
        version_restore(obj=rule, number=1, actor=manager, reason="I prefer the US")
    assert numbers(rule) == [2, 1]


def test_checklist_diff_names_required_fields_by_label_with_their_condition_in_words(admin):
    big = {"all": [{"field": "opportunity.amount", "op": "gte", "value": 50000}]}
    checklist = checklist_save(
        checklist=Checklist(name="Sales → Onboarding", required_fields=[{"field": "use_case"}]), actor=admin
    )
    checklist.required_fields = [{"field": "use_case"}, {"field": "billing_contact", "when": big}]
    checklist_save(checklist=checklist, actor=admin)
    old, new = versions_of(checklist).order_by("number")
    diff = {row["label"]: row for row in version_diff(versioned(checklist), old.data, new.data)}
    labels = dict(
        FieldDefinition.objects.filter(object_type="opportunity", key__in=["use_case", "billing_contact"]).values_list(
            "key", "label"
        )
    )
    assert diff["Required fields"]["old"] == f"• {labels['use_case']}"
    assert f"• {labels['billing_contact']}, when Amount ≥ 50000" in diff["Required fields"]["new"]
