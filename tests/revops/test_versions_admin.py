"""The Versions page in the admin: a button on every versioned object, compare any two, restore; one version per
admin save (inlines included) and per configuration apply; managers may look but not restore."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from exceptions import roles
from exceptions.models import Queue
from exceptions.queues import queue_save
from handoffs.models import Checklist
from handoffs.services import checklist_save
from revops.configuration import config_apply
from revops.engine import services as automations
from revops.models import FieldDefinition
from revops.versions import versions_of
from routing.models import Pool, RoutingRule, SlaPolicy
from routing.services import routing_rule_save
from routing.setup_services import pool_save, sla_policy_save
from tests.factories import RepFactory, TeamFactory
from tests.revops.automation_support import make_automation

pytestmark = pytest.mark.django_db

US = {"all": [{"field": "lead.country", "op": "eq", "value": "US"}]}
DE = {"all": [{"field": "lead.country", "op": "in", "value": ["DE", "AT"]}]}


@pytest.fixture
def staff(admin_user, settings):
    settings.SECURE_SSL_REDIRECT = False
    client = Client()
    client.force_login(admin_user)
    return client


def versions_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_versions", args=[obj.pk])


def text(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def each_versioned_object(actor):
    ann = RepFactory(name="Ann Lee")
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=ann), actor=actor
    )
    return [
        rule,
        pool_save(pool=Pool(name="SDRs"), members=[{"rep": ann}], actor=actor),
        sla_policy_save(policy=SlaPolicy(name="Hot", target_minutes=5), actor=actor),
        checklist_save(checklist=Checklist(name="Sales → Onboarding", receiving_team=TeamFactory()), actor=actor),
        queue_save(queue=Queue(name="Ops"), actor=actor),
        FieldDefinition.objects.get(object_type="lead", key="country"),
        make_automation(actor=actor, conditions=US),
    ]


def test_every_versioned_object_has_a_versions_button_and_page(staff, admin_user):
    for obj in each_versioned_object(admin_user):
        change = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
        assert versions_url(obj) in text(staff.get(change)), obj._meta.model_name
        assert "Versions of" in text(staff.get(versions_url(obj)))


def test_page_compares_two_versions_in_words_and_restores(staff, admin_user):
    ann, bob = RepFactory(name="Ann Lee"), RepFactory(name="Bob Ray")
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=ann), actor=admin_user
    )
    rule.conditions, rule.target_rep = DE, bob
    routing_rule_save(rule=rule, actor=admin_user, reason="DACH goes to Bob")
    rule.priority = 5
    routing_rule_save(rule=rule, actor=admin_user, reason="first")
    page = text(staff.get(versions_url(rule) + "?a=1&b=2"))
    assert "Ann Lee" in page and "Bob Ray" in page and "Country is one of DE, AT" in page
    assert "DACH goes to Bob" in page and "Changed: Conditions, Target rep." in page
    assert '"field"' not in page.split("All versions")[0]  # no raw JSON in the diff

    refused = staff.post(versions_url(rule), {"number": "1", "reason": ""}, follow=True)
    assert "was not restored" in text(refused) and rule.version == 3
    done = staff.post(versions_url(rule), {"number": "1", "reason": "Bob is on leave"}, follow=True)
    assert "Version 1 restored as version 4" in text(done)
    rule.refresh_from_db()
    assert rule.version == 4 and rule.target_rep == ann and rule.conditions == US and rule.priority == 100
    latest = versions_of(rule).first()
    assert latest.restored_from == 1 and latest.created_by == admin_user and "Bob is on leave" in latest.reason


def test_restore_refused_shows_the_validation_message(staff, admin_user):
    ann = RepFactory(name="Ann Lee")
    pool = pool_save(pool=Pool(name="SDRs"), members=[{"rep": ann}], actor=admin_user)
    pool_save(pool=pool, members=[], actor=admin_user)
    ann.is_active = False
    ann.save()
    page = text(staff.post(versions_url(pool), {"number": "1", "reason": "Ann back"}, follow=True))
    assert "Version 1 was not restored" in page and "Ann Lee is no longer active" in page
    assert [v.number for v in versions_of(pool)] == [2, 1]


def test_an_admin_save_with_inlines_is_one_version(staff, admin_user):
    ann, bob = RepFactory(name="Ann Lee"), RepFactory(name="Bob Ray")
    pool = pool_save(pool=Pool(name="SDRs"), members=[{"rep": ann}], actor=admin_user)
    member = pool.members.get()
    data = {
        "name": "SDRs",
        "description": "Inbound SDRs",
        "strategy": "round_robin",
        "is_active": "on",
        "working_hours_start": "09:00",
        "working_hours_end": "17:00",
        "working_days": "[0, 1, 2, 3, 4]",
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "1",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "members-0-id": str(member.pk),
        "members-0-pool": str(pool.pk),
        "members-0-position": "0",
        "members-0-rep": str(ann.pk),
        "members-0-weight": "1",
        "members-0-is_active": "on",
        "members-1-pool": str(pool.pk),
        "members-1-position": "1",
        "members-1-rep": str(bob.pk),
        "members-1-weight": "2",
        "members-1-is_active": "on",
    }
    response = staff.post(reverse("admin:routing_pool_change", args=[pool.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    pool.refresh_from_db()
    assert pool.version == 2 and [v.number for v in versions_of(pool)] == [2, 1]
    assert len(versions_of(pool).first().data["members"]) == 2


def test_a_configuration_apply_is_one_version_per_object(admin_user):
    queue = queue_save(queue=Queue(name="Ops"), actor=admin_user)
    config_apply(
        document={"version": 1, "queues": [{"name": "Ops", "description": "Sales ops", "due_hours_high": 8}]},
        actor=admin_user,
        source="ops.yaml",
    )
    queue.refresh_from_db()
    assert queue.version == 2 and versions_of(queue).first().reason == "config apply ops.yaml by admin"


def test_a_manager_sees_versions_but_cannot_restore(admin_user, settings):
    settings.SECURE_SSL_REDIRECT = False
    automation = make_automation(actor=admin_user, conditions=US)
    automations.automation_update(automation=automation, actor=admin_user, conditions=DE)
    roles.ensure_roles()
    from tests.factories import UserFactory

    manager = UserFactory(username="manny", is_staff=True)
    roles.assign_role(manager, roles.MANAGER)
    client = Client()
    client.force_login(manager)
    page = text(client.get(versions_url(automation)))
    assert "Versions of automation" in page and "Restore this version" not in page
    assert client.post(versions_url(automation), {"number": "1", "reason": "mine"}).status_code == 403
    automation.refresh_from_db()
    assert automation.conditions == DE
    rule = routing_rule_save(
        rule=RoutingRule(name="US to Ann", conditions=US, target_type="rep", target_rep=RepFactory()), actor=admin_user
    )
    # Managers read the rules that affect their teams; this one routes to a rep of no team of theirs.
    assert client.get(versions_url(rule)).status_code == 404
