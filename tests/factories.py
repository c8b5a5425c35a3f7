"""factory_boy factories for every model; tests build data with these, never with fixtures files."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from revops.models import Account, Activity, Contact, Lead, Opportunity, Rep, Task, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    external_id = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.Sequence(lambda n: f"Team {n}")
    region = "NA"
    segment = "MM"


class RepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rep

    external_id = factory.Sequence(lambda n: f"R{n:05d}")
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"rep{n}@acme-sales.test")
    team = factory.SubFactory(TeamFactory)
    region = "NA"
    segments = factory.LazyFunction(lambda: ["MM"])
    time_zone = "America/New_York"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"A{n:06d}")
    name = factory.Sequence(lambda n: f"Company {n} Inc")
    domain = factory.Sequence(lambda n: f"company{n}.test")
    industry = "Software"
    employees = 250
    annual_revenue = Decimal("25000000")
    country = "US"
    state = "CA"
    owner = factory.SubFactory(RepFactory)
    source_updated_at = factory.LazyFunction(timezone.now)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    external_id = factory.Sequence(lambda n: f"L{n:07d}")
    email = factory.Sequence(lambda n: f"buyer{n}@prospect{n}.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Sequence(lambda n: f"Prospect {n}")
    domain = factory.Sequence(lambda n: f"prospect{n}.test")
    title = "VP Sales"
    country = "US"
    state = "NY"
    source = "web_form"
    score = 50
    source_updated_at = factory.LazyFunction(timezone.now)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    external_id = factory.Sequence(lambda n: f"C{n:07d}")
    account = factory.SubFactory(AccountFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@customer{n}.test")
    phone = factory.Sequence(lambda n: f"+1415555{n % 10000:04d}")
    title = "CFO"
    roles = factory.LazyFunction(list)
    source_updated_at = factory.LazyFunction(timezone.now)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    external_id = factory.Sequence(lambda n: f"O{n:06d}")
    account = factory.SubFactory(AccountFactory)
    name = factory.LazyAttribute(lambda o: f"{o.account.name} - New business")
    owner = factory.SelfAttribute("account.owner")
    stage = Opportunity.Stage.DISCOVERY
    amount = Decimal("48000")
    close_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=45))
    source_updated_at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    external_id = factory.Sequence(lambda n: f"ACT{n:07d}")
    kind = Activity.Kind.CALL
    subject = "Intro call"
    occurred_at = factory.LazyFunction(timezone.now)
    rep = factory.SubFactory(RepFactory)


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    title = "Follow up"
    owner = factory.SubFactory(RepFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=1))
