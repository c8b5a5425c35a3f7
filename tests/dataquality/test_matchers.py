"""Each matcher: what it compares, what it ignores, its blocking keys and its evidence in words."""

import pytest

from dataquality.matchers import Method, evidence, keys, prepare, registrable_domain, similarity
from dataquality.objects import duplicate_object
from dataquality.rules import prepare_rows

from .support import spec


def test_exact_compares_the_stored_value_trimmed_and_case_sensitive():
    assert prepare(Method.EXACT, "  Ada ") == "Ada"
    assert similarity(Method.EXACT, "Ada", "Ada", 90) == 100
    assert similarity(Method.EXACT, "Ada", "ada", 90) == 0
    assert prepare(Method.EXACT, None) == "" and prepare(Method.EXACT, ["x"]) == ""
    assert similarity(Method.EXACT, "", "", 90) == 0  # two empty values are not a match


@pytest.mark.parametrize(
    ("normaliser", "a", "b"),
    [
        ("email", " Ada@Example.COM ", "ada@example.com"),
        ("phone", "+1 (415) 555-0100", "+14155550100"),
        ("country", "United States", "US"),
        ("domain", "https://www.Acme.co.uk/about", "acme.co.uk"),
        ("none", "Zoë  O'Neil", "zoe o neil"),
    ],
)
def test_normalised_uses_the_dictionarys_normaliser(normaliser, a, b):
    assert prepare(Method.NORMALISED, a, normaliser=normaliser) == prepare(Method.NORMALISED, b, normaliser=normaliser)


def test_normalised_reads_national_phone_numbers_in_the_records_country_and_keeps_junk_comparable():
    assert prepare(Method.NORMALISED, "020 7946 0958", normaliser="phone", region="GB") == "+442079460958"
    assert prepare(Method.NORMALISED, "call me", normaliser="phone") == "call me"  # no crash, compared as text


def test_normalised_company_names_compare_as_company_keys():
    assert prepare(Method.NORMALISED, "ACME, Inc.", company=True) == prepare(
        Method.NORMALISED, "Acme GmbH", company=True
    )


def test_fuzzy_ignores_word_order_case_and_legal_suffixes_and_respects_the_threshold():
    a = prepare(Method.FUZZY, "Ada Moreno")
    assert a == prepare(Method.FUZZY, "MORENO ada")
    assert similarity(Method.FUZZY, a, prepare(Method.FUZZY, "Ada Moreon"), 88) == pytest.approx(90, abs=0.5)
    assert similarity(Method.FUZZY, a, prepare(Method.FUZZY, "Ada Moreon"), 95) == 0
    glbex = prepare(Method.FUZZY, "Glbex Corporation", company=True)
    assert similarity(Method.FUZZY, glbex, prepare(Method.FUZZY, "Globex Inc", company=True), 90) > 90


def test_domain_ignores_free_mail_and_shared_hosts_and_reads_urls_and_subdomains():
    assert registrable_domain("ada@eu.acme.com") == "acme.com"
    assert registrable_domain("https://www.acme.co.uk/about") == "acme.co.uk"
    assert registrable_domain("ada@gmail.com") == ""
    assert registrable_domain("ada@mail.yahoo.co.uk") == ""
    assert registrable_domain("https://www.linkedin.com/company/acme") == ""
    assert (
        similarity(Method.DOMAIN, prepare(Method.DOMAIN, "a@gmail.com"), prepare(Method.DOMAIN, "b@gmail.com"), 0) == 0
    )


def test_fuzzy_keys_survive_one_typo_and_swapped_names_and_differ_for_other_names():
    def name_keys(text):
        return keys(Method.FUZZY, "name", prepare(Method.FUZZY, text))

    base = name_keys("Ada Moreno")
    assert base & name_keys("Ada Morneo")  # two letters swapped
    assert base & name_keys("Aad Moreno")
    assert base & name_keys("Moreno Ada")
    assert base & name_keys("ADA MORENO")
    assert not base & name_keys("Ben Fischer")
    assert keys(Method.NORMALISED, "email", "ada@x.com") == {"email|n|ada@x.com"}
    assert keys(Method.EXACT, "email", "") == set()
    long_key = next(iter(keys(Method.EXACT, "name", "x" * 500)))
    assert len(long_key) <= 160  # fits the index column


def test_evidence_reads_as_sentences():
    assert evidence(Method.NORMALISED, "email", "ada@x.com", "ada@x.com", 100, "ada@x.com", "ada@x.com") == (
        "email: same (ada@x.com)"
    )
    assert evidence(Method.FUZZY, "name", "ada moreno", "ada moreon", 94.4, "Ada Moreno", "Ada Moreon") == (
        'name: 94 % similar ("Ada Moreno" and "Ada Moreon")'
    )
    assert evidence(Method.DOMAIN, "email", "x.com", "x.com", 100, "a@x.com", "b@x.com") == "email: same domain (x.com)"


def test_a_rule_scores_the_weights_of_the_matching_fields_and_explains_only_a_duplicate():
    rule = spec()
    entry = duplicate_object("lead")
    ada, typo, namesake = prepare_rows(
        entry,
        [rule],
        [
            {"id": 1, "external_id": "L-1", "first_name": "Ada", "last_name": "Moreno", "email": "ada@acme.com"},
            {"id": 2, "external_id": "L-2", "first_name": "Ada", "last_name": "Moreon", "email": "ADA@acme.com"},
            {"id": 3, "external_id": "L-3", "first_name": "Ada", "last_name": "Moreno", "email": "ada@other.org"},
        ],
    )
    points, lines = rule.score(typo, ada)
    assert (
        points == 175 and lines[0] == "email: same once normalised (ada@acme.com)" and "name: 90 % similar" in lines[1]
    )
    points, lines = rule.score(namesake, ada)
    assert points < 100 and lines == []  # a namesake elsewhere is not a duplicate
