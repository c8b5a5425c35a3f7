"""The data-quality page and the duplicate-rate metric on known data: duplicate rate per object and
lead source, merges by outcome, normalisations applied, records rejected per field."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from dataquality.metrics import duplicate_rate_day, duplicates_changed
from dataquality.models import DuplicateRule, DuplicateSet, Merge
from dataquality.report import duplicate_rates, merge_counts, normalisations, rejections
from dataquality.services import Pair, duplicate_pairs_record, duplicate_set_dismiss
from revops.metrics.days import day_bounds
from revops.models import SyncBatch, SyncFailure
from tests.factories import AccountFactory, LeadFactory, RepFactory, TeamFactory, UserFactory

from .support import rule

pytestmark = pytest.mark.django_db
NOW = timezone.now()
WEEK_AGO = NOW - dt.timedelta(days=7)


def pair(a, b, saved_rule, object_type="lead"):
    duplicate_pairs_record(
        object_type=object_type, pairs=[Pair(b.pk, a.pk, saved_rule.pk, 150, ("email: same",))], found_by="scan"
    )
    return DuplicateSet.objects.filter(members__object_id=a.pk, object_type=object_type).get()


@pytest.fixture
def known():
    """Five webinar leads (two duplicates of each other), two event leads a person said are not
    duplicates, one lead without a source; three accounts, two of them duplicates."""
    team = TeamFactory(name="East")
    owner = RepFactory(name="Rita", team=team)
    lead_rule = rule()
    webinar = [LeadFactory(source="webinar", owner=owner) for _ in range(5)]
    event = [LeadFactory(source="event") for _ in range(2)]
    LeadFactory(source="")
    pair(webinar[0], webinar[1], lead_rule)
    duplicate_set_dismiss(dup_set=pair(event[0], event[1], lead_rule), reason="colleagues", actor=UserFactory())
    accounts = [AccountFactory(name=f"Acme {n}") for n in range(3)]
    pair(accounts[0], accounts[1], rule("Accounts", object_type="account"), "account")
    return {"team": team, "webinar": webinar, "accounts": accounts}


def test_duplicate_rate_per_object_and_lead_source(known):
    rows = {
        (r.object_type, r.source): (r.arrived, r.duplicates) for r in duplicate_rates(WEEK_AGO, NOW + dt.timedelta(1))
    }
    assert rows == {
        ("lead", "webinar"): (5, 2),
        ("lead", "event"): (2, 0),  # dismissed: not duplicates
        ("lead", "(no source)"): (1, 0),
        ("contact", ""): (0, 0),
        ("account", ""): (3, 2),
    }
    assert duplicate_rates(NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2))[0].arrived == 0


def test_the_duplicate_rate_metric_counts_the_day_of_arrival_per_team(known):
    start, end = day_bounds(timezone.localdate())
    points = {(p.team_id, p.dimension): (p.numerator, p.denominator) for p in duplicate_rate_day(None, start, end)}
    assert points[(known["team"].pk, "Leads")] == (2, 5)
    assert points[(None, "Leads")] == (0, 3)
    assert sum(n for (team, dim), (n, d) in points.items() if dim == "Accounts") == 2
    # A set found later changes the day its records arrived.
    since = timezone.now()
    late = LeadFactory(source="webinar")
    pair(known["webinar"][2], late, DuplicateRule.objects.get(object_type="lead"))
    assert len(list(duplicates_changed(since))) == 2  # the late lead's arrival and the older lead's


def test_merges_are_counted_by_outcome_in_the_period(known):
    actor = UserFactory()
    a, b = known["webinar"][3], known["webinar"][4]

    def merge(status, automatic=False, decided=NOW, undone=None):
        return Merge.objects.create(
            object_type="lead",
            survivor_id=a.pk,
            loser_id=b.pk,
            status=status,
            automatic=automatic,
            decided_at=decided,
            decided_by=actor,
            undone_at=undone,
        )

    Merge.objects.create(object_type="lead", survivor_id=b.pk, loser_id=a.pk)  # waiting for approval
    merge(Merge.Status.MERGED, automatic=True)
    merge(Merge.Status.UNDONE, undone=NOW)
    merge(Merge.Status.REJECTED)
    old = merge(Merge.Status.REJECTED, decided=NOW - dt.timedelta(days=40))
    Merge.objects.filter(pk=old.pk).update(created_at=NOW - dt.timedelta(days=41))
    rows = {r["object_type"]: r for r in merge_counts(WEEK_AGO, timezone.now() + dt.timedelta(minutes=1))}
    assert {k: rows["lead"][k] for k in ("proposed", "approved", "automatic", "rejected", "undone")} == {
        "proposed": 3,  # the automatic merge was never proposed to a person; the old one is outside
        "approved": 1,
        "automatic": 1,
        "rejected": 1,
        "undone": 1,
    }
    assert rows["account"]["proposed"] == 0


def test_normalisations_and_rejections_per_field():
    AccountFactory(country="US", raw_values={"country": "United States"})
    AccountFactory(country="DE", raw_values={"country": "Germany"})
    AccountFactory(country="FR")
    SyncBatch.objects.create(object_type="account", normalised={"country": 3, "website": 1})
    SyncBatch.objects.create(object_type="account", normalised={"country": 2})
    rows = {
        (r["object_type"], r["field"]): (r["applied"], r["records"])
        for r in normalisations(WEEK_AGO, NOW + dt.timedelta(1))
    }
    assert rows[("account", "Country")] == (5, 2) and rows[("lead", "Email")] == (0, 0)
    assert normalisations(NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2))[0]["applied"] == 0

    failure = {"payload": {}, "object_type": "account"}
    SyncFailure.objects.create(**failure, errors={"country": ["'Untied States' is not a country"]}, occurrences=3)
    SyncFailure.objects.create(**failure, errors={"country": ["x"], "name": ["required"]}, resolved_at=NOW)
    SyncFailure.objects.create(payload={}, object_type="lead", errors={"email": ["not an e-mail address"]})
    rows = [
        (r["object"], r["field"], r["records"], r["sent"], r["open"])
        for r in rejections(WEEK_AGO, NOW + dt.timedelta(1))
    ]
    assert rows == [
        ("Accounts", "Country", 2, 4, 1),
        ("Accounts", "Account name", 1, 1, 0),
        ("Leads", "Email", 1, 1, 1),
    ]


def test_the_page_shows_every_section_to_revops_and_is_linked_from_the_sets(known, admin_client):
    url = reverse("admin:dataquality_duplicateset_report")
    assert url in admin_client.get(reverse("admin:dataquality_duplicateset_changelist")).content.decode()
    page = admin_client.get(url + "?days=7").content.decode()
    for text in (
        "Duplicate rate",
        "Per lead source",
        "webinar",
        "40.0 %",
        "Merges",
        "Normalisations applied",
        "Records rejected, per field",
        "Country → ISO 3166-1 alpha-2 code",
    ):
        assert text in page, text
    assert admin_client.get(url + "?days=abc").status_code == 200  # an unknown period falls back to 30 days
