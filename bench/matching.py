"""Fuzzy account matching: per-lead cost and recall against a brute-force comparison.

    .venv/bin/python bench/matching.py [--accounts 100000] [--leads 2000]

Builds an ``AccountIndex`` of generated company names (no database), then matches leads whose
company is an account's name with one typo (insertion, deletion, substitution, transposition,
anywhere in the name) and leads whose company matches nothing. Prints JSON: microseconds per
fuzzy match (first call, uncached), how many of the typo'd names the index matched to their
account, and how many a brute-force ``token_sort_ratio`` over every key would have found ≥ 90 %
(recall = index hits / brute-force hits).
"""

import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")

import django  # noqa: E402

django.setup()

from rapidfuzz import fuzz  # noqa: E402

from revops.names import company_key  # noqa: E402
from routing.matching import AccountIndex  # noqa: E402

SYLLABLES = "ba be bi bo bu ca co cu da de di do fa fe fi ga go ka ke ko la le li lo lu ma me mi mo na ne ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to va ve vi vo xa xe za ze zo".split()
WORDS = "global systems digital analytics logistics partners health energy labs networks capital foods media solutions dynamics".split()


def _word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def _name(rng):
    first = _word(rng).capitalize()
    if rng.random() < 0.5:
        return f"{first} {rng.choice(WORDS).capitalize()} Inc"
    return f"{first} {_word(rng).capitalize()}" if rng.random() < 0.5 else f"{first} Corporation"


def typo(rng, text):
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = rng.randrange(len(text))
    kind = rng.choice(("insert", "delete", "substitute", "transpose"))
    if kind == "insert":
        return text[:i] + rng.choice(letters) + text[i:]
    if kind == "delete" and len(text) > 1:
        return text[:i] + text[i + 1 :]
    if kind == "transpose" and i < len(text) - 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice(letters) + text[i + 1 :]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)
    names = sorted({_name(rng) for _ in range(args.accounts)})
    rows = [{"pk": i + 1, "external_id": f"A-{i + 1}", "name": n} for i, n in enumerate(names)]
    started = time.perf_counter()
    index = AccountIndex.build(rows)
    build_s = time.perf_counter() - started
    index.match(company="warm up")
    keys = list(index._by_key)
    leads = []
    for _ in range(args.leads):
        target = rng.randrange(len(names))
        leads.append((typo(rng, names[target].split(" Inc")[0]), target + 1))
    misses = [(f"Zq{_word(rng)}x Holdings", None) for _ in range(args.leads // 4)]
    started = time.perf_counter()
    found = expected = index_hits = 0
    for company, target in leads + misses:
        result = index.match(company=company)
        if target is None:
            continue
        lead_key = company_key(company)
        brute = fuzz.token_sort_ratio(lead_key, company_key(names[target - 1])) >= 90
        exact = lead_key in index._by_key
        if brute or exact:
            expected += 1
            if result.account_id == target or any(c["account_id"] == target for c in result.candidates):
                index_hits += 1
        if result.account_id == target:
            found += 1
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "accounts": len(keys),
                "build_s": round(build_s, 2),
                "leads": len(leads) + len(misses),
                "us_per_match": round(elapsed / (len(leads) + len(misses)) * 1e6, 1),
                "typo_leads_matched": found,
                "typo_leads_within_90": expected,
                "recall": round(index_hits / expected, 4) if expected else None,
            }
        )
    )


if __name__ == "__main__":
    main()
