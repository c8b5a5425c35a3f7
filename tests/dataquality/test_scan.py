"""The full duplicate scan: it finds the duplicates already stored, in short steps through a real RQ
worker; re-running keeps and extends sets, never duplicates them; a dismissed set stays dismissed."""

import pytest

from dataquality import scan as scan_module
from dataquality.jobs import dataquality_scan
from dataquality.models import DuplicateKey, DuplicateMember, DuplicateScan, DuplicateSet
from dataquality.scan import scan_start, scan_step
from dataquality.services import duplicate_set_dismiss
from tests.factories import AccountFactory, LeadFactory, UserFactory

from .support import rule

pytestmark = pytest.mark.django_db


def _people():
    LeadFactory(external_id="L-1", first_name="Ada", last_name="Moreno", email="ada@acme.com", company="Acme")
    LeadFactory(external_id="L-2", first_name="Moreno", last_name="Ada", email="a.moreno@acme.com", company="Acme Inc")
    LeadFactory(external_id="L-3", first_name="Ben", last_name="Ode", email="ben@acme.com", company="Acme")
    LeadFactory(external_id="L-4", first_name="Cy", last_name="Ng", email="CY@Zeta.io", company="Zeta")
    LeadFactory(external_id="L-5", first_name="Cyrus", last_name="Ngo", email="cy@zeta.io", company="Zeta")
    AccountFactory(external_id="A-1", name="Globex Corporation", domain="globex.com", country="US")
    AccountFactory(external_id="A-2", name="Glbex Corp", domain="", website="https://www.globex.com/", country="US")
    AccountFactory(external_id="A-3", name="Initech", domain="initech.com", country="US")


def _run_scan() -> DuplicateScan:
    scan = scan_start(reason="test")
    while scan_step(scan_id=scan.pk):
        pass
    scan.refresh_from_db()
    return scan


def _sets():
    return sorted(
        tuple(sorted(DuplicateMember.objects.filter(set=s).values_list("object_id", flat=True)))
        for s in DuplicateSet.objects.filter(status="open")
    )


def test_a_scan_finds_the_stored_duplicates_with_evidence():
    rule()
    rule("Accounts", object_type="account")
    _people()
    scan = _run_scan()
    assert scan.status == "finished" and scan.counts["lead"]["sets_opened"] == 2
    assert scan.counts["account"]["sets_opened"] == 1
    assert DuplicateSet.objects.filter(object_type="lead").count() == 2
    account_set = DuplicateSet.objects.get(object_type="account")
    evidence = [line for m in account_set.members.all() for line in m.evidence]
    assert any(line.startswith("account name: 91 % similar") for line in evidence), evidence
    assert "web domain: same domain (globex.com)" in evidence


def test_rescanning_keeps_the_sets_and_a_dismissed_set_stays_dismissed(settings):
    rule()
    _people()
    _run_scan()
    before, keys = _sets(), DuplicateKey.objects.count()
    second = _run_scan()
    assert _sets() == before and DuplicateSet.objects.count() == 2 and DuplicateKey.objects.count() == keys
    assert second.counts["lead"]["sets_kept"] == 2 and second.counts["lead"]["sets_opened"] == 0
    dismissed = DuplicateSet.objects.filter(object_type="lead").first()
    duplicate_set_dismiss(dup_set=dismissed, reason="Father and son", actor=UserFactory())
    _run_scan()
    assert DuplicateSet.objects.count() == 2 and DuplicateSet.objects.get(pk=dismissed.pk).status == "dismissed"
    # A new record like them opens a set with the one it matched; the dismissed pair stays apart.
    member = dismissed.members.first().object_id
    from revops.models import Lead

    lead = Lead.objects.get(pk=member)
    LeadFactory(external_id="L-9", first_name=lead.first_name, last_name=lead.last_name, email=lead.email.upper())
    _run_scan()
    assert DuplicateSet.objects.filter(status="open").count() == 2
    assert DuplicateSet.objects.filter(status="dismissed", pk=dismissed.pk).count() == 1


def test_small_chunks_find_the_same_sets(monkeypatch):
    rule()
    rule("Accounts", object_type="account")
    _people()
    _run_scan()
    expected = _sets()
    DuplicateSet.objects.all().delete()
    DuplicateKey.objects.all().delete()
    monkeypatch.setattr(scan_module, "KEY_CHUNK", 2)
    monkeypatch.setattr(scan_module, "PAIR_CHUNK", 1)
    scan = _run_scan()
    assert _sets() == expected and scan.steps > 8


def test_the_scheduled_job_runs_in_steps_on_the_low_lane(run_worker, django_capture_on_commit_callbacks, monkeypatch):
    rule()
    _people()
    monkeypatch.setattr(scan_module, "STEP_SECONDS", 0)
    monkeypatch.setattr(scan_module, "KEY_CHUNK", 2)
    import django_rq

    django_rq.get_queue("low", commit_mode="auto").enqueue("dataquality.jobs.dataquality_scan", "test")
    assert run_worker("low") == 0
    scan = DuplicateScan.objects.get()
    assert scan.status == "finished" and scan.steps > 3
    assert DuplicateSet.objects.count() == 2
    assert dataquality_scan("again") != scan.pk  # a finished scan is not resumed
