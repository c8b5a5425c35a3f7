"""``load_demo``: a realistic, reproducible and idempotent demo org, written with history."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from revops.demo import FREE_MAIL, HANDOFF_FIELDS, demo_load
from revops.models import Account, Activity, Contact, FieldDefinition, Lead, Opportunity, Rep, Task, Team
from revops.validation import validator_for
from routing.models import RoutingDecision

pytestmark = pytest.mark.django_db

MODELS = [Team, Rep, Account, Lead, Contact, Opportunity, Activity, Task]
EXPECTED = {
    Team: (12, 25),
    Rep: (25, 40),
    Account: (180, 220),
    Lead: (900, 1100),
    Contact: (300, 900),
    Opportunity: (450, 550),
    Activity: (1500, 2600),
    Task: (50, 300),
}


def counts():
    return {model: model.objects.count() for model in MODELS}


def snapshot():
    return {
        "teams": list(Team.objects.order_by("external_id").values_list("external_id", "name", "manager__external_id")),
        "reps": list(Rep.objects.order_by("external_id").values_list("external_id", "name", "email", "time_zone")),
        "accounts": list(Account.objects.order_by("external_id").values_list("external_id", "name", "domain")),
        "leads": list(Lead.objects.order_by("external_id").values_list("external_id", "email", "company", "status")),
        "opportunities": list(
            Opportunity.objects.order_by("external_id").values_list("external_id", "name", "stage", "amount")
        ),
        "activities": list(Activity.objects.order_by("external_id").values_list("external_id", "kind", "subject")),
    }


def load_and_roll_back(seed):
    """Load the demo with ``seed``, snapshot it and undo it (a savepoint: much faster than deleting)."""
    with transaction.atomic():
        assert demo_load(seed=seed).created
        state = snapshot()
        transaction.set_rollback(True)
    assert not Lead.objects.exists()
    return state


def test_load_demo_twice_creates_everything_once():
    out = StringIO()
    call_command("load_demo", stdout=out)
    first = counts()
    assert "Demo org loaded (seed 42)" in out.getvalue()
    for model, (low, high) in EXPECTED.items():
        assert low <= first[model] <= high, model

    out = StringIO()
    call_command("load_demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert counts() == first


def test_demo_rows_have_history_by_the_demo_loader_or_the_code_that_wrote_them():
    result = demo_load(seed=42)
    assert result.created
    for model in MODELS:
        created = model.history.filter(history_type="+")
        assert created.count() == model.objects.count(), model
        # the generator and the CRM's morning sync write as the demo loader; automations (the
        # hot-lead and required-field tasks) as their own identity; a renewal handoff's tasks as the
        # CS manager whose confirmation made it ready
        authors = set(created.values_list("history_user__username", flat=True))
        people = {"demo-loader", "cs.na"} if model is Task else {"demo-loader"}
        assert "demo-loader" in authors and {a for a in authors if not a.startswith("automation:")} <= people, model
        # the RevOps lead's review (revops/engine/demo_review.py) changes records too: an approved
        # update and a reverted run, written as that person
        # and the live scoring model writes leads' scores as its own identity (lifecycle/demo.py)
        changed_by = set(model.history.values_list("history_user__username", flat=True))
        writers = people | {"revops.lead"} | ({"lead-scoring"} if model is Lead else set())
        assert {a for a in changed_by if a and not a.startswith("automation:")} <= writers, model
        reasons = set(model.history.values_list("history_change_reason", flat=True))
        # leads are routed at their arrival by the live routing automation; the sync names its batch;
        # a ready handoff names itself on the tasks it creates; the demo's reverted runs and the review's approval name the run;
        # a merge and its undo name the two records
        prefixes = (
            "automation ",
            "sync ",
            "handoff ",
            "revert of run ",
            "approved: automation ",
            "revert of automation run ",
            "scoring model ",
            "merged lead ",  # the demo's merges (dataquality) and their undo name the two leads
            "undid the merge of lead ",
        )
        assert {r for r in reasons if not r.startswith(prefixes)} == {"demo data"}, model
    custom = FieldDefinition.objects.get(object_type="account", key="arr")
    assert custom.history.get().history_user.username == "demo-loader"


def test_same_seed_same_org_other_seed_other_org():
    first = load_and_roll_back(7)
    assert load_and_roll_back(7) == first
    other = load_and_roll_back(8)
    assert other["accounts"] != first["accounts"]
    assert other["leads"] != first["leads"]
    assert [row[0] for row in other["accounts"]] == [row[0] for row in first["accounts"]]  # same id scheme


def test_demo_org_has_the_shapes_automations_need():
    demo_load(seed=42)
    now, today = timezone.now(), timezone.localdate()

    # Teams: a tree by region and segment, every team managed.
    assert not Team.objects.filter(manager__isnull=True).exists()
    assert Team.objects.get(name="NA Mid-Market").parent.parent.name == "Sales"
    assert {"Customer Success", "Onboarding", "Billing"} <= set(Team.objects.values_list("name", flat=True))
    # Reps: managers, region time zones, two out of office, one inactive.
    assert Rep.objects.filter(manager__isnull=True).count() <= 3
    assert Rep.objects.filter(out_of_office_until__gt=now).count() == 2
    assert Rep.objects.filter(is_active=False).count() == 1
    assert all(r.time_zone.startswith("Europe/") for r in Rep.objects.filter(region="EMEA"))
    # Accounts: named, subsidiaries, customers; unique external ids and domains.
    assert 12 <= Account.objects.filter(is_named=True).count() <= 25
    assert Account.objects.filter(parent__isnull=False).count() == 10
    assert Account.objects.filter(customer_status="customer").count() >= 40
    # (Apart from the three near-duplicates the CRM holds a second time, for the duplicate rules: ACC-0009xx.)
    originals = Account.objects.exclude(external_id__startswith="ACC-0009")
    assert originals.values("domain").distinct().count() == originals.count()
    # Leads: account-domain matches, free mail, legal suffixes, duplicates.
    domains = set(Account.objects.values_list("domain", flat=True))
    lead_domains = [email.rsplit("@", 1)[1].lower() for email in Lead.objects.values_list("email", flat=True)]
    assert sum(d in domains for d in lead_domains) >= 200
    assert sum(d in FREE_MAIL for d in lead_domains) >= 100
    assert Lead.objects.filter(company__regex=r"(Inc\.|GmbH|Ltd|LLC|Pty Ltd|S\.A\.|B\.V\.)$").count() >= 50
    # New leads without an owner were routed when they arrived (decisions, clocks, some fallbacks).
    decisions = RoutingDecision.objects.all()
    assert decisions.count() >= 50
    assert {"assigned", "fallback"} <= set(decisions.values_list("outcome", flat=True))
    assert not Lead.objects.filter(status="new", owner__isnull=True, routing_decisions__isnull=True).exists()
    # Opportunities: open past close date, pushed, closed-won with (some incomplete) handoff fields.
    open_opps = Opportunity.objects.filter(stage__in=Opportunity.OPEN_STAGES)
    assert open_opps.filter(close_date__lt=today).count() >= 20
    assert open_opps.filter(close_date_pushes__gte=2).count() >= 20
    assert open_opps.filter(last_activity_at__lt=now - dt.timedelta(days=30)).count() >= 20
    won = list(Opportunity.objects.filter(stage="closed_won"))
    incomplete = [o for o in won if any(key not in o.attributes for key in HANDOFF_FIELDS)]
    assert len(won) >= 60
    assert 10 <= len(incomplete) < len(won) / 2
    # Activities point at leads or opportunities and match the deals' last activity.
    assert not Activity.objects.filter(lead__isnull=True, opportunity__isnull=True).exists()
    opportunity = Opportunity.objects.filter(activities__isnull=False).first()
    assert opportunity.last_activity_at == max(a.occurred_at for a in opportunity.activities.all())


def test_demo_attributes_follow_the_data_dictionary():
    demo_load(seed=42)
    for model in (Account, Lead, Opportunity):
        validator = validator_for(model._meta.model_name)
        for obj in model.objects.exclude(attributes={}):
            result = validator.validate(obj.attributes, existing={"external_id": obj.external_id})
            problems = [m for m in result.messages() if "is required" not in m]
            assert not problems, (obj.external_id, problems)


def test_demo_sync_shows_a_country_name_normalised_with_what_was_sent_kept():
    demo_load(seed=42)
    account = Account.objects.get(external_id="ACC-000201")
    assert account.country == "GB"
    assert account.raw_values["country"] == "United Kingdom"
    assert account.website == account.domain  # the URL sent, stored as its registrable domain
    assert account.raw_values["website"].startswith("https://www.")


def test_demo_contacts_have_roles_a_converted_lead_and_near_duplicates():
    from revops.normalise import normalise

    demo_load(seed=42)
    customers = Account.objects.filter(customer_status="customer")
    for account in customers:
        roles = {role for contact in account.contacts.all() for role in contact.roles}
        assert {"executive_sponsor", "champion", "billing_contact"} <= roles, account.external_id
    # Stored as the sync stores them: e-mail lower-case, phone in E.164.
    for email, phone in Contact.objects.values_list("email", "phone"):
        assert email == email.lower() and (not phone or normalise("phone", phone) == phone)
    assert Contact.objects.filter(converted_from_lead__isnull=False).count() >= 5
    # The morning's conversion, through the sync: the contact links the lead, now converted.
    converted = Contact.objects.get(external_id="CON-900001")
    assert converted.converted_from_lead.status == "converted"
    assert converted.email == converted.converted_from_lead.email.lower()
    # Near-duplicates for duplicate detection: a first-name typo, the same e-mail in another case,
    # the same phone formatted for people (or dialled nationally), stored normalised with what was sent kept.
    typo, twice = Contact.objects.get(external_id="CON-900002"), Contact.objects.get(external_id="CON-900003")
    for duplicate in (typo, twice):
        original = Contact.objects.exclude(pk=duplicate.pk).get(email=duplicate.email, account=duplicate.account)
        assert original.phone == duplicate.phone and original.last_name == duplicate.last_name
        assert set(duplicate.raw_values) == {"email", "phone"}
    assert typo.first_name != Contact.objects.get(email=typo.email, external_id__startswith="CON-0").first_name
    assert not twice.raw_values["phone"].startswith("+")
