"""Merges: the survivorship preview's rules, proposals as approval items, the merge (values, moved rows,
history, feed) and its exact undo, refused where a later change would be overwritten."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dataquality.merges import merge_apply, merge_propose, merge_undo, merge_winners_set, undo_conflicts
from dataquality.models import DuplicateSet, Merge
from dataquality.services import Pair, duplicate_pairs_record
from exceptions.approvals import exception_approval_approve
from exceptions.models import ExceptionItem
from revops.models import Activity, ChangeEntry, Contact, FieldDefinition, Lead
from tests.factories import AccountFactory, ActivityFactory, LeadFactory, RepFactory, UserFactory

from .support import rule

pytestmark = pytest.mark.django_db
T0 = timezone.now() - dt.timedelta(days=3)


def pair_set(a, b, object_type="lead") -> DuplicateSet:
    saved = rule(object_type=object_type) if object_type == "account" else rule()
    duplicate_pairs_record(
        object_type=object_type, pairs=[Pair(b.pk, a.pk, saved.pk, 150, ("email: same",))], found_by="scan"
    )
    return DuplicateSet.objects.get()


def leads():
    """Ann (complete, changed earlier) and her duplicate (fewer fields, changed later, another title)."""
    owner = RepFactory(name="Rita Rep")
    ann = LeadFactory(
        first_name="Ann",
        last_name="Lee",
        email="ann@acme.test",
        company="Acme",
        title="VP Sales",
        country="US",
        owner=owner,
        status="working",
        source="webinar",
        domain="acme.test",
        source_updated_at=T0,
    )
    dup = LeadFactory(
        first_name="Ann",
        last_name="Lee",
        email="Ann@Acme.test",
        company="",
        title="Head of Sales",
        country="",
        owner=RepFactory(name="Otto Other"),
        status="new",
        source="event",
        domain="acme.test",
        source_updated_at=T0 + dt.timedelta(days=1),
    )
    return ann, dup


def test_the_preview_keeps_values_never_blanks_them_and_prefers_the_latest_change():
    ann, dup = leads()
    dup.phone = "+14155550100" if hasattr(dup, "phone") else None
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=UserFactory())
    assert (merge.survivor_id, merge.loser_id) == (ann.pk, dup.pk)  # the most complete record stays
    rows = {row["key"]: row for row in merge.fields}
    assert rows["company"]["winner"] == "survivor" and "has none" in rows["company"]["why"]
    assert rows["title"]["winner"] == "loser" and "changed last" in rows["title"]["why"]
    assert (rows["owner"]["survivor_text"], rows["owner"]["loser_text"]) == ("Rita Rep", "Otto Other")
    assert rows["owner"]["winner"] == rows["status"]["winner"] == "survivor"  # a merge does not reassign work
    assert rows["status"]["survivor_text"] == "Working" and "stay with the survivor" in rows["status"]["why"]
    assert rows["email"]["winner"] == "survivor" and "capitals" in rows["email"]["why"]
    assert rows["first_name"]["why"] == "the same on both" and not rows["first_name"]["differs"]

    item = ExceptionItem.objects.get(kind="merge_proposal")
    assert item.object_id == ann.pk and item.proposal["merge_id"] == merge.pk
    assert "Merge lead" in item.title and item.status == "open"
    # Proposing again returns the waiting proposal, no second item.
    assert merge_propose(dup_set=DuplicateSet.objects.get(), actor=UserFactory()) == [merge]
    assert ExceptionItem.objects.filter(kind="merge_proposal").count() == 1


def test_approving_merges_moves_related_rows_tells_the_crm_and_undo_restores_exactly():
    ann, dup = leads()
    call = ActivityFactory(lead=dup, kind="call")
    mine = ActivityFactory(lead=ann, kind="email")
    actor = UserFactory(username="rita.revops")
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=actor)
    merge_winners_set(merge=merge, winners={"source": "loser"}, actor=actor)

    exception_approval_approve(item=ExceptionItem.objects.get(kind="merge_proposal"), actor=actor, note="same person")
    merge.refresh_from_db()
    ann.refresh_from_db()
    assert merge.status == Merge.Status.MERGED and merge.decided_by == actor
    assert (ann.title, ann.source, ann.company) == ("Head of Sales", "event", "Acme")
    assert Activity.objects.get(pk=call.pk).lead_id == ann.pk and Activity.objects.get(pk=mine.pk).lead_id == ann.pk
    assert Lead.objects.filter(pk=dup.pk).exists()  # the merged record is kept
    assert DuplicateSet.objects.get().status == DuplicateSet.Status.MERGED
    assert ann.history.first().history_change_reason.startswith("merged lead")
    entry = ChangeEntry.objects.get(kind="records_merged")
    assert entry.external_id == dup.external_id and entry.payload["survivor"] == ann.external_id
    assert entry.payload["values"] == {"title": "Head of Sales", "source": "event"}
    assert ExceptionItem.objects.get(kind="merge_proposal").status == "resolved"

    merge_undo(merge=merge, actor=actor, reason="different people after all")
    ann.refresh_from_db()
    merge.refresh_from_db()
    assert (ann.title, ann.source) == ("VP Sales", "webinar")
    assert Activity.objects.get(pk=call.pk).lead_id == dup.pk and Activity.objects.get(pk=mine.pk).lead_id == ann.pk
    assert merge.status == Merge.Status.UNDONE and DuplicateSet.objects.get().status == DuplicateSet.Status.OPEN
    assert ChangeEntry.objects.get(kind="merge_undone").payload["values"] == {"title": "VP Sales", "source": "webinar"}
    with pytest.raises(ValidationError, match="nothing to undo"):
        merge_undo(merge=merge, actor=actor)


def test_undo_refuses_and_says_so_where_a_later_change_would_be_overwritten():
    ann, dup = leads()
    call = ActivityFactory(lead=dup, kind="call")
    actor = UserFactory()
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=actor)
    merge_apply(merge=merge, actor=actor)
    ann.refresh_from_db()
    ann.title = "Chief Revenue Officer"
    ann.save()
    Activity.objects.filter(pk=call.pk).update(lead=LeadFactory())
    merge.refresh_from_db()
    problems = undo_conflicts(merge)
    assert problems == [
        "Job title changed since the merge (now Chief Revenue Officer); undoing would overwrite it.",
        "Activities moved by the merge that point elsewhere since: 1; undoing would move them back.",
    ]
    with pytest.raises(ValidationError):
        merge_undo(merge=merge, actor=actor)
    merge.refresh_from_db()
    assert merge.status == Merge.Status.MERGED


def test_an_account_merge_moves_contacts_deals_and_matched_leads():
    acme = AccountFactory(name="Acme Corporation", domain="acme.test", employees=900)
    twin = AccountFactory(name="ACME Corp", domain="acme.test", employees=None)
    contact = Contact.objects.create(external_id="C-1", first_name="Cy", account=twin)
    lead = LeadFactory(matched_account=twin)
    actor = UserFactory()
    [merge] = merge_propose(dup_set=pair_set(acme, twin, "account"), actor=actor)
    assert merge.survivor_id == acme.pk
    merge_apply(merge=merge, actor=actor)
    contact.refresh_from_db()
    lead.refresh_from_db()
    assert contact.account_id == acme.pk and lead.matched_account_id == acme.pk
    merge.refresh_from_db()
    assert merge.moved == {"revops.Contact.account": [contact.pk], "revops.Lead.matched_account": [lead.pk]}
    merge_undo(merge=merge, actor=actor)
    contact.refresh_from_db()
    lead.refresh_from_db()
    assert contact.account_id == twin.pk and lead.matched_account_id == twin.pk


def test_the_merge_page_lets_the_approver_pick_winners_approve_and_undo(admin_client):
    ann, dup = leads()
    dup_set = pair_set(ann, dup)
    page = admin_client.get(reverse("admin:dataquality_duplicateset_change", args=[dup_set.pk])).content.decode()
    assert "Propose a merge" in page
    propose = reverse("admin:dataquality_duplicateset_propose", args=[dup_set.pk])
    assert "suggested" in admin_client.get(propose).content.decode()
    response = admin_client.post(propose, {"survivor": str(ann.pk)})
    merge = Merge.objects.get()
    assert response.url == reverse("admin:dataquality_merge_change", args=[merge.pk])
    page = admin_client.get(response.url).content.decode()
    assert "Head of Sales" in page and "Approve and merge" in page
    item = ExceptionItem.objects.get(kind="merge_proposal")
    queue_page = admin_client.get(reverse("admin:exceptions_exceptionitem_change", args=[item.pk])).content.decode()
    assert "choose the winning values" in queue_page and "Head of Sales" in queue_page

    decide = reverse("admin:dataquality_merge_decide", args=[merge.pk])
    admin_client.post(decide, {"action": "approve", "winner-title": "survivor", "winner-source": "survivor"})
    ann.refresh_from_db()
    assert Merge.objects.get().status == "merged" and ann.title == "VP Sales"  # the approver kept hers
    assert "Undo this merge" in admin_client.get(response.url).content.decode()
    admin_client.post(decide, {"action": "undo"})
    assert Merge.objects.get().status == "undone"
    assert "Merges" in admin_client.get(reverse("admin:dataquality_merge_changelist")).content.decode()


def test_rejecting_needs_a_reason_and_keeps_the_set_open(admin_client):
    ann, dup = leads()
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=UserFactory())
    decide = reverse("admin:dataquality_merge_decide", args=[merge.pk])
    admin_client.post(decide, {"action": "reject"})
    assert Merge.objects.get().status == "proposed"
    admin_client.post(decide, {"action": "reject", "note": "Two people share the inbox."})
    assert Merge.objects.get().status == "rejected"
    assert ExceptionItem.objects.get(kind="merge_proposal").decision == "rejected"
    assert DuplicateSet.objects.get().status == DuplicateSet.Status.OPEN


def test_a_rep_cannot_decide_merges():
    ann, dup = leads()
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=UserFactory())
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    response = client.post(reverse("admin:dataquality_merge_decide", args=[merge.pk]), {"action": "approve"})
    assert response.status_code in (403, 302)
    assert Merge.objects.get().status == "proposed"


def _rows(model, ids):
    """Every column of the rows but ``updated_at`` (a write's own clock), by id."""
    return {
        row["id"]: {k: v for k, v in row.items() if k != "updated_at"}
        for row in model.objects.filter(pk__in=ids).values()
    }


def test_undo_restores_every_column_of_both_records_and_the_moved_rows():
    for key in ("product_interest", "budget"):
        FieldDefinition.objects.create(
            object_type="lead",
            key=key,
            label=key.replace("_", " ").capitalize(),
            definition="Custom.",
            field_type="text",
            owning_team="Marketing",
        )
    ann, dup = leads()
    ann.attributes = {"product_interest": "analytics"}
    ann.save()
    dup.attributes = {"product_interest": "billing", "budget": "50k"}
    dup.save()
    calls = [ActivityFactory(lead=dup, kind="call").pk for _ in range(3)]
    before = (_rows(Lead, [ann.pk, dup.pk]), _rows(Activity, calls))
    actor = UserFactory()
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=actor)
    merge_winners_set(merge=merge, winners={"product_interest": "loser"}, actor=actor)
    merge_apply(merge=merge, actor=actor)
    ann.refresh_from_db()
    assert ann.attributes == {"product_interest": "billing", "budget": "50k"}
    assert (_rows(Lead, [ann.pk, dup.pk]), _rows(Activity, calls)) != before
    merge_undo(merge=Merge.objects.get(), actor=actor)
    assert (_rows(Lead, [ann.pk, dup.pk]), _rows(Activity, calls)) == before


