"""Scarce items across automations: one open item per (record, topic), whichever automations raise it.

Approvals share one item per (record, change proposed); ``open_exception`` items per (record, kind or
``topic``). The item names every automation behind it; deciding it settles every proposal it stands for.
"""

import itertools

import pytest

from exceptions.approvals import exception_approval_approve, exception_approval_reject
from exceptions.models import ExceptionItem, Queue
from revops.engine.actions import approval_key
from revops.engine.services import automation_create
from revops.models import AppliedAction, OutboxEvent
from revops.services import record_save
from tests.factories import LeadFactory, OpportunityFactory, RepFactory, TeamFactory, UserFactory

from . import test_engine_kinds  # noqa: F401  (registers the scripted test kind)

pytestmark = pytest.mark.django_db
EVERY = {"all": []}
SEQ = itertools.count()


def make(name, *, rule_owner=None, **fields):
    rule = rule_owner or UserFactory(username=f"rule.{next(SEQ)}")
    Queue.objects.get_or_create(name="RevOps")
    values = {
        "purpose": f"{name} (test).",
        "object_type": "lead",
        "trigger": "updated",
        "conditions": EVERY,
        "rule_owner": rule,
        "failure_owner": rule,
        "exception_queue": "RevOps",
        "mode": "live",
        **fields,
    }
    return automation_create(actor=rule, name=name, **values)


def set_title(name, value, **fields):
    return make(name, kind="field_update", risk="high", config={"set": {"title": value}}, **fields)


def process():
    from revops.engine.pipeline import engine_process_events

    ids = list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True))
    return engine_process_events(event_ids=ids)


def touch(record, **values):
    for key, value in values.items():
        setattr(record, key, value)
    record_save(instance=record, actor=None)
    process()


def approvals():
    return ExceptionItem.objects.filter(kind="approval_required")


def action_of(automation) -> AppliedAction:
    return AppliedAction.objects.get(run__automation=automation)


def test_two_automations_proposing_the_same_field_share_one_approval_and_it_applies_once():
    first = set_title("A title from sales ops", "Head of Sales")
    second = set_title("B title from enrichment", "VP Sales")
    lead = LeadFactory(title="", country="DE")
    touch(lead, country="FR")

    item = approvals().get()
    assert item.dedupe_key == approval_key("lead", lead.pk, "field:title")
    assert item.occurrences == 2 and item.automation == first  # the first opener stays its automation
    names = [p["automation_name"] for p in item.proposal["proposals"]]
    assert names == ["A title from sales ops", "B title from enrichment"]
    # the latest proposal is the one approving applies; the reason lists both and says they disagree
    assert (
        item.proposal["automation_name"] == "B title from enrichment" and item.proposal["after"]["value"] == "VP Sales"
    )
    assert "Proposed by 2 automations — “A title from sales ops”: title → Head of Sales; " in item.reason
    assert "“B title from enrichment”: title → VP Sales. They disagree" in item.reason
    joined = action_of(second)
    assert joined.status == "approval"
    assert joined.after["note"] == f"joined the open approval #{item.pk}, also proposed by “A title from sales ops”"

    boss = UserFactory(username="boss")
    exception_approval_approve(item=item, actor=boss)
    lead.refresh_from_db()
    assert lead.title == "VP Sales" and lead.history.first().history_user == boss
    assert action_of(second).status == "applied"
    settled = action_of(first)
    assert settled.status == "skipped"
    assert settled.after["note"].startswith(
        f"decided with approval #{item.pk}: the proposal of “B title from enrichment”"
    )
    assert not approvals().filter(status__in=ExceptionItem.OPEN_STATUSES).exists()


def test_the_same_proposal_from_two_automations_says_they_agree_and_a_rejection_settles_both():
    first = set_title("Title A", "CEO")
    second = set_title("Title B", "CEO")
    lead = LeadFactory(title="")
    touch(lead, country="FR")
    item = approvals().get()
    assert "They propose the same change." in item.reason

    exception_approval_reject(item=item, actor=UserFactory(username="boss"), reason="The CRM owns titles")
    lead.refresh_from_db()
    assert lead.title == ""
    assert {action_of(a).status for a in (first, second)} == {"skipped"}
    assert "rejected" in action_of(first).after["note"] and "rejected" in action_of(second).after["note"]


def test_different_topics_on_one_record_get_their_own_approvals_and_one_automation_refreshes_its_own():
    set_title("Title", "CEO")
    make("State", kind="field_update", risk="high", config={"set": {"state": "CA"}})
    lead = LeadFactory(title="", state="NY")
    touch(lead, country="FR")
    assert sorted(approvals().values_list("dedupe_key", flat=True)) == sorted(
        [approval_key("lead", lead.pk, "field:title"), approval_key("lead", lead.pk, "field:state")]
    )
    touch(lead, country="ES")  # both fire again: refreshed, not doubled
    assert approvals().count() == 2 and set(approvals().values_list("occurrences", flat=True)) == {2}
    latest = AppliedAction.objects.filter(run__automation__name="Title").order_by("-pk").first()
    assert "refreshed its open approval" in latest.after["note"]


