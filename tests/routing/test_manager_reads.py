"""Managers read, without writing, what routing does to their teams: the routing rules that affect
them, every SLA policy, their teams' SLA clocks and SLA report; another team's rule or clock is not
listed and its page is hidden; previews, backtests and shadow reports (every team's leads) stay RevOps'."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from revops.access import ADMIN, MANAGER
from revops.people import set_role
from routing.models import Pool, PoolMember, RoutingRule, SlaClock, SlaPolicy
from tests.factories import LeadFactory, RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _manager(username, team):
    user = UserFactory(username=username)
    set_role(user, MANAGER)
    rep = RepFactory(name=f"{username} rep", team=team, user=user)
    team.manager = rep
    team.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_teams():
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    east_sub = TeamFactory(name="East SMB", parent=east)
    ana = RepFactory(name="Ana East", team=east_sub)
    wes = RepFactory(name="Wes West", team=west)
    east_pool = Pool.objects.create(name="East pool")
    PoolMember.objects.create(pool=east_pool, team=east_sub)
    west_pool = Pool.objects.create(name="West pool")
    PoolMember.objects.create(pool=west_pool, rep=wes)
    rule = lambda name, **kw: RoutingRule.objects.create(name=name, conditions={"all": []}, status="live", **kw)  # noqa: E731
    rules = {
        "to Ana": rule("To Ana", target_type="rep", target_rep=ana, priority=10),
        "to Wes": rule("To Wes", target_type="rep", target_rep=wes, priority=20),
        "east pool": rule("East pool rule", target_type="pool", target_pool=east_pool, priority=30),
        "west pool": rule("West pool rule", target_type="pool", target_pool=west_pool, priority=40),
        "owners": rule("Named accounts", target_type="account_owner", priority=50),
    }
    SlaPolicy.objects.create(name="Hot inbound", target_minutes=5, conditions={"all": []})
    now = timezone.now()
    clock = lambda rep, status: SlaClock.objects.create(  # noqa: E731
        lead=LeadFactory(owner=rep),
        owner=rep,
        policy="Hot inbound",
        target_minutes=5,
        started_at=now,
        due_at=now + dt.timedelta(minutes=5),
        status=status,
    )
    clocks = {"ana": clock(ana, "met"), "wes": clock(wes, "breached")}
    return {"east": east, "west": west, "rules": rules, "clocks": clocks, "east_client": _manager("erin", east)}


def test_a_manager_reads_the_rules_that_affect_their_teams(two_teams):
    client, rules = two_teams["east_client"], two_teams["rules"]
    listing = client.get(reverse("admin:routing_routingrule_changelist")).content.decode()
    for name in ("To Ana", "East pool rule", "Named accounts"):
        assert name in listing
    for name in ("To Wes", "West pool rule"):
        assert name not in listing
    assert "Backtest" not in listing and "Who would get this lead?" not in listing
    page = client.get(reverse("admin:routing_routingrule_change", args=[rules["to Ana"].pk]))
    assert page.status_code == 200 and 'name="name"' not in page.content.decode()  # read-only
    hidden = client.get(reverse("admin:routing_routingrule_change", args=[rules["to Wes"].pk]))
    assert hidden.status_code == 302  # the admin's "does not exist" redirect
    for name in ("admin:routing_routingrule_preview", "admin:routing_routingrule_backtest"):
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("admin:routing_routingrule_shadow", args=[rules["to Ana"].pk])).status_code == 403
    assert client.post(reverse("admin:routing_routingrule_change", args=[rules["to Ana"].pk]), {}).status_code == 403
    assert "Hot inbound" in client.get(reverse("admin:routing_slapolicy_changelist")).content.decode()


def test_a_manager_reads_their_teams_sla_clocks_and_report(two_teams):
    client, clocks = two_teams["east_client"], two_teams["clocks"]
    listing = client.get(reverse("admin:routing_slaclock_changelist")).content.decode()
    assert "Ana East" in listing and "Wes West" not in listing
    assert client.get(reverse("admin:routing_slaclock_change", args=[clocks["wes"].pk])).status_code == 302
    report = client.get(reverse("admin:routing_slaclock_report")).content.decode()
    assert "East SMB" in report and "West" not in report.replace("Wes West", "")
    assert "Wes West" not in report
    revops = UserFactory(username="rita")
    set_role(revops, ADMIN)
    admin_client = Client()
    admin_client.force_login(revops)
    full = admin_client.get(reverse("admin:routing_slaclock_report")).content.decode()
    assert "East SMB" in full and "Wes West" in full


def test_list_filters_offer_a_manager_their_own_teams_and_rules_only(two_teams):
    client = two_teams["east_client"]
    leads = client.get(reverse("admin:revops_lead_changelist")).content.decode()
    assert "East SMB" in leads and "Wes West" not in leads and ">West<" not in leads
    decisions = client.get(reverse("admin:routing_routingdecision_changelist")).content.decode()
    assert "To Wes" not in decisions and "West pool rule" not in decisions