def test_a_merge_is_all_or_nothing(monkeypatch):
    from dataquality import merges

    acme = AccountFactory(name="Acme Corporation", domain="acme.test", employees=900, industry="Software")
    twin = AccountFactory(name="ACME Corp", domain="acme.test", employees=None, industry="Robotics")
    contact = Contact.objects.create(external_id="C-1", first_name="Cy", account=twin)
    lead = LeadFactory(matched_account=twin)
    [merge] = merge_propose(dup_set=pair_set(acme, twin, "account"), actor=UserFactory())
    real = merges.bulk_update_audited
    calls = []

    def failing(**kwargs):
        calls.append(kwargs["model"])
        if len(calls) == 2:  # the contacts moved, then the leads fail
            raise RuntimeError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(merges, "bulk_update_audited", failing)
    with pytest.raises(RuntimeError):
        merge_apply(merge=merge, actor=UserFactory())
    contact.refresh_from_db()
    lead.refresh_from_db()
    acme.refresh_from_db()
    assert contact.account_id == twin.pk and lead.matched_account_id == twin.pk and acme.industry == "Software"
    assert Merge.objects.get().status == "proposed" and not ChangeEntry.objects.filter(kind="records_merged").exists()


def test_a_manager_cannot_approve_a_merge():
    from exceptions import roles

    ann, dup = leads()
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=UserFactory())
    manager = UserFactory(username="mona", is_staff=True)
    roles.ensure_roles()
    roles.assign_role(manager, roles.MANAGER)
    client = Client()
    client.force_login(manager)
    assert (
        client.post(reverse("admin:dataquality_merge_decide", args=[merge.pk]), {"action": "approve"}).status_code
        == 403
    )
    assert client.get(reverse("admin:dataquality_merge_change", args=[merge.pk])).status_code == 403
    assert Merge.objects.get().status == "proposed"


def test_without_the_crms_change_times_the_survivors_value_stays():
    ann = LeadFactory(first_name="Ann", last_name="Lee", title="VP Sales", company="Acme", source_updated_at=None)
    dup = LeadFactory(first_name="Ann", last_name="Lee", title="Head of Sales", company="", source_updated_at=None)
    [merge] = merge_propose(dup_set=pair_set(ann, dup), actor=UserFactory())
    title = next(row for row in merge.fields if row["key"] == "title")
    assert (merge.survivor_id, title["winner"]) == (ann.pk, "survivor")
    assert title["why"] == "the CRM did not say when it changed both records: the survivor's stays"
