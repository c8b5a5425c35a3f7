"""What routing says when fuzzy matching found nothing (the blocking itself is in ``revops.fuzzy``)."""

from __future__ import annotations


def nothing_similar(lead_key: str, threshold: float, compared: int) -> str:
    """The evidence sentence when no key was similar enough: says what was compared, never more."""
    like = f'of a similar length with a word starting like a word of "{lead_key}" (one typo allowed)'
    if not compared:
        return f"No account name {like}, so none was compared fuzzily."
    if compared == 1:
        return f"The one account name {like} is less than {threshold:g}% similar."
    return f"None of the {compared} account names {like} is {threshold:g}% or more similar."
