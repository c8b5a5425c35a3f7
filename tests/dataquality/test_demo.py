"""The data-quality demo: the rules, the duplicates already in the demo found by the real scan, and the
CRM's near-duplicates reported or refused on ingest — all made by the real code."""

from pathlib import Path

import pytest
from django.utils import timezone

from dataquality.models import DuplicateRule, DuplicateScan, DuplicateSet, Merge
from exceptions.models import ExceptionItem
from revops.configuration import config_plan
from revops.demo import demo_load
from revops.models import Account, ChangeEntry, Contact, Lead, SyncFailure

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "duplicates-config.yaml"


def test_the_demo_finds_its_duplicates_with_the_real_rules():
    now = timezone.now()
    demo_load(seed=42, now=now)
    assert DuplicateRule.objects.count() == 4
    scan = DuplicateScan.objects.get()
    assert scan.status == "finished"
    assert DuplicateSet.objects.filter(object_type="lead", found_by="scan").count() >= 20  # of the 30 copies
    assert DuplicateSet.objects.filter(object_type="account", found_by="scan").count() == 3
    # The CRM's two near-duplicate contacts (a typo in the first name, the same person entered twice).
    contact_sets = DuplicateSet.objects.filter(object_type="contact", found_by="scan")
    assert {
        ext
        for s in contact_sets
        for ext in Contact.objects.filter(pk__in=s.members.values("object_id")).values_list("external_id", flat=True)
    } >= {"CON-900002", "CON-900003"}
    reported = DuplicateSet.objects.filter(object_type="lead", found_by="ingest")
    assert reported.count() == 2
    assert {m.object_id for s in reported for m in s.members.all()} >= set(
        Lead.objects.filter(external_id__in=["LEAD-009001", "LEAD-009002"]).values_list("pk", flat=True)
    )
    refused = SyncFailure.objects.get(external_id="ACC-000950")
    first = Account.objects.filter(external_id__startswith="ACC-").exclude(domain="").order_by("external_id").first()
    assert refused.errors["duplicate"][0].startswith(f"This account looks like {first.name} ({first.external_id}):")
    # Merges made by the real services: one waiting in the queue, one merged, one merged then undone.
    statuses = sorted(Merge.objects.values_list("status", flat=True))
    assert statuses == ["merged", "proposed", "undone"]
    assert ExceptionItem.objects.get(kind="merge_proposal", status="open").proposal["merge_id"] == (
        Merge.objects.get(status="proposed").pk
    )
    assert ChangeEntry.objects.filter(kind__in=["records_merged", "merge_undone"]).count() == 3
    # The example file of docs/dataquality.md is the demo's rules.
    assert config_plan(document=EXAMPLE.read_text()).changes == []
    before = DuplicateSet.objects.count()
    demo_load(seed=42, now=now)
    assert DuplicateSet.objects.count() == before
