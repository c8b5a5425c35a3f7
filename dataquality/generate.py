"""Synthetic leads, contacts and accounts with known duplicates, for the blocking-recall test and the benchmark.

``generate(leads=…, accounts=…, contacts=…, seed=…)`` returns plain record dicts (as the sync API
takes them: a lead's ``phone`` is a custom field, a contact names its account by external id) and
the true duplicate clusters by external id. About one record in ten
is a second copy of another, with the noise CRMs really collect: a typo in a name (a letter
dropped, doubled, changed or two swapped), different case, first and last name swapped, the phone
formatted another way, the e-mail in capitals or a private address instead, another legal suffix
("Inc" → "GmbH", "ACME, Inc."), the website as a URL. The other records are different people and
companies, many of them sharing first names, surnames, employers and e-mail providers, so that
precision is measured against look-alikes, not against noise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FIRST = (
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret "
    "Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa "
    "George Deborah Timothy Stephanie Ronald Rebecca Jason Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob "
    "Amy Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott Helen "
    "Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn Patrick Janet "
    "Raymond Catherine Jack Maria Dennis Heather Jerry Diane Tyler Ruth Aaron Julie Ada Lena Tomas Ingrid Hiro Yuki "
    "Mateo Sofia Lucas Amara Kwame Priya Arjun Mei Chen Olga Ivan Fatima Omar Leila Nora Erik Astrid Lars Sven Noor"
).split()
SURNAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson "
    "Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell "
    "Mitchell Carter Roberts Moreno Schmidt Muller Schneider Fischer Weber Meyer Wagner Becker Rossi Russo Ferrari "
    "Bianchi Romano Dubois Durand Lefebvre Moreau Laurent Tanaka Suzuki Takahashi Watanabe Kim Park Choi Singh Patel"
).split()
SYLLABLES = "ba be bi bo bu ca co da de di do fa fe ga go ka ke ko la le li lo lu ma me mi mo na ne no ra re ri ro sa se so ta te ti to va ve vi zo".split()
INDUSTRY = (
    "Systems Labs Health Foods Logistics Energy Capital Media Robotics Analytics Partners Works Bio Motors".split()
)
SUFFIXES = ["Inc", "LLC", "Ltd", "GmbH", "AG", "SA", "BV", "Corp", "Pty Ltd", "SAS", "Oy", ""]
TLDS = ["com", "com", "com", "io", "de", "co.uk", "fr", "nl", "com.au", "ca"]
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "web.de", "gmx.de"]
COUNTRIES = [("US", "+1", 10), ("GB", "+44", 10), ("DE", "+49", 10), ("FR", "+33", 9), ("AU", "+61", 9)]


@dataclass
class Generated:
    """The records and the true duplicate clusters (lists of external ids) of each object."""

    accounts: list[dict] = field(default_factory=list)
    leads: list[dict] = field(default_factory=list)
    contacts: list[dict] = field(default_factory=list)
    clusters: dict[str, list[list[str]]] = field(default_factory=lambda: {"account": [], "lead": [], "contact": []})

    def true_pairs(self, object_type: str) -> set[tuple[str, str]]:
        return {tuple(sorted((a, b))) for c in self.clusters[object_type] for i, a in enumerate(c) for b in c[i + 1 :]}


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def typo(rng: random.Random, word: str) -> str:
    """One slip inside a word (never its first letter): dropped, doubled, changed, or two letters swapped."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + rng.choice("aeioulnrst".replace(word[i].lower(), "")) + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _phone(rng: random.Random, country: tuple) -> str:
    code, digits = country[1], country[2]
    return code + str(rng.randrange(2, 9)) + "".join(str(rng.randrange(10)) for _ in range(digits - 1))


def reformat_phone(number: str) -> str:
    """The same number as a person types it: "+1 (415) 555-0100", "+44 20 7946 0958"."""
    digits = number[1:]
    if number.startswith("+1"):
        return f"+1 ({digits[1:4]}) {digits[4:7]}-{digits[7:]}"
    return f"+{digits[:2]} {digits[2:5]} {digits[5:8]} {digits[8:]}"


