"""Lead-to-account matching: normalisation, each matching step, ambiguity, families, owners and refresh."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revops.names import FREE_MAIL_DOMAINS, company_key, email_domain, is_free_mail, normalise_domain
from routing.matching import AccountIndex, MatchResult, account_index, reset_account_index
from tests.factories import AccountFactory, RepFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    reset_account_index()
    yield
    reset_account_index()


def ref(account):
    return f"{account.name} ({account.external_id})"


# ----- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme.com", "acme.com"),
        ("ACME.com", "acme.com"),
        ("  acme.com  ", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("https://www.Acme.com:8443/pricing?x=1#top", "acme.com"),
        ("http://user:secret@eu.acme.co.uk/", "eu.acme.co.uk"),
        ("acme.com/contact", "acme.com"),
        ("//cdn.acme.io/app.js", "cdn.acme.io"),
        ("acme.com.", "acme.com"),
        ("bob@Acme.com", "acme.com"),
        ("mailto:bob@acme.com", "acme.com"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("www.com", "www.com"),
        ("", ""),
        ("acme", ""),
        ("localhost:8000", ""),
        ("10.0.0.1", ""),
        ("acme .com", ""),
        ("acme_corp.com", ""),
        ("-acme.com", ""),
        ("n/a", ""),
        ("https://", ""),
    ],
)
def test_normalise_domain(value, expected):
    assert normalise_domain(value) == expected


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("bob@acme.com", "acme.com"),
        ("Bob.Smith@EU.Acme.com", "eu.acme.com"),
        ("Bob <bob@acme.com>", "acme.com"),
        ("bob@acme.com.", "acme.com"),
        ("acme.com", ""),
        ("bob@", ""),
        ("", ""),
    ],
)
def test_email_domain(email, expected):
    assert email_domain(email) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Acme, Inc.", "acme"),
        ("ACME Inc", "acme"),
        ("acme", "acme"),
        ("Acme Incorporated", "acme"),
        ("Acme L.L.C.", "acme"),
        ("A.C.M.E. LLC", "acme"),
        ("Müller GmbH", "muller"),
        ("Société Générale S.A.", "societe generale"),
        ("Straße AG", "strasse"),
        ("The Acme Company", "acme"),
        ("Acme Pty Ltd", "acme"),
        ("Acme Pvt. Ltd.", "acme"),
        ("Acme GmbH & Co. KG", "acme"),
        ("Smith & Co", "smith"),
        ("Procter & Gamble Co.", "procter and gamble"),
        ("J.P. Morgan", "jp morgan"),
        ("J. P. Morgan", "jp morgan"),
        ("McDonald's Corp", "mcdonalds"),
        ("Hewlett-Packard", "hewlett packard"),
        ("Acme Group", "acme group"),
        ("Acme   Labs\tB.V.", "acme labs"),
        ("The Company", "company"),
        ("Inc", "inc"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_company_key(name, expected):
    assert company_key(name) == expected


@pytest.mark.parametrize(
    ("domain", "free"),
    [
        ("gmail.com", True),
        ("GMAIL.COM", True),
        ("bob@hotmail.co.uk", True),
        ("yahoo.co.jp", True),
        ("proton.me", True),
        ("web.de", True),
        ("mail.yahoo.com", True),
        ("acme.com", False),
        ("gmail.com.acme.com", False),
        ("", False),
    ],
)
def test_is_free_mail(domain, free):
    assert is_free_mail(domain) is free


def test_free_mail_list_is_maintained():
    assert len(FREE_MAIL_DOMAINS) >= 150
    assert {"gmail.com", "outlook.com", "icloud.com", "qq.com", "t-online.de", "orange.fr"} <= FREE_MAIL_DOMAINS
    assert all(d == d.strip().lower() and "." in d and not d.startswith("#") for d in FREE_MAIL_DOMAINS)


_NAME_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", max_codepoint=0x17F, categories=("L", "N", "P", "Zs")), max_size=40
)


@given(_NAME_TEXT)
def test_company_key_is_idempotent(name):
    key = company_key(name)
    assert company_key(key) == key
    assert key == key.strip() and "  " not in key


@given(st.text(max_size=60))
def test_normalise_domain_is_idempotent(value):
    domain = normalise_domain(value)
    assert normalise_domain(domain) == domain


# ----- matching -------------------------------------------------------------------------------


def match(**lead):
    return AccountIndex.load().match(**lead)


@pytest.mark.django_db
def test_email_domain_match():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    AccountFactory(name="Globex", domain="globex.com")
    result = match(email="jane@Acme.com", company="Something else")
    assert (result.status, result.account_id, result.method, result.score) == ("matched", acme.pk, "email_domain", None)
    assert result.evidence == [f"E-mail domain acme.com is the domain of {ref(acme)}."]
    assert result.candidates == [
        {
            "account_id": acme.pk,
            "external_id": acme.external_id,
            "name": "Acme Corp",
            "method": "email_domain",
            "score": None,
        }
    ]


@pytest.mark.django_db
def test_free_mail_is_skipped_with_evidence():
    AccountFactory(name="Google", domain="gmail.com")  # bad CRM data must not attract every Gmail lead
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    result = match(email="jane@gmail.com", domain="gmail.com", company="Unknown Widgets")
    assert result.status == "none"
    assert result.evidence[0] == "gmail.com is a free-mail domain: not used for matching."
    assert sum("free-mail" in line for line in result.evidence) == 1

    by_name = match(email="jane@gmail.com", company="ACME Corporation")
    assert (by_name.status, by_name.account_id, by_name.method) == ("matched", acme.pk, "company_name")
    assert by_name.evidence[0] == "gmail.com is a free-mail domain: not used for matching."


@pytest.mark.django_db
def test_subdomain_falls_back_to_parent_domain():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    result = match(email="jane@eu.sales.acme.com")
    assert (result.status, result.account_id, result.method) == ("matched", acme.pk, "email_domain")
    assert result.evidence == [
        f"E-mail domain eu.sales.acme.com is a subdomain of acme.com, the domain of {ref(acme)}."
    ]


@pytest.mark.django_db
def test_exact_subdomain_account_wins_over_parent_domain():
    AccountFactory(name="Acme Corp", domain="acme.com")
    acme_eu = AccountFactory(name="Acme Europe", domain="eu.acme.com")
    assert match(email="jane@eu.acme.com").account_id == acme_eu.pk


@pytest.mark.django_db
def test_subdomain_stripping_stops_at_public_second_level():
    AccountFactory(name="Bad data", domain="co.uk")
    acme = AccountFactory(name="Acme UK", domain="acme.co.uk")
    assert match(email="jane@london.acme.co.uk").account_id == acme.pk
    assert match(email="jane@other.co.uk").status == "none"


@pytest.mark.django_db
def test_lead_domain_field():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    result = match(email="jane@gmail.com", domain="https://www.acme.com/")
    assert (result.status, result.account_id, result.method) == ("matched", acme.pk, "lead_domain")
    assert result.evidence[-1] == f"Lead domain acme.com is the domain of {ref(acme)}."


@pytest.mark.django_db
def test_email_domain_is_tried_before_lead_domain():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    AccountFactory(name="Globex", domain="globex.com")
    assert match(email="jane@acme.com", domain="globex.com").account_id == acme.pk


@pytest.mark.django_db
def test_website_domain():
    acme = AccountFactory(name="Acme Corp", domain="", website="https://www.acme.io/about")
    result = match(email="jane@acme.io")
    assert (result.status, result.account_id, result.method) == ("matched", acme.pk, "website_domain")
    assert result.evidence[-1] == f"E-mail domain acme.io is the website domain of {ref(acme)}."


@pytest.mark.django_db
def test_account_domain_beats_another_accounts_website():
    AccountFactory(name="Reseller", domain="reseller.com", website="acme.com")
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    assert match(email="jane@acme.com").account_id == acme.pk


@pytest.mark.django_db
def test_shared_hosting_websites_are_not_indexed():
    AccountFactory(name="Acme Corp", domain="", website="https://www.linkedin.com/company/acme")
    assert match(email="jane@linkedin.com").status == "none"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("account_name", "lead_company"),
    [
        ("Acme, Inc.", "ACME Inc"),
        ("Acme Incorporated", "acme"),
        ("Müller GmbH", "MULLER"),
        ("The Umbrella Corporation", "Umbrella Corp."),
        ("Société Générale S.A.", "Societe Generale"),
    ],
)
def test_company_key_match(account_name, lead_company):
    account = AccountFactory(name=account_name, domain="unrelated.example")
    result = match(email="jane@gmail.com", company=lead_company)
    assert (result.status, result.account_id, result.method) == ("matched", account.pk, "company_name")
    assert result.evidence[-1].endswith(f"matches the name of {ref(account)}.")


@pytest.mark.django_db
def test_fuzzy_match_above_threshold_and_none_below():
    initech = AccountFactory(name="Initech Solutions", domain="initech.example")
    AccountFactory(name="Globex Corporation", domain="globex.example")

    result = match(company="Initech Solution")
    assert (result.status, result.account_id, result.method) == ("matched", initech.pk, "fuzzy_name")
    assert 90 <= result.score < 100
    assert result.candidates[0]["score"] == result.score
    assert f"similar to the name of {ref(initech)}" in result.evidence[-1]

    below = match(company="Initrode Systems")
    assert (below.status, below.account_id, below.method) == ("none", None, "")
    assert (
        'The one account name of a similar length with a word starting like a word of "initrode systems" (one typo allowed) is less '
        "than 90% similar."
    ) in below.evidence

    assert match(company="Initech Sols", fuzzy_threshold=75).account_id == initech.pk
    assert match(company="Initech Sols").status == "none"


@pytest.mark.django_db
def test_short_keys_never_fuzzy_match():
    AccountFactory(name="IBM Corp", domain="ibm.example")
    AccountFactory(name="Acme", domain="acme.example")
    assert match(company="IBMs").status == "none"  # the account's key "ibm" is too short
    result = match(company="Acm")
    assert result.status == "none"
    assert '"acm" is shorter than 4 characters: not compared fuzzily.' in result.evidence
    assert match(company="I.B.M.").method == "company_name"  # exact keys still match


@pytest.mark.django_db
def test_nothing_found_explains_what_was_tried():
    result = match(email="jane@nowhere.example", domain="nowhere.example", company="Nobody Ltd")
    assert result.as_dict() == {
        "status": "none",
        "account_id": None,
        "method": "",
        "score": None,
        "evidence": [
            "No account has the domain nowhere.example.",
            "No account has the website domain nowhere.example.",
            'No account is named "nobody" (company "Nobody Ltd" with legal forms removed).',
            'No account name of a similar length with a word starting like a word of "nobody" (one typo allowed), so none was compared '
            "fuzzily.",
            "No account matched.",
        ],
        "candidates": [],
    }
    assert match().evidence == ["No company name to compare.", "No account matched."]
    junk = match(email="not-an-address", domain="n/a")
    assert junk.evidence[:2] == [
        'E-mail address "not-an-address" has no usable domain.',
        'Lead domain "n/a" has no usable domain.',
    ]


@pytest.mark.django_db
def test_two_unrelated_accounts_on_one_domain_are_ambiguous():
    one = AccountFactory(name="Acme Corp", domain="acme.com")
    two = AccountFactory(name="Acme Labs", domain="acme.com")
    result = match(email="jane@acme.com", company="Acme Rockets")
    assert (result.status, result.account_id, result.method) == ("ambiguous", None, "email_domain")
    assert {c["account_id"] for c in result.candidates} == {one.pk, two.pk}
    assert result.evidence[-1] == (
        f"2 accounts share the domain acme.com and are not one family: {ref(one)}, {ref(two)}."
    )


@pytest.mark.django_db
def test_two_unrelated_accounts_with_one_name_are_ambiguous():
    one = AccountFactory(name="Acme Inc", domain="acme.com")
    two = AccountFactory(name="ACME Ltd", domain="acme.co.uk")
    result = match(email="jane@gmail.com", company="Acme")
    assert (result.status, result.method) == ("ambiguous", "company_name")
    assert {c["account_id"] for c in result.candidates} == {one.pk, two.pk}
    assert "are not one family" in result.evidence[-1]


@pytest.mark.django_db
def test_close_fuzzy_runner_up_from_another_family_is_ambiguous():
    one = AccountFactory(name="Initech Solutions", domain="initech.example")
    two = AccountFactory(name="Initech Solutionz", domain="initech-z.example")
    result = match(company="Initech Solution")
    assert (result.status, result.account_id, result.method) == ("ambiguous", None, "fuzzy_name")
    assert {c["account_id"] for c in result.candidates} == {one.pk, two.pk}
    assert result.evidence[-1].startswith("Unrelated accounts are within 2 points of it, so the match is ambiguous:")


@pytest.mark.django_db
def test_close_fuzzy_runner_up_in_the_same_family_is_not_ambiguous():
    root = AccountFactory(name="Initech Holdings", domain="initech-holdings.example")
    one = AccountFactory(name="Initech Solutions", domain="initech.example", parent=root)
    two = AccountFactory(name="Initech Solutionz", domain="initech-z.example", parent=root)
    AccountFactory(name="Initech Systems", domain="initech-systems.example")  # unrelated, far below
    result = match(company="Initech Solution")
    assert (result.status, result.method) == ("matched", "fuzzy_name")
    assert result.account_id in {one.pk, two.pk}
    assert {c["account_id"] for c in result.candidates} == {result.account_id}


@pytest.mark.django_db
def test_family_on_one_domain_resolves_to_the_parent():
    parent = AccountFactory(name="Acme Corp", domain="acme.com")
    child = AccountFactory(name="Acme UK", domain="acme.com", parent=parent)
    AccountFactory(name="Acme UK London", domain="acme.com", parent=child)
    result = match(email="jane@acme.com", company="Unrelated")
    assert (result.status, result.account_id, result.method) == ("matched", parent.pk, "email_domain")
    assert result.candidates[0]["account_id"] == parent.pk and len(result.candidates) == 3
    assert result.evidence[-1] == (
        f"3 accounts share the domain acme.com and are one family: chose {ref(parent)}, the parent account of the others."
    )


@pytest.mark.django_db
def test_account_named_like_the_lead_wins_within_a_domain():
    parent = AccountFactory(name="Acme Corp", domain="acme.com")
    labs = AccountFactory(name="Acme Labs Ltd", domain="acme.com", parent=parent)
    unrelated = AccountFactory(name="Acme Rockets", domain="acme.com")
    result = match(email="jane@acme.com", company="ACME Labs")
    assert (result.status, result.account_id) == ("matched", labs.pk)
    assert result.evidence[-1] == (
        f"3 accounts share the domain acme.com; {ref(labs)} has the lead's company name, so it was chosen."
    )
    assert match(email="jane@acme.com", company="Acme Rockets").account_id == unrelated.pk


def test_ancestors_are_cycle_safe():
    rows = [
        {"pk": 1, "name": "A", "domain": "a.example", "parent_id": 2},
        {"pk": 2, "name": "B", "domain": "b.example", "parent_id": 3},
        {"pk": 3, "name": "C", "domain": "c.example", "parent_id": 1},
        {"pk": 4, "name": "D", "domain": "d.example", "parent_id": 99},  # parent not indexed
    ]
    index = AccountIndex.build(rows)
    assert index.ancestors(1) == [2, 3]
    assert index.top_parent(1) == 3
    assert index.ancestors(4) == [99]
    assert index.top_parent(4) == 99
    assert index.top_parent(404) is None
    assert index.get(2).domain == "b.example" and index.get(404) is None


# ----- named owners ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_named_owner_through_parent():
    parent_owner, child_owner = RepFactory(), RepFactory()
    parent = AccountFactory(name="Acme Corp", is_named=True, owner=parent_owner)
    child = AccountFactory(name="Acme UK", parent=parent, owner=child_owner)
    grandchild = AccountFactory(name="Acme UK North", parent=child, owner=None)
    index = AccountIndex.load()

    assert index.named_owner(child.pk) == (
        parent_owner.pk,
        parent.pk,
        f"{ref(child)} routes through its parent {ref(parent)}'s named owner.",
    )
    assert index.named_owner(grandchild.pk)[:2] == (parent_owner.pk, parent.pk)
    assert "ancestor" in index.named_owner(grandchild.pk)[2]
    assert index.named_owner(parent.pk) == (
        parent_owner.pk,
        parent.pk,
        f"{ref(parent)} is routed to its own named owner.",
    )


@pytest.mark.django_db
def test_named_owner_prefers_named_child_and_falls_back_to_parent_owner():
    parent = AccountFactory(name="Acme Corp", is_named=True)
    named_child = AccountFactory(name="Acme Labs", parent=parent, is_named=True)
    plain_parent = AccountFactory(name="Globex")
    ownerless = AccountFactory(name="Globex EU", parent=plain_parent, owner=None)
    orphan = AccountFactory(name="Nobody's", owner=None)
    index = AccountIndex.load()

    assert index.named_owner(named_child.pk)[:2] == (named_child.owner_id, named_child.pk)
    assert index.named_owner(ownerless.pk) == (
        plain_parent.owner_id,
        plain_parent.pk,
        f"{ref(ownerless)} has no owner; it routes through its parent {ref(plain_parent)}'s owner.",
    )
    assert index.named_owner(orphan.pk)[:2] == (None, None)
    assert index.named_owner(-1) == (None, None, "Account #-1 is not in the account index.")


# ----- refresh, cache, performance --------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_is_one_query_when_nothing_changed(django_assert_num_queries):
    AccountFactory.create_batch(3)
    index = AccountIndex.load()
    with django_assert_num_queries(1):
        assert index.refresh() is False


@pytest.mark.django_db
def test_incremental_refresh_adds_new_accounts(django_assert_num_queries):
    AccountFactory(name="Acme Corp", domain="acme.com")
    index = AccountIndex.load()
    globex = AccountFactory(name="Globex", domain="globex.com")
    assert index.match(email="jane@globex.com").status == "none"
    with django_assert_num_queries(2):  # aggregate + changed rows; no full rebuild
        assert index.refresh() is True
    assert index.match(email="jane@globex.com").account_id == globex.pk
    assert len(index) == 2


@pytest.mark.django_db
def test_refresh_replaces_renamed_and_moved_accounts():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    index = AccountIndex.load()
    assert index.match(company="Acme Corp").account_id == acme.pk
    acme.name, acme.domain, acme.website = "Initech", "initech.com", "initech.io"
    acme.save()
    index.refresh()
    assert index.match(company="Acme Corp").status == "none"
    assert index.match(email="jane@acme.com").status == "none"
    assert index.match(company="Initech Inc").account_id == acme.pk
    assert index.match(email="jane@initech.com").account_id == acme.pk
    assert index.match(email="jane@initech.io").method == "website_domain"
    assert index.match(company="Initechh", fuzzy_threshold=80).account_id == acme.pk


@pytest.mark.django_db
def test_refresh_rebuilds_the_fuzzy_name_list():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    index = AccountIndex.load()
    assert index.match(company="Acmee", fuzzy_threshold=80).account_id == acme.pk
    acme.name = "Initech"
    acme.save()
    index.refresh()
    assert index.match(company="Acmee", fuzzy_threshold=80).status == "none"
    assert index.match(company="Initechh", fuzzy_threshold=80).account_id == acme.pk


@pytest.mark.django_db
def test_refresh_drops_deleted_accounts():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    AccountFactory(name="Globex", domain="globex.com")
    index = AccountIndex.load()
    acme.delete()
    assert index.refresh() is True
    assert index.get(acme.pk) is None
    assert index.match(email="jane@acme.com", company="Acme Corp").status == "none"
    assert len(index) == 1


@pytest.mark.django_db
def test_refresh_after_a_delete_and_an_insert():
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    index = AccountIndex.load()
    acme.delete()
    hooli = AccountFactory(name="Hooli", domain="hooli.com")  # same count as before
    index.refresh()
    assert index.get(acme.pk) is None and index.get(hooli.pk) is not None


@pytest.mark.django_db
def test_match_makes_no_queries(django_assert_num_queries):
    parent = AccountFactory(name="Acme Corp", domain="acme.com", is_named=True)
    AccountFactory(name="Acme UK", domain="acme.com", parent=parent)
    AccountFactory(name="Initech Solutions", domain="initech.example", website="initech.io")
    index = AccountIndex.load()
    with django_assert_num_queries(0):
        index.match(email="jane@acme.com")
        index.match(email="jane@gmail.com", domain="initech.io")
        index.match(company="Initech Solution")
        index.match(company="Nothing Like It")
        index.named_owner(parent.pk)
        index.top_parent(parent.pk)


@pytest.mark.django_db
def test_account_index_is_cached_per_process(settings, django_assert_num_queries):
    acme = AccountFactory(name="Acme Corp", domain="acme.com")
    index = account_index()
    assert index.match(email="jane@acme.com").account_id == acme.pk

    with django_assert_num_queries(1):
        assert account_index() is index  # refreshed on every call by default: one aggregate query

    settings.ROUTING_INDEX_REFRESH_SECONDS = 3600
    globex = AccountFactory(name="Globex", domain="globex.com")
    with django_assert_num_queries(0):
        assert account_index().match(email="jane@globex.com").status == "none"

    reset_account_index()
    assert account_index().match(email="jane@globex.com").account_id == globex.pk


@pytest.mark.django_db
def test_result_is_json_serialisable():
    parent = AccountFactory(name="Acme Corp", domain="acme.com")
    AccountFactory(name="Acme UK", domain="acme.com", parent=parent)
    result = match(email="jane@acme.com")
    assert isinstance(result, MatchResult)
    assert json.loads(json.dumps(result.as_dict()))["account_id"] == parent.pk


# ----- fuzzy blocking keeps recall --------------------------------------------------------------


@pytest.mark.django_db
def test_a_typo_in_the_first_letters_still_matches():
    globex = AccountFactory(name="Globex Corporation", domain="globex.example")
    AccountFactory(name="Initech Solutions", domain="initech.example")
    result = match(company="Glbex Corporation")
    assert (result.status, result.account_id, result.method) == ("matched", globex.pk, "fuzzy_name")
    assert result.score >= 90
    assert (
        f'Company "Glbex Corporation" is {result.score:g}% similar to the name of {ref(globex)}'
        in (result.evidence[-1])
    )
    assert match(company="Gobex Corp").account_id == globex.pk  # the second letter dropped


@pytest.mark.django_db
def test_the_explanation_counts_the_names_compared():
    AccountFactory(name="Globex Corporation", domain="globex.example")
    AccountFactory(name="Globe Trotters Club", domain="trotters.example")
    AccountFactory(name="Glory Days Forever", domain="glory.example")
    AccountFactory(name="Globular Science", domain="science.example")
    result = match(company="Globular Clusters")
    assert result.status == "none"
    assert (
        'None of the 3 account names of a similar length with a word starting like a word of "globular clusters" '
        "(one typo allowed) is 90% or more similar."
    ) in result.evidence


def _typo(rng, text):
    i = rng.randrange(len(text))
    kind = rng.choice(("insert", "delete", "substitute", "transpose"))
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "insert":
        return text[:i] + letter + text[i:]
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    if kind == "transpose" and i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + letter + text[i + 1 :]


def test_blocking_finds_every_name_a_full_comparison_finds_on_a_generated_set_with_typos():
    import random

    from rapidfuzz import fuzz, process

    rng = random.Random(13)
    syllables = "ka lo mi ne ru ta vo zi be ga".split()
    words = ["systems", "global", "health", "logistics", "partners", "labs"]
    names = set()
    while len(names) < 3000:
        first = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()
        names.add(f"{first} {rng.choice(words).capitalize()}" if rng.random() < 0.6 else first)
    index = AccountIndex.build({"pk": i + 1, "name": n} for i, n in enumerate(sorted(names)))
    keys = list(index._by_key)
    expected = found = 0
    for name in rng.sample(sorted(names), 400):
        lead_key = company_key(_typo(rng, name))
        if len(lead_key) < 4:
            continue
        full = {
            key
            for key, _, _ in process.extract(lead_key, keys, scorer=fuzz.token_sort_ratio, score_cutoff=90, limit=None)
        }
        blocked, _ = index._fuzzy_hits(lead_key, 90.0)
        blocked = {key for key, _, _ in blocked}
        if len(full) > 20:  # more than the index reports (FUZZY_LIMIT)
            continue
        expected += len(full)
        found += len(full & blocked)
        assert blocked <= full
    assert expected > 300
    assert found == expected  # one typo anywhere never hides a name ≥ 90 % similar
