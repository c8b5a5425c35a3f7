"""The triage admin: default view, filters, counts, next item, every action through the services, item page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions import roles
from exceptions.models import ExceptionItem
from tests.exceptions.support import make_queue, open_item
from tests.factories import LeadFactory, UserFactory
from tests.revops.automation_support import explanation_for, make_automation, make_run

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:exceptions_exceptionitem_changelist"


def url(view, *args):
    return reverse(f"admin:exceptions_exceptionitem_{view}", args=args)


def act_url(item, action):
    return reverse("admin:exceptions_exceptionitem_act", args=[item.pk, action])


def manager(username):
    user = UserFactory(username=username)
    roles.assign_role(user, roles.MANAGER)
    return user


@pytest.fixture
def world():
    """Two managers with a queue each; the NA queue holds overdue, due-later, undated and closed items."""
    now = timezone.now()
    na, emea = manager("manager.na"), manager("manager.emea")
    q_na = make_queue("NA Sales ops", manager=na)
    q_emea = make_queue("EMEA Sales ops", manager=emea)
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", country="US", score=80)
    automation = make_automation()
    run = make_run(automation, lead, key="event:1", explanation=explanation_for(country="US", score=80))
    items = {
        "later": open_item("na-later", queue=q_na, due_at=now + dt.timedelta(hours=5), severity="low"),
        "overdue": open_item(
            "na-overdue",
            queue=q_na,
            due_at=now - dt.timedelta(hours=2),
            kind="no_routing_match",
            severity="high",
            automation=automation,
            run=run,
            object_type="lead",
            object_id=lead.pk,
            external_id=lead.external_id,
            title="No routing rule matched Ada Lovelace",
            reason="Lead from US with score 80 matched no NA routing rule.",
            expected_action="Pick the owner by hand.",
        ),
        "sibling": open_item(
            "na-sibling",
            queue=q_na,
            due_at=now + dt.timedelta(days=2),
            object_type="lead",
            object_id=lead.pk,
            title="Ada Lovelace has no phone",
        ),
        "undated": open_item("na-undated", queue=q_na),
        "closed": open_item("na-closed", queue=q_na, due_at=now - dt.timedelta(days=3)),
        "emea_item": open_item(
            "emea-1", queue=q_emea, due_at=now - dt.timedelta(hours=1), title="EMEA lead missing VAT id"
        ),
    }
    ExceptionItem.objects.filter(pk=items["undated"].pk).update(due_at=None)
    ExceptionItem.objects.filter(pk=items["closed"].pk).update(status="resolved")
    for item in items.values():
        item.refresh_from_db()
    return {"na": na, "emea": emea, "q_na": q_na, "q_emea": q_emea, "lead": lead, "run": run, **items}


@pytest.fixture
def na_client(client, world):
    client.force_login(world["na"])
    return client


def row_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', response.content.decode())]


def test_manager_lands_on_the_triage_view(na_client):
    response = na_client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"] == reverse(CHANGELIST)
    assert na_client.get(reverse("admin:index") + "?index=1").status_code == 200


def test_revops_admin_lands_on_the_dashboard_once_after_logging_in(client):
    admin_user = UserFactory(username="rita.lands", is_staff=True, is_superuser=True)
    admin_user.set_password("a-long-password-1")
    admin_user.save()
    login = reverse("admin:login")
    landed = client.post(
        login + "?next=/admin/", {"username": "rita.lands", "password": "a-long-password-1", "next": "/admin/"}
    )
    assert landed.status_code == 302 and landed["Location"] == reverse("admin:index")
    first = client.get(reverse("admin:index"))
    assert first.status_code == 302 and first["Location"] == reverse("revops-dashboard")
    assert client.get(reverse("admin:index")).status_code == 200  # once: "Home" is the index again
    client.logout()
    elsewhere = reverse("admin:exceptions_exceptionitem_changelist")
    client.post(login, {"username": "rita.lands", "password": "a-long-password-1", "next": elsewhere})
    assert client.get(reverse("admin:index")).status_code == 200  # asked for another page: no detour


def test_default_view_is_my_queues_open_overdue_first_with_counts(na_client, world):
    response = na_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    # the order Next item serves: overdue first, then severity (medium before low), then due time (none last)
    assert row_ids(response) == [world[k].pk for k in ("overdue", "sibling", "undated", "later")]
    html = response.content.decode()
    assert "EMEA lead missing VAT id" not in html
    assert response.context["queue_counts"] == [
        {"pk": world["q_na"].pk, "name": "NA Sales ops", "open": 4, "overdue": 1, "approvals": 0, "snoozed": 0}
    ]
    assert 'id="rv-next-item"' in html
    assert "overdue" in html and "why?" in html


def test_changelist_queries_do_not_count_the_whole_table(na_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        na_client.get(reverse(CHANGELIST))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=all", ["overdue", "closed", "sibling", "undated", "later"]),
        ("state=closed", ["closed"]),
        ("state=overdue", ["overdue"]),
        ("overdue=yes", ["overdue"]),
        ("overdue=no", ["sibling", "undated", "later"]),
        ("kind=no_routing_match", ["overdue"]),
        ("severity=low", ["later"]),
        ("q=phone", ["sibling"]),
        ("age=1d", ["overdue", "sibling", "undated", "later"]),
        ("age=old", []),
    ],
)
def test_filters(na_client, world, query, expected):
    response = na_client.get(reverse(CHANGELIST) + "?" + query)
    assert response.status_code == 200
    assert row_ids(response) == [world[k].pk for k in expected]


def test_owner_queue_and_automation_filters(na_client, world):
    from exceptions.services import exception_item_claim

    exception_item_claim(item=world["later"], actor=world["na"])
    mine = row_ids(na_client.get(reverse(CHANGELIST) + "?owner=me"))
    assert world["later"].pk in mine
    others = row_ids(na_client.get(reverse(CHANGELIST) + "?owner=others"))
    assert world["later"].pk not in others
    by_queue = row_ids(na_client.get(reverse(CHANGELIST) + f"?queue={world['q_na'].pk}"))
    assert set(by_queue) == {world[k].pk for k in ("overdue", "later", "sibling", "undated")}
    response = na_client.get(reverse(CHANGELIST) + f"?automation={world['overdue'].automation_id}")
    assert row_ids(response) == [world["overdue"].pk]
    queue_choices = [title for _pk, title in response.context["cl"].filter_specs[1].lookup_choices]
    assert queue_choices == ["NA Sales ops"]  # the queue filter offers visible queues only


def test_other_teams_manager_cannot_see_or_act(client, world):
    client.force_login(world["emea"])
    assert row_ids(client.get(reverse(CHANGELIST))) == [world["emea_item"].pk]
    assert client.get(url("change", world["overdue"].pk)).status_code in (302, 404)
    assert client.post(act_url(world["overdue"], "claim"), {"_confirm": "1"}).status_code == 404
    assert client.get(act_url(world["overdue"], "resolve")).status_code == 404
    world["overdue"].refresh_from_db()
    assert world["overdue"].claimed_at is None


def test_next_item_claims_the_most_urgent_and_opens_it(na_client, world):
    response = na_client.post(url("next"))
    assert response.status_code == 302 and response["Location"] == url("change", world["overdue"].pk) + "?triage=next"
    world["overdue"].refresh_from_db()
    assert world["overdue"].owner == world["na"] and world["overdue"].status == "in_progress"
    assert world["overdue"].claimed_at is not None
    second = na_client.post(url("next"))
    # not overdue: medium before low, then by due time (none last)
    assert second["Location"] == url("change", world["sibling"].pk) + "?triage=next"


def test_next_item_when_nothing_is_left(client, world):
    other = manager("manager.apac")
    make_queue("APAC Sales ops", manager=other)
    client.force_login(other)
    response = client.post(url("next"), follow=True)
    assert response.redirect_chain[-1][0] == reverse(CHANGELIST)
    assert "Nothing to take" in response.content.decode()


def test_item_page_shows_record_explanation_expected_action_related_and_history(na_client, world):
    response = na_client.get(url("change", world["overdue"].pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lead from US with score 80 matched no NA routing rule." in html
    assert "Pick the owner by hand." in html
    assert reverse("admin:revops_lead_change", args=[world["lead"].pk]) in html
    assert "Country is one of US, CA" in html and "(actual: US)" in html  # the run card
    assert "Ada Lovelace has no phone" in html  # related open item on the same record
    assert 'id="rv-item-history"' in html and "created" in html
    assert "queue manager: manager.na" in html
    for action in ("claim", "assign", "resolve", "dismiss", "snooze", "escalate"):
        assert f'data-action="{action}"' in html
    assert 'name="_save"' not in html


def test_single_actions_through_the_item_page(na_client, world):
    item = world["overdue"]
    na_client.post(act_url(item, "claim"), {"_confirm": "1"})
    item.refresh_from_db()
    assert item.owner == world["na"] and item.claimed_at is not None

    form = na_client.get(act_url(item, "assign"))
    assert form.status_code == 200 and 'name="owner"' in form.content.decode()
    other = UserFactory(username="ops.helper", is_staff=True)
    na_client.post(act_url(item, "assign"), {"_confirm": "1", "owner": other.pk})
    item.refresh_from_db()
    assert item.owner == other

    until = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    na_client.post(act_url(item, "snooze"), {"_confirm": "1", "until": until})
    item.refresh_from_db()
    assert item.status == "snoozed" and item.snoozed_until is not None

    missing = na_client.post(act_url(world["later"], "escalate"), {"_confirm": "1", "reason": ""})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    na_client.post(act_url(world["later"], "escalate"), {"_confirm": "1", "reason": "Customer is waiting"})
    world["later"].refresh_from_db()
    # the manager escalating is skipped: the item goes to the escalation target, never to themselves
    assert world["later"].escalation_level == 2 and world["later"].owner == world["q_na"].escalation_target

    missing = na_client.post(act_url(world["sibling"], "dismiss"), {"_confirm": "1", "reason": ""})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    na_client.post(act_url(world["sibling"], "dismiss"), {"_confirm": "1", "reason": "Same person, already fixed"})
    world["sibling"].refresh_from_db()
    assert world["sibling"].status == "dismissed"

    response = na_client.post(
        act_url(world["undated"], "resolve"),
        {"_confirm": "1", "reason_code": "data_corrected", "note": "Country filled in"},
        follow=True,
    )
    world["undated"].refresh_from_db()
    assert world["undated"].status == "resolved" and world["undated"].resolution_code == "data_corrected"
    assert world["undated"].resolved_by == world["na"]
    assert "resolved" in response.content.decode()
    users = set(item.history.values_list("history_user__username", flat=True))
    assert "manager.na" in users  # audit rows name the manager


def test_refusal_is_a_message_not_an_error(na_client, world):
    response = na_client.post(
        act_url(world["closed"], "resolve"), {"_confirm": "1", "reason_code": "fixed_in_crm", "note": ""}, follow=True
    )
    assert response.status_code == 200
    assert "refused" in response.content.decode()


def bulk(client, action, items, query="", **data):
    payload = {"action": action, "_selected_action": [i.pk for i in items], **data}
    return client.post(reverse(CHANGELIST) + query, payload, follow=True)


def test_bulk_actions(na_client, world):
    items = [world["later"], world["sibling"]]
    response = bulk(na_client, "claim_selected", items)
    assert "2 item(s) claimed" in response.content.decode()
    assert {i.owner_id for i in ExceptionItem.objects.filter(pk__in=[i.pk for i in items])} == {world["na"].pk}

    response = bulk(na_client, "escalate_selected", items, _confirm="1", reason="Needs a decision")
    assert "2 item(s) escalated" in response.content.decode()

    intermediate = bulk(na_client, "resolve_selected", items)
    assert intermediate.status_code == 200 and 'name="reason_code"' in intermediate.content.decode()
    response = bulk(na_client, "resolve_selected", items, _confirm="1", reason_code="fixed_in_crm", note="bulk")
    assert "2 item(s) resolved" in response.content.decode()
    assert set(ExceptionItem.objects.filter(pk__in=[i.pk for i in items]).values_list("status", flat=True)) == {
        "resolved"
    }

    response = bulk(na_client, "dismiss_selected", [world["overdue"]], _confirm="1", reason="")
    assert "This field is required" in response.content.decode()
    until = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = bulk(
        na_client, "snooze_selected", [world["overdue"], world["closed"]], "?state=all", _confirm="1", until=until
    )
    text = response.content.decode()
    assert "1 item(s) snoozed" in text and "1 refused" in text
    other = UserFactory(username="ops.helper2", is_staff=True)
    bulk(na_client, "assign_selected", [world["undated"]], _confirm="1", owner=other.pk)
    world["undated"].refresh_from_db()
    assert world["undated"].owner == other


def test_bulk_actions_never_reach_invisible_items(client, world):
    client.force_login(world["emea"])
    bulk(client, "claim_selected", [world["overdue"]])
    world["overdue"].refresh_from_db()
    assert world["overdue"].claimed_at is None


@pytest.fixture
def demo(db):
    from revops.demo import demo_load

    demo_load()
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="manager.emea")


def approval(queue_name="EMEA Sales ops"):
    return ExceptionItem.objects.filter(kind="approval_required", queue__name=queue_name, decision="").first()


def test_approval_buttons_approve_reject_override(client, demo):
    client.force_login(demo)
    item = approval()
    page = client.get(url("change", item.pk)).content.decode()
    for action in ("approve", "reject", "override"):
        assert f'data-action="{action}"' in page
    assert "Proposed action" in page and "forecast_category" in page

    client.post(act_url(item, "approve"), {"_confirm": "1"})
    item.refresh_from_db()
    assert item.decision == "approved" and item.status == "resolved"
    from revops.models import Opportunity

    assert Opportunity.objects.get(pk=item.object_id).forecast_category == "best_case"

    item = approval()
    missing = client.post(act_url(item, "reject"), {"_confirm": "1", "reason": ""})
    assert "This field is required" in missing.content.decode()
    client.post(act_url(item, "reject"), {"_confirm": "1", "reason": "Deal is active, activity is logged in email"})
    item.refresh_from_db()
    assert item.decision == "rejected"

    item = approval()
    form = client.get(act_url(item, "override"))
    assert form.status_code == 200 and 'name="value"' in form.content.decode()
    client.post(act_url(item, "override"), {"_confirm": "1", "value": "pipeline", "note": "Push it further"})
    item.refresh_from_db()
    assert item.decision == "overridden"
    assert Opportunity.objects.get(pk=item.object_id).forecast_category == "pipeline"


def test_search_finds_closed_items_too(na_client, world):
    ExceptionItem.objects.filter(pk=world["closed"].pk).update(title="Closed lead with a typo")
    response = na_client.get(reverse(CHANGELIST) + "?q=typo")
    assert row_ids(response) == [world["closed"].pk]
    assert row_ids(na_client.get(reverse(CHANGELIST) + "?q=typo&state=open")) == []


def macro_url(item, key):
    return reverse("admin:exceptions_exceptionitem_macro", args=[item.pk, key])


def test_snoozed_items_leave_the_open_view_until_they_wake(na_client, world):
    from exceptions.services import exception_item_snooze, exception_wake_snoozed

    until = timezone.now() + dt.timedelta(hours=3)
    exception_item_snooze(item=world["overdue"], until=until, actor=world["na"])
    for state in ("", "?state=overdue"):
        assert world["overdue"].pk not in row_ids(na_client.get(reverse(CHANGELIST) + state))
    snoozed = na_client.get(reverse(CHANGELIST) + "?state=snoozed")
    assert row_ids(snoozed) == [world["overdue"].pk] and "wakes " in snoozed.content.decode()
    counts = na_client.get(reverse(CHANGELIST)).context["queue_counts"][0]
    assert (counts["open"], counts["overdue"], counts["snoozed"]) == (3, 0, 1)
    exception_wake_snoozed(now=until + dt.timedelta(minutes=1))
    assert row_ids(na_client.get(reverse(CHANGELIST)))[0] == world["overdue"].pk


def test_rows_read_in_words_with_names_and_human_durations(na_client, world):
    world["na"].first_name, world["na"].last_name = "Nadia", "Ames"
    world["na"].save()
    html = na_client.get(reverse(CHANGELIST)).content.decode()
    assert "Lead from US with score 80 matched no NA routing rule." in html  # the reason in the row
    assert "→ Pick the owner by hand." in html  # the expected action in the row
    assert "No routing match" in html and ">no_routing_match<" not in html
    assert "Nadia Ames" in html and "2 hours overdue" in html and "due in 4 hours" in html
    assert 'data-macro="fixed_in_crm"' in html and 'data-macro="snooze_day"' in html


def test_row_macros_act_in_one_click_and_come_back_to_the_list(na_client, world):
    back = reverse(CHANGELIST) + "?severity=medium"
    response = na_client.post(macro_url(world["sibling"], "fixed_in_crm"), HTTP_REFERER="http://testserver" + back)
    assert response.status_code == 302 and response["Location"] == back
    world["sibling"].refresh_from_db()
    assert world["sibling"].status == "resolved" and world["sibling"].resolution_code == "fixed_in_crm"
    assert world["sibling"].resolved_by == world["na"]

    na_client.post(macro_url(world["later"], "snooze_day"))
    world["later"].refresh_from_db()
    assert world["later"].status == "snoozed" and world["later"].snoozed_until > timezone.now() + dt.timedelta(hours=23)
    assert "Snooze 1 day" not in na_client.get(reverse(CHANGELIST) + "?state=snoozed").content.decode()

    # a closed item, an unknown macro, another team's item, a foreign referer
    refused = na_client.post(macro_url(world["closed"], "fixed_in_crm"), follow=True)
    assert "not possible" in refused.content.decode()
    assert na_client.post(macro_url(world["undated"], "nope")).status_code == 404
    assert na_client.post(macro_url(world["emea_item"], "fixed_in_crm")).status_code == 404
    away = na_client.post(macro_url(world["undated"], "claim"), HTTP_REFERER="https://evil.example/admin/")
    assert away["Location"] == reverse(CHANGELIST)
    world["emea_item"].refresh_from_db()
    assert world["emea_item"].status == "open"


def test_next_item_mode_moves_on_after_each_action(na_client, world):
    first = na_client.post(url("next"))
    assert first["Location"] == url("change", world["overdue"].pk) + "?triage=next"
    page = na_client.get(first["Location"]).content.decode()
    assert act_url(world["overdue"], "resolve") + "?triage=next" in page and 'id="rv-next-mode"' in page
    done = na_client.post(
        act_url(world["overdue"], "resolve") + "?triage=next",
        {"_confirm": "1", "reason_code": "fixed_in_crm", "note": ""},
    )
    assert done["Location"] == url("change", world["sibling"].pk) + "?triage=next"
    snoozed = na_client.post(
        act_url(world["sibling"], "snooze") + "?triage=next",
        {"_confirm": "1", "until": (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")},
    )
    assert snoozed["Location"] == url("change", world["undated"].pk) + "?triage=next"
    escalated = na_client.post(
        act_url(world["undated"], "escalate") + "?triage=next", {"_confirm": "1", "reason": "Needs a decision"}
    )
    assert escalated["Location"] == url("change", world["later"].pk) + "?triage=next"
    last = na_client.post(
        act_url(world["later"], "dismiss") + "?triage=next", {"_confirm": "1", "reason": "Not needed"}, follow=True
    )
    assert last.redirect_chain[-1][0] == reverse(CHANGELIST)
    assert "That was the last one" in last.content.decode()
    # outside the mode an action stays on the item page
    item = open_item("na-extra", queue=world["q_na"])
    plain = na_client.post(act_url(item, "resolve"), {"_confirm": "1", "reason_code": "not_an_issue", "note": ""})
    assert plain["Location"] == url("change", item.pk)


def test_escalating_in_the_admin_needs_a_reason_and_never_targets_me(na_client, world):
    form = na_client.get(act_url(world["later"], "escalate")).content.decode()
    assert 'name="reason"' in form and "required" in form
    na_client.post(act_url(world["later"], "escalate"), {"_confirm": "1", "reason": "Customer is waiting"})
    world["later"].refresh_from_db()
    assert world["later"].owner == world["q_na"].escalation_target and world["later"].owner != world["na"]
