"""Stored records no rule could pair with a record are left out before their forms are read, without
losing a duplicate: the pruned check and the scan find exactly what comparing with every record finds,
and a phone too common to use as a key (a switchboard) still lets the name find the person."""

import pytest

from dataquality.bounds import Bounds
from dataquality.checking import check_prepared
from dataquality.demo import demo_rule_specs
from dataquality.generate import generate
from dataquality.keys import BLOCK_LIMIT, keys_write, prepared_forget, prepared_write_range
from dataquality.models import DuplicateMember, DuplicateScan, DuplicateSet
from dataquality.objects import duplicate_object
from dataquality.rules import active_specs, best_match, needed_columns, prepare_rows
from dataquality.scan import scan_start, scan_step
from revops.models import Account, Contact

from .support import rule, spec

pytestmark = pytest.mark.django_db

CONTACT_RULE = next(s for s in demo_rule_specs() if s["object_type"] == "contact")


def _contact_rule():
    return rule(CONTACT_RULE["name"], object_type="contact", fields=CONTACT_RULE["fields"])


def _stored(records):
    """Contacts stored with their keys, half of them with the forms a scan keeps."""
    accounts = {a.external_id: a for a in Account.objects.all()}
    Contact.objects.bulk_create(
        Contact(
            external_id=r["external_id"],
            first_name=r["first_name"],
            last_name=r["last_name"],
            email=r["email"],
            phone=r.get("phone", ""),
            account=accounts.get(r.get("account")),
        )
        for r in records
    )
    entry, specs = duplicate_object("contact"), active_specs("contact")
    rows = Contact.objects.filter(external_id__in=[r["external_id"] for r in records]).values(
        *needed_columns(entry, specs)
    )
    prepared = prepare_rows(entry, specs, rows)
    keys_write("contact", {p.pk: p.keys for p in prepared})
    prepared_write_range("contact", 0, None, prepared)  # as a scan keeps them ...
    prepared_forget("contact", [p.pk for p in prepared[::2]])  # ... and half synced since
    return prepared


def _new(records):
    entry, specs = duplicate_object("contact"), active_specs("contact")
    rows = [{"id": None, **r} for r in records]
    return entry, specs, prepare_rows(entry, specs, rows)


def test_bounds_of_the_contact_rule():
    bounds = Bounds([spec("contact", CONTACT_RULE["fields"])])
    entry = duplicate_object("contact")
    both, no_phone = prepare_rows(
        entry,
        [spec("contact", CONTACT_RULE["fields"])],
        [
            {"id": 1, "first_name": "Ada", "last_name": "Moreno", "email": "ada@acme.com", "phone": "+14155550100"},
            {"id": 2, "first_name": "Ada", "last_name": "Moreno", "email": "ada@acme.com", "phone": ""},
        ],
    )
    email, phone = ("email", "normalised"), ("phone", "normalised")
    assert set(bounds.exact_keys(both)) == {email, phone} and set(bounds.exact_keys(no_phone)) == {email}
    # Keys looked up and not shared: only the name and the e-mail domain are left, 75 points < 100.
    assert not bounds.reachable(both, {email, phone})
    assert bounds.reachable(both, {email, phone}, {phone})  # the same phone: a similar name makes 100
    assert bounds.reachable(both, {email, phone}, {email})
    assert bounds.reachable(both, {email})  # the phone's key too common to look up: the name must be read
    assert not bounds.reachable(no_phone, {email})  # no phone at all: only the e-mail can make it


