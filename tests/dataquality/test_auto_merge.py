"""Automatic merges: a lead rule marked "merge without approval" merges a pair of leads at once (undoable),
and sends every set that is not simple — a named account's lead, a converted lead, three leads — to a
person as a proposal saying why. Contacts and accounts are never merged automatically."""

import json

import pytest
from django.core.exceptions import ValidationError

from dataquality.auto_merge import duplicate_sets_auto_merge
from dataquality.merges import merge_undo
from dataquality.models import DuplicateRule, DuplicateSet, Merge
from dataquality.services import Pair, duplicate_pairs_record, duplicate_rule_save
from exceptions.models import ExceptionItem
from revops.models import ChangeEntry, Lead
from revops.tokens import api_token_create
from tests.factories import AccountFactory, LeadFactory, UserFactory

from .support import rule

WHEN = "2026-03-02T10:00:00+00:00"
ADA = {"external_id": "L-1", "email": "ada@acme.test", "first_name": "Ada", "last_name": "Moreno", "company": "Acme"}


@pytest.fixture
def sync(client):
    _, raw = api_token_create(name="crm", scopes=["sync:write"])

    def post(object_name, records):
        response = client.post(
            f"/api/v1/sync/{object_name}/",
            data=json.dumps({"records": [{"source_updated_at": WHEN, **r} for r in records]}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
        return response

    return post


def auto_rule(**kwargs) -> DuplicateRule:
    saved = rule(**kwargs)
    saved.auto_merge = True
    return duplicate_rule_save(rule=saved, actor=UserFactory(), reason="merge pairs automatically")


@pytest.mark.django_db(transaction=True)
def test_a_pair_of_leads_found_on_ingest_is_merged_by_a_worker_and_can_be_undone(sync, run_worker):
    auto_rule()
    sync("leads", [ADA])
    sync("leads", [{"external_id": "L-2", "email": "ADA@acme.test", "title": "CTO"}])
    assert run_worker() == 0
    merge = Merge.objects.get()
    ada, twin = Lead.objects.get(external_id="L-1"), Lead.objects.get(external_id="L-2")
    assert merge.status == Merge.Status.MERGED and merge.automatic
    assert (merge.survivor_id, merge.loser_id) == (ada.pk, twin.pk)  # the most complete record stays
    assert merge.decided_by.first_name == "Automatic merges" and "Merged automatically by the rule" in merge.note
    assert ada.title == "CTO"  # never blank over a value
    assert DuplicateSet.objects.get().status == DuplicateSet.Status.MERGED
    assert not ExceptionItem.objects.filter(kind="merge_proposal").exists()  # nobody had to approve
    assert ChangeEntry.objects.filter(kind="records_merged", external_id="L-2").count() == 1
    # Running the hand-over again (a later scan) changes nothing.
    assert duplicate_sets_auto_merge() == {"merged": 0, "proposed": 0, "skipped": 0}

    merge_undo(merge=merge, actor=UserFactory(), reason="two people")
    ada.refresh_from_db()
    assert ada.title == "" and DuplicateSet.objects.get().status == DuplicateSet.Status.OPEN
    # A set a person undid is theirs now: it is not merged again.
    assert duplicate_sets_auto_merge() == {"merged": 0, "proposed": 0, "skipped": 1}
    assert Merge.objects.get().status == Merge.Status.UNDONE


@pytest.mark.django_db
def test_a_named_accounts_lead_a_converted_lead_and_three_leads_go_to_a_person():
    auto_rule()
    named = AccountFactory(name="Globex", is_named=True)
    cases = {
        "named": [{"matched_account": named}, {}],
        "converted": [{"status": Lead.Status.CONVERTED}, {}],
        "three": [{}, {}, {}],
    }
    sets = {}
    for case, variants in cases.items():
        leads = [
            LeadFactory(email=f"{case}@acme.test", first_name="Ann", last_name=case, **variant) for variant in variants
        ]
        pairs = [Pair(b.pk, leads[0].pk, DuplicateRule.objects.get().pk, 150, ("email: same",)) for b in leads[1:]]
        duplicate_pairs_record(object_type="lead", pairs=pairs, found_by="scan")
        sets[case] = DuplicateSet.objects.get(members__object_id=leads[0].pk)
    assert duplicate_sets_auto_merge() == {"merged": 0, "proposed": 3, "skipped": 0}
    notes = {
        case: list(Merge.objects.filter(duplicate_set=s).values_list("note", flat=True)) for case, s in sets.items()
    }
    assert "belongs to the named/strategic account Globex" in notes["named"][0]
    assert "is converted" in notes["converted"][0]
    assert len(notes["three"]) == 2 and "holds 3 leads" in notes["three"][0]
    assert not Merge.objects.filter(status=Merge.Status.MERGED).exists()
    assert ExceptionItem.objects.filter(kind="merge_proposal", status="open").count() == 4
    assert all(not m.automatic for m in Merge.objects.all())


@pytest.mark.django_db
def test_only_lead_rules_merge_without_approval():
    saved = rule(object_type="account")
    saved.auto_merge = True
    with pytest.raises(ValidationError, match="Only lead rules merge without approval"):
        duplicate_rule_save(rule=saved, actor=UserFactory())


@pytest.mark.django_db(transaction=True)
def test_without_the_setting_a_pair_waits_for_a_person(sync, run_worker):
    rule()
    sync("leads", [ADA])
    sync("leads", [{**ADA, "external_id": "L-2", "email": "ADA@acme.test"}])
    assert run_worker() == 0
    assert not Merge.objects.exists() and DuplicateSet.objects.get().status == DuplicateSet.Status.OPEN
