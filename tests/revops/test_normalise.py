"""Normalisation on ingest: each dictionary normaliser, its refusals, raw values kept, the sync end to end."""

import json

import pytest
from django.core.exceptions import ValidationError

from revops import services
from revops.models import Account, FieldDefinition, Lead, OutboxEvent, SyncBatch, SyncFailure
from revops.normalise import InvalidValue, normalise, normalise_country, normalise_domain, normalise_phone
from revops.tokens import api_token_create
from revops.validation import validator_for

pytestmark = pytest.mark.django_db

T1, T2, T3 = "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"


@pytest.mark.parametrize(
    "raw, code",
    [
        ("United States", "US"),
        ("USA", "US"),
        ("U.S.", "US"),
        ("united states of america", "US"),
        ("  us ", "US"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("United Kingdom", "GB"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("Côte d'Ivoire", "CI"),
        ("Vietnam", "VN"),
        ("Czech Republic", "CZ"),
    ],
)
def test_country_names_codes_and_variants_become_alpha_2(raw, code):
    assert normalise("country", raw) == code


@pytest.mark.parametrize("raw", ["Untied States", "Narnia", "U", "USAA", "Germny"])
def test_country_typos_are_refused_not_guessed(raw):
    with pytest.raises(InvalidValue) as exc:
        normalise_country(raw)
    assert str(exc.value) == f"{raw!r} is not a country name or ISO 3166 code"


@pytest.mark.parametrize(
    "raw, region, e164",
    [
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("030 123456", "DE", "+4930123456"),
    ],
)
def test_phone_numbers_become_e164(raw, region, e164):
    assert normalise_phone(raw, region) == e164


def test_a_national_phone_number_without_a_country_is_refused():
    with pytest.raises(InvalidValue) as exc:
        normalise_phone("020 7946 0958")
    assert str(exc.value) == (
        "'020 7946 0958' is not a phone number: send it with its country code, e.g. +44 20 7946 0958"
    )
    with pytest.raises(InvalidValue, match="national numbers are read as GB"):
        normalise_phone("12", "GB")


@pytest.mark.parametrize(
    "raw, domain",
    [
        ("https://www.Acme.co.uk/about", "acme.co.uk"),
        ("acme.com", "acme.com"),
        ("eu.shop.acme.com", "acme.com"),
        ("http://user@shop.acme.com:8080/x?y=1", "acme.com"),
        ("WWW.ACME.DE.", "acme.de"),
    ],
)
def test_websites_become_their_registrable_domain(raw, domain):
    assert normalise_domain(raw) == domain


def test_registrable_domains_are_remembered_but_not_names_longer_than_dns_allows():
    from revops.normalise import _registrable

    _registrable.cache_clear()
    assert normalise_domain("https://www.Acme.co.uk/about") == normalise_domain("acme.co.uk") == "acme.co.uk"
    assert _registrable.cache_info().currsize == 2  # www.acme.co.uk and acme.co.uk
    long = "a" * 300 + ".example.com"
    assert normalise_domain(long) == "example.com"
    assert _registrable.cache_info().currsize == 2


@pytest.mark.parametrize("raw", ["localhost", "not a domain", "http://", "co.uk"])
def test_what_has_no_registrable_domain_is_refused(raw):
    with pytest.raises(InvalidValue) as exc:
        normalise_domain(raw)
    assert str(exc.value) == f"{raw!r} is not a website or domain (expected e.g. acme.co.uk or https://acme.com)"


def test_email_is_trimmed_and_lower_cased_and_non_text_is_left_to_the_type_check():
    assert normalise("email", "  Ada@Example.COM ") == "ada@example.com"
    assert normalise("none", "  Acme  ") == "Acme"
    assert normalise("country", 42) == 42


def test_validator_normalises_before_the_type_check_and_keeps_what_was_sent():
    result = validator_for("account").validate(
        {
            "external_id": "A1",
            "name": " Acme ",
            "country": "United States",
            "website": "https://www.Acme.co.uk/about",
            "domain": "acme.com",
        }
    )
    assert result.errors == {}
    assert result.core["country"] == "US"
    assert result.core["website"] == "acme.co.uk"
    assert result.core["name"] == "Acme"
    assert result.raw == {"country": "United States", "website": "https://www.Acme.co.uk/about"}
    bad = validator_for("account").validate({"external_id": "A1", "name": "Acme", "country": "Untied States"})
    assert bad.messages() == ["country: 'Untied States' is not a country name or ISO 3166 code"]


def test_a_custom_phone_field_reads_national_numbers_in_the_records_country():
    FieldDefinition.objects.create(
        object_type="lead",
        key="mobile",
        label="Mobile",
        definition="Mobile phone.",
        field_type="text",
        normalise="phone",
        owning_team="RevOps",
    )
    validator = validator_for("lead")
    assert validator.validate({"country": "Germany", "mobile": "030 123456"}).attributes["mobile"] == "+4930123456"
    assert validator.validate({"mobile": "020 7946 0958"}, existing={"country": "GB"}).attributes["mobile"] == (
        "+442079460958"
    )
    result = validator.validate({"external_id": "L1", "mobile": "020 7946 0958"})
    assert result.messages() == [
        "mobile: '020 7946 0958' is not a phone number: send it with its country code, e.g. +44 20 7946 0958"
    ]


def test_the_default_dictionary_declares_its_normalisers():
    rows = FieldDefinition.objects.values_list("object_type", "key", "normalise")
    declared = {f"{object_type}.{key}": normaliser for object_type, key, normaliser in rows}
    assert declared["account.country"] == "country"
    assert declared["lead.country"] == "country"
    assert declared["lead.email"] == declared["rep.email"] == "email"
    assert declared["account.website"] == declared["account.domain"] == declared["lead.domain"] == "domain"
    assert declared["account.name"] == "none"


def test_a_normaliser_must_fit_the_field_type(admin_user):
    with pytest.raises(ValidationError) as exc:
        services.dictionary_field_create(
            actor=admin_user,
            object_type="lead",
            key="seats",
            label="Seats",
            definition="Seats.",
            field_type="integer",
            normalise="country",
            owning_team="RevOps",
        )
    assert exc.value.message_dict["normalise"] == ["The country normaliser only applies to text fields."]


# --- The sync end to end ---------------------------------------------------------------------------


@pytest.fixture
def sync(client):
    _, raw = api_token_create(name="hubspot", scopes=["sync:write"])

    def post(object_name, records):
        response = client.post(
            f"/api/v1/sync/{object_name}/",
            data=json.dumps({"records": records}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code in (200, 207), response.content
        return response.json()

    return post


def test_an_account_synced_with_united_states_is_stored_as_us(sync):
    body = sync(
        "accounts",
        [{"external_id": "A1", "source_updated_at": T1, "name": "Acme", "country": "United States"}],
    )
    assert body["results"][0]["status"] == "created"
    account = Account.objects.get(external_id="A1")
    assert account.country == "US"
    assert account.raw_values == {"country": "United States"}
    assert SyncBatch.objects.get().normalised == {"country": 1}
    event = OutboxEvent.objects.get()
    assert event.changes["country"] == [None, "US"]


def test_resending_the_same_raw_value_is_not_a_change_and_a_new_spelling_is_kept_quietly(sync):
    record = {"external_id": "A1", "name": "Acme", "country": "USA", "website": "https://www.acme.com/"}
    sync("accounts", [{**record, "source_updated_at": T1}])
    history = Account.history.count()
    body = sync("accounts", [{**record, "source_updated_at": T2}])
    assert body["results"][0]["status"] == "unchanged"
    body = sync("accounts", [{**record, "country": "United States", "source_updated_at": T3}])
    assert body["results"][0]["status"] == "unchanged"
    assert Account.history.count() == history
    assert OutboxEvent.objects.count() == 1
    account = Account.objects.get()
    assert account.raw_values == {"country": "United States", "website": "https://www.acme.com/"}
    # Sending the stored form itself drops the kept raw value.
    sync("accounts", [{"external_id": "A1", "country": "US", "source_updated_at": T3}])
    assert Account.objects.get().raw_values == {"website": "https://www.acme.com/"}


def test_a_value_that_cannot_be_normalised_rejects_the_record_saying_what_is_accepted(sync):
    body = sync(
        "accounts",
        [
            {"external_id": "A1", "source_updated_at": T1, "name": "Acme", "country": "Untied States"},
            {"external_id": "A2", "source_updated_at": T1, "name": "Globex", "country": "Deutschland"},
        ],
    )
    assert body["results"][0]["status"] == "rejected"
    assert body["results"][0]["errors"] == {"country": ["'Untied States' is not a country name or ISO 3166 code"]}
    assert SyncFailure.objects.get().errors == {"country": ["'Untied States' is not a country name or ISO 3166 code"]}
    assert Account.objects.get().country == "DE"


def test_lead_email_and_domain_are_normalised_on_sync(sync):
    sync(
        "leads",
        [
            {
                "external_id": "L1",
                "source_updated_at": T1,
                "email": " Jo@Prospect.TEST ",
                "domain": "https://www.prospect.co.uk/contact",
                "country": "u.s.",
            }
        ],
    )
    lead = Lead.objects.get()
    assert (lead.email, lead.domain, lead.country) == ("jo@prospect.test", "prospect.co.uk", "US")
    assert lead.raw_values == {
        "email": " Jo@Prospect.TEST ",
        "domain": "https://www.prospect.co.uk/contact",
        "country": "u.s.",
    }


@pytest.mark.parametrize("kind", ["none", "country", "phone", "email", "domain"])
def test_the_examples_shown_in_the_admin_hold(kind):
    from revops.normalise import EXAMPLES

    raw, stored = EXAMPLES[kind]
    assert normalise(kind, raw) == stored


@pytest.mark.parametrize(
    "raw, code", [("DEU", "DE"), ("gb", "GB"), ("Holland", "NL"), ("U.S.", "US"), ("Deutschland", "DE")]
)
def test_the_documented_country_examples_hold(raw, code):
    assert normalise_country(raw) == code


def test_the_admin_shows_the_normaliser_and_the_values_as_sent(admin_client, sync):
    sync("accounts", [{"external_id": "A1", "source_updated_at": T1, "name": "Acme", "country": "United States"}])
    account = Account.objects.get()
    page = admin_client.get(f"/admin/revops/account/{account.pk}/change/", secure=True).content.decode()
    assert "Values as sent by the CRM" in page
    assert "sent “United States”" in page
    assert "stored US" in page
    entry = FieldDefinition.objects.get(object_type="account", key="country")
    page = admin_client.get(f"/admin/revops/fielddefinition/{entry.pk}/change/", secure=True).content.decode()
    assert 'value="country" selected' in page
    assert 'Country: "United States" → US' in page
    batches = admin_client.get("/admin/revops/syncbatch/", secure=True).content.decode()
    assert "normalised: country 1" in batches


def test_custom_attributes_edited_in_the_admin_are_normalised_or_refused(admin_client):
    from tests.revops.test_admin import form_data

    FieldDefinition.objects.create(
        object_type="account",
        key="switchboard",
        label="Switchboard",
        definition="Main phone number.",
        field_type="text",
        normalise="phone",
        owning_team="RevOps",
    )
    account = Account.objects.create(external_id="A1", name="Acme", country="GB")
    change = f"/admin/revops/account/{account.pk}/change/"
    page = admin_client.get(change, secure=True)
    response = admin_client.post(change, form_data(page, attributes='{"switchboard": "020 7946 0958"}'), secure=True)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.attributes == {"switchboard": "+442079460958"}
    response = admin_client.post(change, form_data(page, attributes='{"switchboard": "call reception"}'), secure=True)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["attributes"] == [
        "switchboard: 'call reception' is not a phone number: send it with its country code, e.g. +44 20 7946 0958 "
        "(national numbers are read as GB)"
    ]


def test_writers_outside_the_sync_normalise_through_the_field_spec():
    specs = validator_for("account").specs
    assert specs["country"].coerce("United States") == "US"
    assert specs["website"].coerce("https://www.Acme.co.uk/about") == "acme.co.uk"
    with pytest.raises(InvalidValue, match="is not a country name or ISO 3166 code"):
        specs["country"].coerce("Untied States")
