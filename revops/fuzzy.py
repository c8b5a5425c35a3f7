"""Fuzzy comparison of names with blocking that keeps recall (in the core: routing's lead-to-account
matching and the duplicate rules of ``dataquality`` both use it).

Comparing a lead's company key with 100,000 account keys is too slow for the hot path, so only
the keys that share a *blocking key* with it are compared: per word of three letters or more,
its first four letters with each one left out in turn ("globex" → "lob", "gob", "glb", "glo";
"glbex" → "lbe", "gbe", "gle", "glb"). Two words whose first four letters differ by one typo (a
letter added, dropped, changed, or two swapped) share one, and so do words that start alike; so
names ≥ 90 % alike are compared unless every word has two typos in its first four letters.
Within a block, only names of a length that can reach the threshold are compared (two strings
of lengths a ≤ b are at most 200·a/(a+b) % alike).

Similarity is RapidFuzz's ``token_sort_ratio``, computed as ``ratio`` of the words sorted once
per key. Not ``WRatio``: its partial matching scores a short name inside a long one ("acme" in
"acme industrial holdings") at 90, far too generous over 100,000 accounts; ``token_sort_ratio``
still ignores word order and is several times faster.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz, process

FUZZY_MIN_KEY_LENGTH = 4


class FuzzyNames:
    """Company keys by blocking key, in sorted-words form; ``search`` finds the similar ones."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._blocks: dict[str, dict[int, set[str]]] = {}  # blocking key → length → sorted-words forms
        # sorted-words form → the company keys that have it: a tuple (almost always of one), a third of a set's size
        self._by_form: dict[str, tuple[str, ...]] = {}
        for key in keys:
            self.add(key)

    def add(self, key: str) -> None:
        form = sorted_words(key)
        keys = self._by_form.get(form)
        if keys is None:
            self._by_form[form] = (key,)
            size = len(form)
            for block in blocking_keys(key):
                self._blocks.setdefault(block, {}).setdefault(size, set()).add(form)
        elif key not in keys:
            self._by_form[form] = (*keys, key)

    def remove(self, key: str) -> None:
        form = sorted_words(key)
        keys = self._by_form.get(form)
        if keys is None or key not in keys:
            return
        keys = tuple(k for k in keys if k != key)
        if keys:
            self._by_form[form] = keys
            return
        del self._by_form[form]
        for block in blocking_keys(key):
            self._blocks.get(block, {}).get(len(form), set()).discard(form)

    def search(self, lead_key: str, threshold: float, limit: int) -> tuple[list[tuple[str, float, int]], int]:
        """(``(key, score, 0)`` for up to ``limit`` keys ≥ ``threshold`` % similar to ``lead_key``, best
        first then by key; how many account keys were compared — counted exactly when none was similar)."""
        lead_form = sorted_words(lead_key)
        size = len(lead_form)
        # The lengths that can reach ``threshold`` (one either side spare for rounding).
        shortest = size * threshold / (200 - threshold) - 1 if threshold < 200 else 0
        longest = size * (200 - threshold) / threshold + 1 if threshold > 0 else float("inf")
        candidates: set[str] = set()
        for block in blocking_keys(lead_key):
            by_length = self._blocks.get(block)
            if by_length:
                for length, found in by_length.items():
                    if shortest <= length <= longest:
                        candidates |= found
        if not candidates:
            return [], 0
        by_form = self._by_form
        found = process.extract(
            lead_form,
            list(candidates),
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=threshold,
            limit=limit,
        )
        hits = sorted(((key, score, 0) for form, score, _ in found for key in by_form[form]), key=_best_first)
        if hits:
            return hits[:limit], len(candidates)
        return [], sum(len(by_form[form]) for form in candidates)


def blocking_keys(key: str) -> set[str]:
    """The blocking keys of a company key (see the module docstring); keys too short to compare have none."""
    if len(key) < FUZZY_MIN_KEY_LENGTH:
        return set()
    words = [word for word in key.split() if len(word) >= 3] or [key]
    blocks = set()
    for word in words:
        head = word[:4]
        if len(head) < 4:
            blocks.add(head)
            continue
        for i in range(4):
            blocks.add(head[:i] + head[i + 1 :])
    return blocks


def sorted_words(key: str) -> str:
    return " ".join(sorted(key.split()))


def _best_first(hit: tuple) -> tuple:
    return (-hit[1], hit[0])


@lru_cache(maxsize=8192)
def head_variants(head: str) -> frozenset[str]:
    """A word's head — its first four letters (three for a three-letter word) — with each one left out
    in turn (a shorter head as it is): two words whose heads differ by one typo share one variant."""
    if len(head) < 3:
        return frozenset((head,))
    return frozenset(head[:i] + head[i + 1 :] for i in range(len(head)))


def name_pair_keys(key: str) -> frozenset[str]:
    """Blocking keys of a multi-word name that stay selective for common words ("john smith").

    The words are sorted (so "Smith John" == "John Smith", as ``token_sort_ratio`` sees it); for each
    pair of neighbouring words, the first word's ``head_variants`` joined with the second's first
    four letters, and the other way round. Two names whose words differ by one typo in the first
    four letters of one word of a pair share a key; a one-word name falls back to ``head_variants``.
    Only the words' first four letters count, so the keys of each list of heads are computed once.
    """
    words = sorted(word for word in key.split() if word)
    if not words:
        return frozenset()
    return heads_keys(tuple(word[:4] for word in words))


@lru_cache(maxsize=4096)  # about 1 KB an entry: a few MB at most
def heads_keys(heads: tuple[str, ...]) -> frozenset[str]:
    """``name_pair_keys`` of a name whose sorted words start with ``heads`` (their first four letters)."""
    if len(heads) == 1:
        return head_variants(heads[0])
    keys = set()
    for first, second in zip(heads, heads[1:], strict=False):
        keys.update(f"{variant}|{second}" for variant in head_variants(first))
        keys.update(f"{first}|{variant}" for variant in head_variants(second))
    return frozenset(keys)
