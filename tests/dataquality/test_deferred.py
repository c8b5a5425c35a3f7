"""Large sync batches: their duplicate check runs on the low lane after the sync (same sets as the
sync would open), never when a block rule could refuse one of their records; a lost job is swept
and a job that runs twice checks once."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from dataquality.deferred import duplicate_check_pending, duplicate_pending_sweep
from dataquality.models import DuplicateKey, DuplicateMember, DuplicateSet, PendingDuplicateCheck
from revops.models import Account, Lead
from revops.tokens import api_token_create

from .support import rule

WHEN = "2026-03-02T10:00:00+00:00"


@pytest.fixture
def sync(client, settings):
    settings.DATAQUALITY_INLINE_MAX = 3
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
        return response.json()

    return post


def people(prefix, n):
    return [
        {
            "external_id": f"{prefix}-{i}",
            "email": f"{prefix}{i}@acme{i}.com",
            "first_name": f"{prefix}{i}",
            "last_name": "Zed",
        }
        for i in range(n)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_large_batch_is_stored_at_once_and_checked_by_a_worker(sync, run_worker):
    rule()
    assert run_worker() == 0  # the scan a saved rule queues (nothing to find yet)
    sync("leads", people("L", 2))  # small: checked in the sync, keys kept
    assert DuplicateKey.objects.filter(object_type="lead").exists()
    twins = [{**r, "external_id": f"T-{n}", "email": r["email"].upper()} for n, r in enumerate(people("L", 2))]
    answer = sync("leads", [*people("N", 3), *twins])  # five records: more than the inline maximum
    assert answer["counts"]["created"] == 5
    assert not DuplicateSet.objects.exists()  # not yet: the check waits on the low lane
    pending = PendingDuplicateCheck.objects.get()
    assert len(pending.object_ids) == 5
    assert run_worker("low") == 0
    assert not PendingDuplicateCheck.objects.exists()
    sets = DuplicateSet.objects.filter(found_by="ingest")
    assert sets.count() == 2
    pairs = {
        tuple(sorted(Lead.objects.get(pk=m.object_id).external_id for m in DuplicateMember.objects.filter(set=s)))
        for s in sets
    }
    assert pairs == {("L-0", "T-0"), ("L-1", "T-1")}
    # The batch's keys are kept: a later small batch finds its records.
    sync("leads", [{"external_id": "X-1", "email": "N0@ACME0.com", "first_name": "N0", "last_name": "Zed"}])
    assert DuplicateMember.objects.filter(object_id=Lead.objects.get(external_id="X-1").pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_a_block_rule_could_refuse_records_of_is_checked_in_the_sync(sync, run_worker):
    rule("Accounts: no re-entry", object_type="account", action="block")
    sync("accounts", [{"external_id": "A-1", "name": "Globex Corporation", "domain": "globex.com"}])
    batch = [{"external_id": f"A-{n}", "name": f"Company {n}", "domain": f"company{n}.com"} for n in range(2, 6)]
    answer = sync("accounts", [*batch, {"external_id": "A-9", "name": "Globex Corp", "domain": "globex.com"}])
    assert answer["counts"]["rejected"] == 1 and "looks like Globex Corporation (A-1)" in json.dumps(answer)
    assert not PendingDuplicateCheck.objects.exists()
    assert not Account.objects.filter(external_id="A-9").exists()


@pytest.mark.django_db
def test_a_lost_job_is_swept_and_a_job_run_twice_checks_once(settings):
    settings.DATAQUALITY_PENDING_RETRY_SECONDS = 60
    rule()
    leads = [Lead.objects.create(external_id=f"L-{n}", email="same@acme.test", first_name="Ann") for n in range(2)]
    pending = PendingDuplicateCheck.objects.create(
        object_type="lead", object_ids=[lead.pk for lead in leads], enqueued_at=timezone.now()
    )
    assert duplicate_pending_sweep() == []  # enqueued a moment ago: its job may still run
    later = timezone.now() + dt.timedelta(minutes=2)
    assert duplicate_pending_sweep(now=later) == [pending.pk]
    assert duplicate_check_pending(pending_id=pending.pk) == {"checked": 2, "pairs": 1}
    assert duplicate_check_pending(pending_id=pending.pk) == {"checked": 0}
    assert DuplicateSet.objects.count() == 1 and DuplicateMember.objects.count() == 2
    assert DuplicateKey.objects.filter(object_type="lead").values("object_id").distinct().count() == 2