def test_pruned_check_finds_what_comparing_with_everyone_finds():
    _contact_rule()
    data = generate(leads=0, contacts=1200, accounts=40, seed=5)
    Account.objects.bulk_create(Account(external_id=a["external_id"], name=a["name"]) for a in data.accounts)
    stored = _stored(data.contacts[:800])
    entry, specs, new = _new(data.contacts[800:])
    checked = check_prepared(entry, specs, new, {p.external_id: True for p in new})
    found = {(a.external_id, b.external_id) for a, b, _ in checked.found}
    everyone = {(a.external_id, b.external_id) for a in new for b in stored if best_match(specs, a, b)}
    within = {(a.external_id, b.external_id) for n, a in enumerate(new) for b in new[:n] if best_match(specs, a, b)}
    assert found == everyone | within and len(everyone) >= 10 and len(within) >= 3
    # Most stored records sharing only a name key with a new one were never read.
    assert len(checked.stored) < len({b.pk for b in stored}) / 4


SWITCHBOARD = "+14155550100"
COLLEAGUES = [  # more people sharing the switchboard's number than a key may pair
    {"external_id": f"C-{i}", "first_name": f"Person{i}", "last_name": "Staff", "email": f"p{i}@gmail.com"}
    for i in range(BLOCK_LIMIT + 5)
]


def test_a_crowded_switchboard_phone_still_lets_the_name_find_the_person():
    _contact_rule()
    switchboard = SWITCHBOARD
    grace = {"external_id": "C-G", "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example"}
    _stored([{**r, "phone": switchboard} for r in [*COLLEAGUES, grace]])
    entry, specs, new = _new(
        [
            {
                "external_id": "C-NEW",
                "first_name": "Grace",
                "last_name": "Hoper",
                "email": "gh@gmail.com",
                "phone": switchboard,
            }
        ]
    )
    checked = check_prepared(entry, specs, new, {"C-NEW": True})
    assert [(b.external_id, match[1]) for _, b, match in checked.found] == [("C-G", 100)]
    assert set(checked.stored) == {Contact.objects.get(external_id="C-G").pk}


def _scan_pairs():
    scan = scan_start(reason="test")
    while scan_step(scan_id=scan.pk):
        pass
    ext = dict(Contact.objects.values_list("pk", "external_id"))
    pairs = set()
    for dup_set in DuplicateSet.objects.filter(object_type="contact", status="open"):
        ids = sorted(ext[i] for i in DuplicateMember.objects.filter(set=dup_set).values_list("object_id", flat=True))
        pairs.update((a, b) for n, a in enumerate(ids) for b in ids[n + 1 :])
    return pairs


def test_the_scan_pairs_through_exact_keys_and_finds_what_comparing_everyone_finds():
    _contact_rule()
    data = generate(leads=0, contacts=1000, accounts=40, seed=8)
    Account.objects.bulk_create(Account(external_id=a["external_id"], name=a["name"]) for a in data.accounts)
    prepared = _stored(data.contacts)
    specs = active_specs("contact")
    direct = [
        (a.external_id, b.external_id)
        for n, a in enumerate(prepared)
        for b in prepared[n + 1 :]
        if best_match(specs, a, b)
    ]
    assert _scan_pairs() == _within_sets(direct) and len(direct) >= 50
    scan = DuplicateScan.objects.get()
    assert scan.counts["contact"]["pairs_compared"] < 3 * len(direct)  # name keys alone pair nobody


def _within_sets(pairs):
    """Every pair inside the sets that ``pairs`` join (a set holds whatever its pairs connect)."""
    group = {}
    for a, b in pairs:
        merged = group.get(a, {a}) | group.get(b, {b})
        for member in merged:
            group[member] = merged
    return {(a, b) for members in map(frozenset, group.values()) for a in members for b in members if a < b}


def test_the_scan_still_finds_the_person_behind_a_crowded_switchboard_phone():
    _contact_rule()
    people = [
        *COLLEAGUES,
        {"external_id": "C-G1", "first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.example"},
        {"external_id": "C-G2", "first_name": "Grace", "last_name": "Hoper", "email": "gh@gmail.com"},
    ]
    _stored([{**r, "phone": SWITCHBOARD} for r in people])
    assert _scan_pairs() == {("C-G1", "C-G2")}
