"""Lead-to-account matching: which existing account does a new lead belong to, and why.

``AccountIndex`` is an in-memory index over every account (built from one ``values()`` query) that
answers ``match(email=…, domain=…, company=…)`` without touching the database. Steps, first hit wins:

1. the lead's e-mail domain against account domains (free-mail domains are skipped), then its parent
   domains (``eu.acme.com`` → ``acme.com``);
2. the lead's own ``domain`` field, the same way;
3. both of those against account website domains;
4. the company name, as a *company key* (``revops.names.company_key``: "Acme, Inc." == "acme");
5. a fuzzy comparison of company keys (RapidFuzz), when every step above failed.

When a step finds several accounts, the one whose company key equals the lead's wins; otherwise, if
they are one family (one of them is an ancestor of all the others), that ancestor wins; otherwise
the result is *ambiguous* and lists the candidates for a person to decide. Every result carries
``evidence``: plain sentences a RevOps manager can read in a routing decision.

``account_index()`` returns a per-process cached index that refreshes itself incrementally.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Count, Max

from revops.fuzzy import FUZZY_MIN_KEY_LENGTH, FuzzyNames
from revops.models import Account
from revops.names import (
    SHARED_WEBSITE_HOSTS,
    company_key,
    domain_chain,
    email_domain,
    is_free_mail_normalised,
    normalise_domain,
)

from .fuzzy_names import nothing_similar

FUZZY_AMBIGUITY_MARGIN = 2.0
FUZZY_LIMIT = 20

# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

MATCHED, AMBIGUOUS, NONE = "matched", "ambiguous", "none"


@dataclass
class MatchResult:
    """The outcome of matching one lead.

    ``status`` is "matched", "ambiguous" or "none"; ``method`` the step that decided ("email_domain",
    "lead_domain", "website_domain", "company_name", "fuzzy_name" or ""); ``score`` the fuzzy
    similarity (0–100) for fuzzy matches; ``candidates`` the accounts the deciding step found.
    """

    status: str = NONE
    account_id: int | None = None
    method: str = ""
    score: float | None = None
    evidence: list[str] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (for ``RoutingDecision.explanation``); field by field, as
        ``dataclasses.asdict``'s deep copy costs a bulk chunk more than the rest of the dict."""
        return {
            "status": self.status,
            "account_id": self.account_id,
            "method": self.method,
            "score": self.score,
            "evidence": list(self.evidence),
            "candidates": [dict(c) for c in self.candidates],
        }


class AccountEntry(NamedTuple):
    """One account as the index holds it. ``domain`` and ``website_domain`` are normalised."""

    id: int
    external_id: str
    name: str
    domain: str
    website: str
    website_domain: str
    key: str
    parent_id: int | None
    owner_id: int | None
    is_named: bool
    customer_status: str
    updated_at: datetime | None


ACCOUNT_FIELDS = (
    "pk",
    "external_id",
    "name",
    "domain",
    "website",
    "parent_id",
    "owner_id",
    "is_named",
    "customer_status",
    "updated_at",
)


def _entry_from_row(row: Mapping[str, Any]) -> AccountEntry:
    website = row.get("website") or ""
    website_domain = normalise_domain(website)
    if website_domain in SHARED_WEBSITE_HOSTS:
        website_domain = ""
    return AccountEntry(
        id=row["pk"] if "pk" in row else row["id"],
        external_id=row.get("external_id") or "",
        name=row.get("name") or "",
        domain=normalise_domain(row.get("domain") or ""),
        website=website,
        website_domain=website_domain,
        key=company_key(row.get("name") or ""),
        parent_id=row.get("parent_id"),
        owner_id=row.get("owner_id"),
        is_named=bool(row.get("is_named")),
        customer_status=row.get("customer_status") or "",
        updated_at=row.get("updated_at"),
    )


def _add(table: dict[str, tuple[int, ...]], key: str, account_id: int) -> None:
    if key:
        ids = table.get(key, ())
        if account_id not in ids:
            table[key] = (*ids, account_id)


def _discard(table: dict[str, tuple[int, ...]], key: str, account_id: int) -> None:
    ids = table.get(key)
    if ids and account_id in ids:
        remaining = tuple(i for i in ids if i != account_id)
        if remaining:
            table[key] = remaining
        else:
            del table[key]


# --------------------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------------------


