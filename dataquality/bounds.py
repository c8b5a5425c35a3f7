"""Which stored records are worth comparing with a record: an upper bound on each rule's points.

A blocking key of a non-fuzzy field (exact, normalised, domain) is shared exactly by the records whose
form of the field is equal, so a stored record outside that key's records cannot match the field —
unless the key was left out of the lookup for being too common (``keys.BLOCK_LIMIT``), when nothing is
known. A field the record has no value for never matches. The most a rule can give a pair is then the
weight of the fields still possible; a pair that cannot reach any rule's threshold is neither read nor
scored. Under a rule like "same e-mail, or a similar name with the same phone", a record's name keys
need not even be looked up unless its e-mail or phone key is too common to use — and the full scan
pairs records through their name keys only when one holds such a key (``exact_prefixes``).
"""

from __future__ import annotations

from .matchers import Method, exact_key, key_prefixes
from .rules import Prepared, RuleSpec

Slot = tuple[str, str]
NONE: frozenset[Slot] = frozenset()


class Bounds:
    """The upper bounds of ``specs`` (see the module docstring)."""

    def __init__(self, specs: list[RuleSpec]):
        self.exact = {f.slot: f for spec in specs for f in spec.fields if f.blocking and f.method != Method.FUZZY}
        self.rules = [(spec.threshold, [(f.slot, f.weight) for f in spec.fields]) for spec in specs]

    def exact_keys(self, record: Prepared) -> dict[Slot, str]:
        """The record's key per non-fuzzy blocking field it has a value for."""
        forms = record.forms
        return {slot: exact_key(f.method, f.key, forms[slot][0]) for slot, f in self.exact.items() if slot in forms}

    def reachable(self, record: Prepared, closed: set[Slot], shared=NONE) -> bool:
        """Whether some rule can reach its threshold for ``record`` and a stored record sharing its keys
        of the ``shared`` fields and none of the other ``closed`` ones (fields whose keys were looked up)."""
        forms = record.forms
        for threshold, fields in self.rules:
            points = 0
            for slot, weight in fields:
                if slot in forms and (slot not in closed or slot in shared):
                    points += weight
            if points >= threshold:
                return True
        return False


def exact_prefixes(specs: list[RuleSpec]) -> list[str] | None:
    """When no rule can be met without an equal value of a non-fuzzy blocking field, the prefixes of
    those fields' keys (``matchers.key_prefixes``): a pair sharing none
    of them cannot be duplicates unless the shared value's key is too common to look up. None when
    some rule can be met by fuzzy or non-blocking fields alone."""
    exact = [f for spec in specs for f in spec.fields if f.blocking and f.method != Method.FUZZY]
    for spec in specs:
        rest = sum(f.weight for f in spec.fields if not (f.blocking and f.method != Method.FUZZY))
        if rest >= spec.threshold:
            return None
    return sorted({prefix for f in exact for prefix in key_prefixes(f.method, f.key)})
