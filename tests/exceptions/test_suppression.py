"""Suppression in the queue: a person silences a rule for a record from its item — until a date or until the
record changes — with a counted reason; lifted early; refused input; noise in words; who may do it."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from exceptions import roles
from exceptions.errors import ItemStateError
from exceptions.models import ExceptionItem, RateLimit, RateLimitHold, Suppression
from exceptions.rate_limits import rate_limit_split
from exceptions.services import exception_item_dismiss
from exceptions.suppressions import (
    exception_item_suppress,
    suppression_lift,
    suppression_reason_counts,
    suppressions_in_force,
)
from revops.models import Opportunity
from tests.exceptions.support import make_queue, open_item
from tests.factories import OpportunityFactory, UserFactory

pytestmark = pytest.mark.django_db


def manager(username):
    user = UserFactory(username=username)
    roles.assign_role(user, roles.MANAGER)
    return user


def act_url(item, action):
    return reverse("admin:exceptions_exceptionitem_act", args=[item.pk, action])


@pytest.fixture
def world():
    na, emea = manager("manager.na"), manager("manager.emea")
    q_na, q_emea = make_queue("NA Sales ops", manager=na), make_queue("EMEA Sales ops", manager=emea)
    deal = OpportunityFactory(name="Acme - Platform", amount=50000)
    item = open_item("deal-1", queue=q_na, object_type="opportunity", object_id=deal.pk, external_id=deal.external_id)
    other = open_item("deal-2", queue=q_emea, object_type="opportunity", object_id=deal.pk)
    return {"na": na, "emea": emea, "deal": deal, "item": item, "other": other}


def test_suppress_until_a_date_closes_the_item_and_counts_the_reason(world):
    until = timezone.now() + dt.timedelta(days=14)

    item = exception_item_suppress(
        item=world["item"], actor=world["na"], until=until, reason_code="being_handled", note="Legal review"
    )

    row = Suppression.objects.get()
    assert (row.object_type, row.object_id, row.kind, row.automation) == (
        "opportunity",
        world["deal"].pk,
        "missing_data",
        None,
    )
    assert row.until == until and not row.until_change and row.created_by == world["na"] and row.item == item
    assert row.is_active() and row.record_label == "Acme - Platform"
    assert item.status == "resolved" and item.resolution_code == "suppressed"
    assert item.get_resolution_code_display() == "Suppressed for this record"
    assert (
        "Suppressed by manager.na until " in item.resolution_note and "(Known, being handled)" in item.resolution_note
    )
    assert suppression_reason_counts(kind="missing_data") == {"missing_data": Counter(being_handled=1)}
    assert row.history.filter(history_user=world["na"]).exists()


def test_until_change_holds_over_an_unchanged_record_and_lapses_when_it_changes(world):
    exception_item_suppress(item=world["item"], actor=world["na"], until_change=True, reason_code="data_correct")
    row = Suppression.objects.get()
    now = timezone.now()

    deal = Opportunity.objects.get(pk=world["deal"].pk)
    deal.save()  # a write that changes no value (a sync sending the same record) bumps updated_at only
    deal = Opportunity.objects.get(pk=deal.pk)
    assert [
        s.pk for s in suppressions_in_force(object_type="opportunity", records={deal.pk: deal}, now=now)[deal.pk]
    ] == [row.pk]

    deal.amount = 60000
    deal.save()
    deal = Opportunity.objects.get(pk=deal.pk)
    assert suppressions_in_force(object_type="opportunity", records={deal.pk: deal}, now=now) == {}
    row.refresh_from_db()
    assert row.lifted_at == now and row.lifted_by is None and row.lift_reason == "the deal changed"


def test_a_date_that_passed_lapses_the_suppression(world):
    until = timezone.now() + dt.timedelta(days=1)
    exception_item_suppress(item=world["item"], actor=world["na"], until=until, reason_code="being_handled")
    deal = world["deal"]
    later = until + dt.timedelta(minutes=1)

    assert suppressions_in_force(object_type="opportunity", records={deal.pk: deal}, now=later) == {}
    assert Suppression.objects.get().lift_reason == "the date passed"


def test_lifted_early_by_a_person(world):
    exception_item_suppress(item=world["item"], actor=world["na"], until_change=True, reason_code="being_handled")
    row = Suppression.objects.get()

    suppression_lift(suppression=row, actor=world["na"], note="The deal slipped after all")

    row.refresh_from_db()
    assert not row.is_active() and row.lifted_by == world["na"]
    assert row.lift_reason == "lifted early by manager.na: The deal slipped after all"
    with pytest.raises(ItemStateError):
        suppression_lift(suppression=row, actor=world["na"])


def test_a_new_suppression_replaces_the_one_in_force(world):
    exception_item_suppress(item=world["item"], actor=world["na"], until_change=True, reason_code="being_handled")
    second = open_item("deal-1", queue=world["item"].queue, object_type="opportunity", object_id=world["deal"].pk)
    exception_item_suppress(
        item=second, actor=world["na"], until=timezone.now() + dt.timedelta(days=3), reason_code="noise"
    )
    rows = list(Suppression.objects.order_by("pk"))
    assert rows[0].lift_reason == "replaced by a new suppression" and rows[1].is_active()
    assert suppression_reason_counts(kind="missing_data")["missing_data"] == Counter(being_handled=1, noise=1)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"reason_code": "being_handled"}, "until"),
        (
            {"reason_code": "being_handled", "until_change": True, "until": timezone.now() + dt.timedelta(days=1)},
            "until",
        ),
        ({"reason_code": "being_handled", "until": timezone.now() - dt.timedelta(days=1)}, "until"),
        ({"reason_code": "being_handled", "until": timezone.now() + dt.timedelta(days=400)}, "until"),
        ({"reason_code": "other", "until_change": True}, "note"),
        ({"reason_code": "because", "until_change": True}, "reason_code"),
    ],
)
def test_refused_input_names_the_field_and_writes_nothing(world, kwargs, field):
    with pytest.raises(ValidationError) as error:
        exception_item_suppress(item=world["item"], actor=world["na"], **kwargs)
    assert field in error.value.message_dict
    assert not Suppression.objects.exists()
    assert ExceptionItem.objects.get(pk=world["item"].pk).status == "open"


def test_a_closed_item_or_one_about_no_record_cannot_be_suppressed(world):
    bare = open_item("no-record", queue=world["item"].queue)
    with pytest.raises(ItemStateError):
        exception_item_suppress(item=bare, actor=world["na"], until_change=True, reason_code="being_handled")
    exception_item_dismiss(item=world["item"], reason="done", actor=world["na"])
    with pytest.raises(ItemStateError):
        exception_item_suppress(item=world["item"], actor=world["na"], until_change=True, reason_code="being_handled")


def test_the_item_page_form_suppresses_and_another_teams_manager_gets_a_404(client, world):
    client.force_login(world["na"])
    form = client.get(act_url(world["item"], "suppress"))
    page = form.content.decode()
    assert form.status_code == 200
    assert 'name="topics"' in page and 'name="until_change"' in page and "Known, being handled" in page

    missing = client.post(act_url(world["item"], "suppress"), {"_confirm": "1", "reason_code": "being_handled"})
    assert missing.status_code == 200 and "Say until when" in missing.content.decode()
    client.post(
        act_url(world["item"], "suppress"),
        {"_confirm": "1", "topics": ["kind"], "until_change": "on", "reason_code": "data_correct"},
    )
    assert Suppression.objects.get().until_change
    assert ExceptionItem.objects.get(pk=world["item"].pk).status == "resolved"

    client.force_login(world["emea"])
    assert client.get(act_url(world["item"], "suppress")).status_code == 404
    assert (
        client.post(
            act_url(world["item"], "suppress"), {"_confirm": "1", "until_change": "on", "reason_code": "noise"}
        ).status_code
        == 404
    )
    assert Suppression.objects.count() == 1
    # the suppressions list shows a manager only those made on items they may see
    response = client.get(reverse("admin:exceptions_suppression_changelist"))
    assert response.status_code == 200 and "Acme - Platform" not in response.content.decode()
    client.force_login(world["na"])
    response = client.get(reverse("admin:exceptions_suppression_changelist"))
    assert "Acme - Platform" in response.content.decode() and "The data is right as it is" in response.content.decode()


def test_lift_early_from_the_suppressions_list(client, world):
    exception_item_suppress(item=world["item"], actor=world["na"], until_change=True, reason_code="being_handled")
    row = Suppression.objects.get()
    client.force_login(world["na"])
    client.post(
        reverse("admin:exceptions_suppression_changelist"),
        {"action": "lift_selected", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert row.lifted_by == world["na"] and row.lift_reason.startswith("lifted early by manager.na")


def test_dismissed_as_noise_reads_in_words(client, world):
    exception_item_dismiss(item=world["item"], reason="This rule misfires on renewals", actor=world["na"], noise=True)
    item = ExceptionItem.objects.get(pk=world["item"].pk)
    assert item.resolution_code == "noise" and item.get_resolution_code_display() == "Noise: the rule is wrong here"
    client.force_login(world["na"])
    page = client.get(reverse("admin:exceptions_exceptionitem_change", args=[item.pk])).content.decode()
    assert "Noise: the rule is wrong here" in page
    assert "(noise)" not in page


def test_rate_limit_split_opens_the_most_important_first_per_owner():
    owner, other = UserFactory(username="m1"), UserFactory(username="m2")
    RateLimit.objects.create(kind="missing_data", per_owner=2, period_hours=24)
    now = timezone.now()
    candidates = [(owner.pk, 10), (owner.pk, 90), (owner.pk, 50), (other.pk, 5), (None, 1)]

    admitted, held, limit = rate_limit_split(
        kind="missing_data", candidates=candidates, owner=lambda c: c[0], importance=lambda c: -c[1], now=now
    )

    assert sorted(admitted, key=lambda c: -c[1]) == [(owner.pk, 90), (owner.pk, 50), (other.pk, 5), (None, 1)]
    assert held == Counter({owner.pk: 1}) and limit.per_owner == 2


def test_the_api_suppresses_with_a_list_of_topics_and_dismisses_as_noise(world, settings):
    from tests.revops.api_support import token_client

    settings.SECURE_SSL_REDIRECT = False
    settings.ALLOWED_HOSTS = ["testserver", "localhost"]
    client = token_client("read", "exceptions:write")
    bad = client.post(
        f"/api/v1/exceptions/{world['item'].pk}/suppress/",
        {"topics": ["kind"], "reason_code": "noise"},
        format="json",
    )
    assert bad.status_code == 400 and "until" in bad.json()
    unknown = client.post(
        f"/api/v1/exceptions/{world['item'].pk}/suppress/",
        {"topics": ["999"], "until_change": True, "reason_code": "noise"},
        format="json",
    )
    assert unknown.status_code == 400 and "topics" in unknown.json()

    done = client.post(
        f"/api/v1/exceptions/{world['item'].pk}/suppress/",
        {"topics": ["kind"], "until_change": True, "reason_code": "noise"},
        format="json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["resolution_code"] == "suppressed"
    assert done.json()["resolution_label"] == "Suppressed for this record"

    dismissed = client.post(
        f"/api/v1/exceptions/{world['other'].pk}/dismiss/", {"reason": "wrong rule", "noise": True}, format="json"
    )
    assert dismissed.json()["resolution_label"] == "Noise: the rule is wrong here"


def test_rate_limits_are_kept_in_the_admin_by_revops(client, admin_user, world):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:exceptions_ratelimit_add"),
        {"kind": "missing_data", "per_owner": "25", "period_hours": "24", "is_active": "on", "note": ""},
    )
    assert response.status_code == 302
    limit = RateLimit.objects.get()
    assert str(limit).endswith(": 25 per owner per day") and limit.period_hours == 24
    RateLimitHold.objects.create(kind="missing_data", owner=world["na"], held=12, limit=25, updated_at=timezone.now())
    page = client.get(reverse("admin:exceptions_ratelimit_changelist")).content.decode()
    assert "12 item(s) for 1 owner(s)" in page
    client.force_login(world["na"])
    assert client.get(reverse("admin:exceptions_ratelimit_changelist")).status_code == 403