class AccountIndex:
    """An in-memory index of accounts for matching leads, with parent links for named-owner routing.

    Holds one ``AccountEntry`` per account and three lookup tables, each mapping a key to a tuple of
    account ids: account ``domain``, website domain (kept apart so a match says which it was) and
    company key. ``match`` makes no database query.

    Cost, measured at 100,000 accounts: building reads every account once (about 1 s of Python for
    name and domain normalisation plus the query, ~65 MB). A domain or exact-name hit is a few
    dictionary lookups (5–15 µs including normalising the lead's input). Fuzzy matching compares the
    company keys that share a word start with the lead's, one typo allowed (RapidFuzz; see
    ``_fuzzy_hits``), and only runs when every other step failed. A refresh that finds nothing changed is one ``COUNT``/``MAX`` query (a few ms to
    ~20 ms at that size, mostly the count).
    """

    # Rows saved in a transaction that commits after a refresh can carry an ``updated_at`` older than
    # the watermark that refresh recorded; re-reading this much before the watermark picks them up
    # (at the next refresh that finds a change). Kept short: during a bulk sync every refresh
    # re-reads all rows changed within this window.
    REFRESH_OVERLAP = timedelta(seconds=5)

    def __init__(self) -> None:
        self._entries: dict[int, AccountEntry] = {}
        self._by_domain: dict[str, tuple[int, ...]] = {}
        self._by_website: dict[str, tuple[int, ...]] = {}
        self._by_key: dict[str, tuple[int, ...]] = {}
        self._names: FuzzyNames | None = None  # built on the first fuzzy comparison
        self._fuzzy_cache: dict[tuple[str, float], tuple[list, int]] = {}
        self._count = 0
        self._watermark: datetime | None = None

    # ----- building ---------------------------------------------------------------------------

    @classmethod
    def build(cls, rows: Iterable[Mapping[str, Any]]) -> AccountIndex:
        """An index over ``rows``: mappings with the keys of ``ACCOUNT_FIELDS`` (``id`` may stand for ``pk``)."""
        index = cls()
        for row in rows:
            index._upsert(_entry_from_row(row))
        index._count = len(index._entries)
        stamps = [entry.updated_at for entry in index._entries.values() if entry.updated_at is not None]
        index._watermark = max(stamps) if stamps else None
        return index

    @classmethod
    def load(cls) -> AccountIndex:
        """An index over every account in the database (one query)."""
        return cls.build(Account.objects.order_by().values(*ACCOUNT_FIELDS).iterator(chunk_size=5000))

    def refresh(self, *, count: bool = True) -> bool:
        """Bring the index up to date with the database; return whether anything was reloaded.

        With ``count=False`` and no account changed since the watermark, this costs one index-only
        ``MAX(updated_at)`` query and sees no deletions. Otherwise one aggregate query (count, latest
        ``updated_at``) when nothing changed. Otherwise the rows
        changed since the watermark are re-read and replace their old entries; if the number of
        accounts still differs from the database's, some were deleted and the index is rebuilt.
        Changes made with ``QuerySet.update()`` (which does not touch ``updated_at``) are only seen
        at the next full rebuild.
        """
        if not count and self._watermark is not None:
            if Account.objects.aggregate(latest=Max("updated_at"))["latest"] == self._watermark:
                return False
        stats = Account.objects.aggregate(count=Count("pk"), latest=Max("updated_at"))
        if stats["count"] == self._count and stats["latest"] == self._watermark:
            return False
        rows = Account.objects.order_by().values(*ACCOUNT_FIELDS)
        if self._watermark is not None:
            rows = rows.filter(updated_at__gte=self._watermark - self.REFRESH_OVERLAP)
        for row in rows:
            self._upsert(_entry_from_row(row))
        if len(self._entries) != stats["count"]:
            self._replace_with(type(self).load())
            return True
        self._count = stats["count"]
        self._watermark = stats["latest"]
        return True

    def _replace_with(self, other: AccountIndex) -> None:
        self.__dict__.update(other.__dict__)

    def _upsert(self, entry: AccountEntry) -> None:
        old = self._entries.get(entry.id)
        if old is not None:
            _discard(self._by_domain, old.domain, old.id)
            _discard(self._by_website, old.website_domain, old.id)
            _discard(self._by_key, old.key, old.id)
        self._entries[entry.id] = entry
        _add(self._by_domain, entry.domain, entry.id)
        _add(self._by_website, entry.website_domain, entry.id)
        _add(self._by_key, entry.key, entry.id)
        if old is None or old.key != entry.key:
            self._fuzzy_cache.clear()
            if self._names is not None:
                if old is not None and old.key not in self._by_key:
                    self._names.remove(old.key)
                self._names.add(entry.key)

    # ----- accounts and their families --------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, account_id: object) -> bool:
        return account_id in self._entries

    def get(self, account_id: int) -> AccountEntry | None:
        """The indexed account, or ``None``."""
        return self._entries.get(account_id)

    def ancestors(self, account_id: int) -> list[int]:
        """Ids of the account's parent, grandparent… (nearest first); stops at a cycle or an unknown parent."""
        chain: list[int] = []
        seen = {account_id}
        entry = self._entries.get(account_id)
        while entry is not None and entry.parent_id is not None and entry.parent_id not in seen:
            chain.append(entry.parent_id)
            seen.add(entry.parent_id)
            entry = self._entries.get(entry.parent_id)
        return chain

    def top_parent(self, account_id: int) -> int | None:
        """The root of the account's family (the account itself when it has no parent); ``None`` if unknown."""
        if account_id not in self._entries:
            return None
        chain = self.ancestors(account_id)
        return chain[-1] if chain else account_id

    def named_owner(self, account_id: int) -> tuple[int | None, int | None, str]:
        """Who owns leads of this account: ``(owner_id, id of the account whose owner it is, evidence)``.

        - The account's own owner, if it has one and it is named or no ancestor is named;
        - otherwise the owner of its nearest named ancestor that has an owner ("Acme UK routes
          through its parent Acme Corp's named owner");
        - otherwise (no owner of its own, no named ancestor) the owner of its nearest ancestor
          that has one;
        - otherwise ``(None, None, why)``.
        """
        entry = self._entries.get(account_id)
        if entry is None:
            return None, None, f"Account #{account_id} is not in the account index."
        chain = [self._entries[a] for a in self.ancestors(account_id) if a in self._entries]
        named = next((a for a in chain if a.is_named and a.owner_id is not None), None)
        if entry.owner_id is not None and (entry.is_named or named is None):
            kind = "named owner" if entry.is_named else "owner"
            return entry.owner_id, entry.id, f"{_ref(entry)} is routed to its own {kind}."
        if named is not None:
            relation = "parent" if named.id == entry.parent_id else "ancestor"
            return (
                named.owner_id,
                named.id,
                f"{_ref(entry)} routes through its {relation} {_ref(named)}'s named owner.",
            )
        owned = next((a for a in chain if a.owner_id is not None), None)
        if owned is not None:
            relation = "parent" if owned.id == entry.parent_id else "ancestor"
            return (
                owned.owner_id,
                owned.id,
                f"{_ref(entry)} has no owner; it routes through its {relation} {_ref(owned)}'s owner.",
            )
        return None, None, f"{_ref(entry)} has no owner, and neither has any account above it."

    # ----- matching ---------------------------------------------------------------------------

    def match(
        self, *, email: str = "", domain: str = "", company: str = "", fuzzy_threshold: float = 90.0
    ) -> MatchResult:
        """Match a lead (its e-mail, ``domain`` field and company name) to one account; see the module docstring."""
        evidence: list[str] = []

        # The domains worth trying, each once, with how to describe them.
        domains: list[tuple[str, str, str]] = []  # (domain, label, method)
        seen: set[str] = set()
        for raw, value, label, method in (
            (email, email_domain(email), "E-mail domain", "email_domain"),
            (domain, normalise_domain(domain), "Lead domain", "lead_domain"),
        ):
            if not value:
                if raw:
                    what = "E-mail address" if method == "email_domain" else "Lead domain"
                    evidence.append(f'{what} "{raw}" has no usable domain.')
                continue
            if value in seen:
                continue
            seen.add(value)
            if is_free_mail_normalised(value):
                evidence.append(f"{value} is a free-mail domain: not used for matching.")
                continue
            domains.append((value, label, method))

        for value, label, method in domains:
            result = self._domain_step(self._by_domain, value, label, method, "domain", company, evidence)
            if result is not None:
                return result
        for value, label, _method in domains:
            result = self._domain_step(
                self._by_website, value, label, "website_domain", "website domain", company, evidence
            )
            if result is not None:
                return result

        lead_key = company_key(company)
        if not lead_key:
            evidence.append(
                "No company name to compare." if not company else f'Company "{company}" has no usable name.'
            )
            return MatchResult(status=NONE, evidence=evidence + ["No account matched."])

        ids = self._by_key.get(lead_key)
        if ids:
            shown = f'"{company}"' + (f' (read as "{lead_key}")' if lead_key != company else "")
            return self._decide(
                ids,
                "company_name",
                company,
                evidence,
                found=f"Company {shown} matches the name of {{ref}}.",
                shared=f'are named "{lead_key}"',
            )
        evidence.append(f'No account is named "{lead_key}" (company "{company}" with legal forms removed).')

        return self._fuzzy_step(company, lead_key, fuzzy_threshold, evidence)

    def _domain_step(
        self,
        table: dict[str, tuple[int, ...]],
        value: str,
        label: str,
        method: str,
        what: str,
        company: str,
        evidence: list[str],
    ) -> MatchResult | None:
        tried: list[str] = []
        for candidate in domain_chain(value):
            ids = table.get(candidate)
            if ids:
                if candidate == value:
                    found = f"{label} {value} is the {what} of {{ref}}."
                else:
                    found = f"{label} {value} is a subdomain of {candidate}, the {what} of {{ref}}."
                return self._decide(ids, method, company, evidence, found=found, shared=f"share the {what} {candidate}")
            tried.append(candidate)
        if tried:
            also = f" (nor its parent domain {', '.join(tried[1:])})" if len(tried) > 1 else ""
            evidence.append(f"No account has the {what} {value}{also}.")
        return None

    def _decide(
        self,
        ids: tuple[int, ...],
        method: str,
        company: str,
        evidence: list[str],
        *,
        found: str,
        shared: str,
        score: float | None = None,
    ) -> MatchResult:
        """Turn the accounts one step found into a result: one account, a resolved family, or ambiguous."""
        candidates = [self._candidate(i, method, score) for i in sorted(ids)]
        if len(ids) == 1:
            chosen = ids[0]
            evidence.append(found.replace("{ref}", _ref(self._entries[chosen])))
            return MatchResult(MATCHED, chosen, method, score, evidence, candidates)

        chosen, sentence = self._resolve(sorted(ids), company_key(company), shared)
        evidence.append(sentence)
        if chosen is None:
            return MatchResult(AMBIGUOUS, None, method, score, evidence, candidates)
        candidates.sort(key=lambda c: c["account_id"] != chosen)
        return MatchResult(MATCHED, chosen, method, score, evidence, candidates)

    def _resolve(self, ids: list[int], lead_key: str, shared: str) -> tuple[int | None, str]:
        """Pick among several accounts: the one named like the lead, else the family's top, else none."""
        entries = [self._entries[i] for i in ids]
        count = len(entries)
        same_name = [e for e in entries if lead_key and e.key == lead_key]
        if len(same_name) == 1:
            return same_name[0].id, (
                f"{count} accounts {shared}; {_ref(same_name[0])} has the lead's company name, so it was chosen."
            )
        pool = same_name if len(same_name) > 1 else entries
        ancestor = self._family_top([e.id for e in pool])
        if ancestor is not None:
            return ancestor, (
                f"{count} accounts {shared} and are one family: chose {_ref(self._entries[ancestor])}, "
                "the parent account of the others."
            )
        refs = ", ".join(_ref(e) for e in pool)
        return None, f"{len(pool)} accounts {shared} and are not one family: {refs}."

    def _family_top(self, ids: list[int]) -> int | None:
        """The id that is an ancestor of every other id, if there is one (linear in ``len(ids)`` × depth)."""
        common = set(self.ancestors(ids[0])) | {ids[0]}
        for other in ids[1:]:
            common &= set(self.ancestors(other)) | {other}
            if not common:
                return None
        tops = [i for i in ids if i in common]
        return min(tops) if tops else None

    def _fuzzy_step(self, company: str, lead_key: str, threshold: float, evidence: list[str]) -> MatchResult:
        if len(lead_key) < FUZZY_MIN_KEY_LENGTH:
            evidence.append(f'"{lead_key}" is shorter than {FUZZY_MIN_KEY_LENGTH} characters: not compared fuzzily.')
            return MatchResult(status=NONE, evidence=evidence + ["No account matched."])
        hits, compared = self._fuzzy_hits(lead_key, threshold)
        if not hits:
            evidence.append(nothing_similar(lead_key, threshold, compared))
            return MatchResult(status=NONE, evidence=evidence + ["No account matched."])

        best_key, raw_best, _ = hits[0]
        best_score = round(float(raw_best), 1)
        result = self._decide(
            self._by_key[best_key],
            "fuzzy_name",
            company,
            evidence,
            found=f'Company "{company}" is {best_score:g}% similar to the name of {{ref}} (threshold {threshold:g}%).',
            shared=f'are named "{best_key}" ({best_score:g}% similar to "{lead_key}")',
            score=best_score,
        )
        if result.status != MATCHED:
            return result

        family = self.top_parent(result.account_id)
        rivals: list[tuple[int, float]] = []
        for key, score, _ in hits[1:]:
            if score < raw_best - FUZZY_AMBIGUITY_MARGIN:
                break
            rivals.extend((i, round(float(score), 1)) for i in self._by_key[key] if self.top_parent(i) != family)
        if not rivals:
            return result
        refs = ", ".join(f"{_ref(self._entries[i])} ({s:g}%)" for i, s in rivals)
        evidence.append(
            f"Unrelated accounts are within {FUZZY_AMBIGUITY_MARGIN:g} points of it, so the match is ambiguous: {refs}."
        )
        result.candidates += [self._candidate(i, "fuzzy_name", s) for i, s in rivals]
        result.status, result.account_id = AMBIGUOUS, None
        return result

    def prepare_fuzzy(self) -> None:
        """Build the fuzzy name search now (else on the first fuzzy match): a forking worker does it
        before the fork, so each job's process does not build it again."""
        if self._names is None:
            self._names = FuzzyNames(self._by_key)

    def _fuzzy_hits(self, lead_key: str, threshold: float) -> tuple[list, int]:
        """``FuzzyNames.search`` over every account's company key, memoised until a name changes."""
        cached = self._fuzzy_cache.get((lead_key, threshold))
        if cached is not None:
            return cached
        self.prepare_fuzzy()
        found = self._names.search(lead_key, threshold, FUZZY_LIMIT)
        if len(self._fuzzy_cache) > 10_000:  # bounded: a long backfill must not grow a worker
            self._fuzzy_cache.clear()
        self._fuzzy_cache[(lead_key, threshold)] = found
        return found

    def _candidate(self, account_id: int, method: str, score: float | None) -> dict[str, Any]:
        entry = self._entries[account_id]
        return {
            "account_id": entry.id,
            "external_id": entry.external_id,
            "name": entry.name,
            "method": method,
            "score": score,
        }