def legacy_approval(automation, lead):
    """An approval opened before topics: keyed per automation."""
    return ExceptionItem.objects.create(
        dedupe_key=f"approval:automation:{automation.pk}:lead:{lead.pk}:update_field",
        kind="approval_required",
        title="Approve: update field",
        reason="old",
        expected_action="Approve",
        automation=automation,
        object_type="lead",
        object_id=lead.pk,
        proposal={
            "action": "update_field",
            "params": {"key": "title", "value": "CEO"},
            "run": None,
            "index": 0,
            "automation": automation.pk,
            "automation_name": automation.name,
        },
    )


def test_an_approval_opened_under_the_old_per_automation_key_is_refreshed_and_joined_not_doubled():
    automation = set_title("A title", "CEO")
    set_title("B title", "CEO")
    make("C state", kind="field_update", risk="high", config={"set": {"state": "CA"}})
    lead = LeadFactory(title="", state="NY")
    old = legacy_approval(automation, lead)
    touch(lead, country="FR")
    # the old item stays the one about the title (both automations); the state gets its own
    assert approvals().count() == 2
    old.refresh_from_db()
    assert old.occurrences == 3 and [p["automation_name"] for p in old.proposal["proposals"]] == ["A title", "B title"]
    exception_approval_approve(item=old, actor=UserFactory(username="boss"))
    lead.refresh_from_db()
    assert lead.title == "CEO" and lead.state == "NY"
    assert sorted(AppliedAction.objects.filter(action="update_field").values_list("status", flat=True)) == [
        "applied",
        "approval",
        "skipped",
    ]


def alert(name, **config):
    values = {"title": "Check {record}", "expected_action": "Look at the lead.", "owner": "rule_owner", **config}
    return make(name, kind="alert", config=values)


def test_two_alert_automations_on_one_record_share_one_item_that_names_both():
    alert("Enterprise lead alert")
    alert("Strategic account alert")
    lead = LeadFactory()
    touch(lead, country="FR")
    item = ExceptionItem.objects.get(kind="hygiene_alert")
    assert item.dedupe_key == f"hygiene_alert:hygiene_alert:lead:{lead.pk}" and item.occurrences == 2
    assert item.reason.endswith("Raised by 2 automations: Enterprise lead alert, Strategic account alert.")
    second = AppliedAction.objects.get(run__automation__name="Strategic account alert")
    assert second.after["note"] == (
        f"joined the open item #{item.pk}, also raised by Enterprise lead alert (seen 2 times)"
    )

    item.status = ExceptionItem.Status.RESOLVED
    item.save(update_fields=["status"])
    touch(lead, country="ES")  # a closed item does not count: a new one opens
    assert ExceptionItem.objects.filter(kind="hygiene_alert", status="open").count() == 1


def scripted(name, **params):
    action = {"type": "open_exception", "params": {"kind": "missing_data", **params}}
    return make(name, kind="test_scripted", config={"actions": [action]})


def test_open_exception_topics_keep_problems_apart_and_an_old_key_is_refreshed_and_joined():
    scripted("A country", topic="country")
    old_style = scripted("B data")
    scripted("C data")
    lead = LeadFactory()
    legacy = f"missing_data:automation:{old_style.pk}:lead:{lead.pk}"
    ExceptionItem.objects.create(
        dedupe_key=legacy,
        kind="missing_data",
        title="old",
        reason="old",
        expected_action="x",
        automation=old_style,
        object_type="lead",
        object_id=lead.pk,
    )
    touch(lead, country="FR")
    keys = set(ExceptionItem.objects.filter(kind="missing_data").values_list("dedupe_key", "occurrences"))
    assert keys == {(f"missing_data:country:lead:{lead.pk}", 1), (legacy, 3)}
    assert ExceptionItem.objects.get(dedupe_key=legacy).reason.endswith("Raised by 2 automations: B data, C data.")


def test_a_guarded_field_waits_for_the_owners_manager_even_at_low_risk():
    manager_user = UserFactory(username="nora")
    manager = RepFactory(name="Nora Adams", user=manager_user)
    team = TeamFactory(name="NA Sales", manager=manager)
    team_queue = Queue.objects.create(name="NA Sales ops", team=team)
    sub = TeamFactory(name="NA SMB", parent=team, manager=None)
    rep = RepFactory(name="Angel", team=sub)
    deal = OpportunityFactory(owner=rep, forecast_category="commit")
    make(
        "Downgrade",
        object_type="opportunity",
        kind="field_update",
        risk="low",
        config={"set": {"forecast_category": "best_case"}},
    )
    touch(deal, amount=12345)
    deal.refresh_from_db()
    assert deal.forecast_category == "commit"
    item = approvals().get()
    assert item.queue == team_queue and item.owner == manager_user
    assert "changing a forecast category is the manager's decision" in item.reason
    assert item.dedupe_key == approval_key("opportunity", deal.pk, "field:forecast_category")