def generate(*, leads: int, accounts: int, contacts: int = 0, seed: int = 7, duplicate_rate: float = 0.1) -> Generated:
    rng = random.Random(seed)
    out = Generated()
    used_domains = set()
    companies = []
    n_base = max(1, int(accounts * (1 - duplicate_rate)))
    for i in range(n_base):
        brand = _word(rng, rng.choice((2, 3, 3, 3, 4))).capitalize()
        if rng.random() < 0.4:
            brand += " " + rng.choice(INDUSTRY)
        suffix = rng.choice(SUFFIXES)
        domain = brand.lower().replace(" ", "") + "." + rng.choice(TLDS)
        while domain in used_domains:
            domain = f"{brand.lower().replace(' ', '')}{rng.randrange(2, 99)}.{rng.choice(TLDS)}"
        used_domains.add(domain)
        country = rng.choice(COUNTRIES)
        record = {
            "external_id": f"GA-{i:07d}",
            "name": f"{brand} {suffix}".strip(),
            "domain": domain,
            "website": f"https://www.{domain}" if rng.random() < 0.5 else "",
            "country": country[0],
        }
        out.accounts.append(record)
        companies.append((record, brand, country))
    for i in range(accounts - n_base):
        base, brand, country = rng.choice(companies[: len(companies)])
        kind = rng.randrange(4)
        words = brand.split()
        if kind == 0:
            name = " ".join([typo(rng, words[0]), *words[1:]]) + " " + (base["name"][len(brand) :].strip())
        elif kind == 1:
            name = f"{brand} {rng.choice([s for s in SUFFIXES if s])}"
        elif kind == 2:
            name = base["name"].upper()
        else:
            name = f"{brand.upper()}, Inc."
        dup = {
            "external_id": f"GA-D{i:06d}",
            "name": name.strip(),
            "domain": base["domain"] if rng.random() < 0.7 else "",
            "website": f"http://{base['domain']}/home" if rng.random() < 0.6 else "",
            "country": base["country"],
        }
        if not dup["domain"] and not dup["website"]:
            dup["domain"] = base["domain"]
        out.accounts.append(dup)
        _cluster(out, "account", base["external_id"], dup["external_id"])
    used_emails: set[str] = set()
    out.leads = _people(rng, out, "lead", leads, companies, used_emails, duplicate_rate)
    out.contacts = _people(rng, out, "contact", contacts, companies, used_emails, duplicate_rate)
    return out


def _people(rng, out: Generated, object_type: str, count: int, companies, used_emails, duplicate_rate) -> list[dict]:
    """``count`` leads or contacts (about ``duplicate_rate`` of them second copies), working at ``companies``."""
    if count <= 0:
        return []
    prefix = "GL" if object_type == "lead" else "GC"
    records: list[dict] = []
    n_base = max(1, int(count * (1 - duplicate_rate)))
    for i in range(n_base):
        company, brand, country = rng.choice(companies)
        first = rng.choice(FIRST)
        last = rng.choice(SURNAMES) if rng.random() < 0.5 else _word(rng, rng.choice((2, 3))).capitalize()
        if rng.random() < 0.7:
            local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[0]}", f"{first}_{last}"])
            email = f"{local.lower()}@{company['domain']}"
            while email in used_emails:
                email = email.replace("@", f"{rng.randrange(2, 9)}@", 1)
            used_emails.add(email)
        else:
            email = f"{first.lower()}.{last.lower()}{rng.randrange(1, 999)}@{rng.choice(FREE_MAIL)}"
        record = {"external_id": f"{prefix}-{i:07d}", "email": email, "first_name": first, "last_name": last}
        if object_type == "contact":
            record["account"] = company["external_id"]
        else:
            record.update(company=brand if rng.random() < 0.6 else company["name"], country=country[0])
        record["phone"] = _phone(rng, country) if rng.random() < 0.6 else ""
        records.append(record)
    bases = list(records)
    for i in range(count - n_base):
        base = rng.choice(bases)
        dup = dict(base, external_id=f"{prefix}-D{i:06d}")
        changes = rng.sample(["typo", "case", "swap", "phone", "email_case", "suffix"], k=2)
        for change in changes:
            if change == "typo":
                key = rng.choice(("first_name", "last_name"))
                dup[key] = typo(rng, dup[key])
            elif change == "case":
                dup["first_name"], dup["last_name"] = dup["first_name"].upper(), dup["last_name"].upper()
            elif change == "swap":
                dup["first_name"], dup["last_name"] = dup["last_name"], dup["first_name"]
            elif change == "phone" and dup["phone"]:
                dup["phone"] = reformat_phone(dup["phone"])
            elif change == "email_case":
                dup["email"] = dup["email"].upper()
            elif change == "suffix" and "company" in dup:
                dup["company"] = dup["company"] + ", Inc."
        if base["phone"] and rng.random() < 0.3:  # a private address instead: the name and phone tell
            dup["email"] = f"{base['first_name'].lower()}{rng.randrange(1, 99)}@{rng.choice(FREE_MAIL)}"
        records.append(dup)
        _cluster(out, object_type, base["external_id"], dup["external_id"])
    return records


def _cluster(out: Generated, object_type: str, base: str, dup: str) -> None:
    for cluster in out.clusters[object_type]:
        if base in cluster:
            cluster.append(dup)
            return
    out.clusters[object_type].append([base, dup])


def pair_quality(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    """Pairwise precision and recall of ``found`` against ``truth`` (both sorted external-id pairs)."""
    hits = len(found & truth)
    return {
        "precision": round(hits / len(found), 4) if found else 1.0,
        "recall": round(hits / len(truth), 4) if truth else 1.0,
        "found_pairs": len(found),
        "true_pairs": len(truth),
    }