def _ref(entry: AccountEntry) -> str:
    """How evidence names an account: "Acme Corp (A-17)"."""
    return f"{entry.name} ({entry.external_id or f'#{entry.id}'})"


# --------------------------------------------------------------------------------------------------
# Per-process cache
# --------------------------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cached_index: AccountIndex | None = None
_checked_at = 0.0
_counted_at = 0.0
COUNT_EVERY_SECONDS = 30.0  # how late a deleted account may still be matched (it then resolves to no account)


def account_index() -> AccountIndex:
    """This process's account index, loaded on first use and refreshed at most once per
    ``settings.ROUTING_INDEX_REFRESH_SECONDS`` (default 0: on every call, which costs one aggregate
    query when nothing changed).

    Refreshes are serialised by a lock; they update the shared index in place, so a ``match`` running
    in another thread at that moment may see one account's change half-applied.
    """
    global _cached_index, _checked_at, _counted_at
    interval = float(getattr(settings, "ROUTING_INDEX_REFRESH_SECONDS", 0) or 0)
    with _cache_lock:
        now = time.monotonic()
        if _cached_index is None:
            _cached_index = AccountIndex.load()
            _checked_at = _counted_at = now
        elif now - _checked_at >= interval:
            # Changes are seen at once (an index-only MAX); deletions within COUNT_EVERY_SECONDS.
            full = now - _counted_at >= COUNT_EVERY_SECONDS
            _cached_index.refresh(count=full)
            _checked_at = now
            if full:
                _counted_at = now
        return _cached_index


def reset_account_index() -> None:
    """Forget the cached index (tests; after bulk changes made with ``QuerySet.update()``)."""
    global _cached_index, _checked_at
    with _cache_lock:
        _cached_index = None
        _checked_at = 0.0
