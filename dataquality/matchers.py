"""How a duplicate rule compares one field of two records, and the blocking keys it files them under.

Four methods (``Method``), each in two steps: ``prepare`` turns a stored value into the form that is
compared (once per record), ``matches`` compares two prepared forms. An empty form never matches.

* ``exact``: the values as stored, trimmed ("Ada" ≠ "ada").
* ``normalised``: the dictionary field's normaliser (country → ISO code, phone → E.164 using the
  record's country, e-mail lower-cased, website → domain), then case, accents and spacing folded;
  company-name fields become company keys ("Acme, Inc." == "ACME").
* ``fuzzy``: words folded (company names as company keys) and sorted, compared with RapidFuzz's
  ``ratio`` — the ``token_sort_ratio`` of the two values — at or above the field's threshold (%).
* ``domain``: the registrable domain of an e-mail address, website or domain ("ada@eu.acme.com" →
  "acme.com"); free-mail providers (``revops/freemail.txt``) and shared hosts (linkedin.com, …)
  give nothing, so two Gmail users are never "the same domain".

Blocking keys (``keys``): the prepared value itself for ``exact``, ``normalised`` and ``domain``;
for ``fuzzy``, ``revops.fuzzy.name_pair_keys`` (word prefixes with one typo allowed), so names
≥ 90 % alike share a key unless a typo falls in the first four letters of two neighbouring words.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from django.db import models
from rapidfuzz import fuzz

from revops.fuzzy import name_pair_keys
from revops.names import SHARED_WEBSITE_HOSTS, company_key, domain_chain, email_domain, is_free_mail_normalised
from revops.names import normalise_domain as host_of
from revops.normalise import InvalidValue, normalise


class Method(models.TextChoices):
    EXACT = "exact", "Exact (as stored)"
    NORMALISED = "normalised", "Same once normalised"
    FUZZY = "fuzzy", "Fuzzy (similar at or above a threshold)"
    DOMAIN = "domain", "Same e-mail or website domain"


_PUNCT_RE = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lower-case, accents removed, punctuation as spaces, single spaces: "Zoë  O'Neil" → "zoe o neil"."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(_PUNCT_RE.sub(" ", text.casefold()).split())


_E164_RE = re.compile(r"\+[1-9]\d{6,14}")


def registrable_domain(value: str) -> str:
    """The domain two records share when they are the same company; ``""`` for free mail and shared hosts."""
    host = email_domain(value) if "@" in value else host_of(value)
    if not host or is_free_mail_normalised(host):
        return ""
    chain = list(domain_chain(host))
    domain = chain[-1] if chain else host
    return "" if domain in SHARED_WEBSITE_HOSTS or host in SHARED_WEBSITE_HOSTS else domain


def prepare(method: str, value, *, normaliser: str = "none", company: bool = False, region: str | None = None) -> str:
    """The form of ``value`` that ``method`` compares (``""``: nothing to compare)."""
    if value is None or value == "" or isinstance(value, list | dict | bool):
        return ""
    text = str(value).strip()
    if not text:
        return ""
    if method == Method.EXACT:
        return text
    if method == Method.DOMAIN:
        return registrable_domain(text)
    if method == Method.NORMALISED:
        if company:
            return company_key(text)
        if not normaliser or normaliser == "none":
            return fold(text)
        if normaliser == "phone" and _E164_RE.fullmatch(text):
            return text  # stored as ingest normalised it
        try:
            text = normalise(normaliser, text, region)
        except InvalidValue:
            return " ".join(text.casefold().split())
        return text if normaliser in ("phone", "country") else " ".join(text.casefold().split())
    form = company_key(text) if company else fold(text)
    return " ".join(sorted(form.split()))


def similarity(method: str, a: str, b: str, threshold: float) -> float:
    """100 when ``a`` and ``b`` match under ``method``; for ``fuzzy`` their % similarity if at or above
    ``threshold``; 0 when they do not match or either is empty."""
    if not a or not b:
        return 0.0
    if method == Method.FUZZY:
        return fuzz.ratio(a, b, score_cutoff=threshold)
    return 100.0 if a == b else 0.0


def _key(field: str, tag: str, text: str) -> str:
    key = f"{field}|{tag}|{text}"
    if len(key) > 120:
        key = f"{field}|{tag}#{hashlib.blake2b(text.encode(), digest_size=12).hexdigest()}"
    return key


def key_prefixes(method: str, field: str) -> tuple[str, str]:
    """How every blocking key of ``field`` under ``method`` starts: ``field|tag|`` and, for a value
    hashed for length, ``field|tag#``."""
    tag = "f" if method == Method.FUZZY else method[0]
    return f"{field}|{tag}|", f"{field}|{tag}#"


def exact_key(method: str, field: str, prepared: str) -> str:
    """The one blocking key of a non-fuzzy prepared value: two values share it exactly when their forms
    are equal (so a record outside a key's records cannot match the field)."""
    return _key(field, method[0], prepared)


@lru_cache(maxsize=4096)  # about 1.5 KB an entry: a few MB at most
def _fuzzy_keys(field: str, pair_keys: frozenset[str]) -> frozenset[str]:
    return frozenset(_key(field, "f", key) for key in pair_keys)


def keys(method: str, field: str, prepared: str) -> set[str] | frozenset[str]:
    """The blocking keys of a prepared value (see the module docstring)."""
    if not prepared:
        return set()
    if method == Method.FUZZY:
        if len(prepared) < 3:
            return set()
        return _fuzzy_keys(field, name_pair_keys(prepared))
    return {exact_key(method, field, prepared)}


def evidence(method: str, label: str, a: str, b: str, score: float, shown_a: str, shown_b: str) -> str:
    """One line of a duplicate set's evidence, in words: "email: same (ada@x.com)", "name: 94 % similar…"."""
    if method == Method.FUZZY:
        if shown_a == shown_b:
            return f"{label}: same ({shown_a})"
        if score >= 100:
            return f'{label}: same once normalised ("{shown_a}" and "{shown_b}")'
        return f'{label}: {score:.0f} % similar ("{shown_a}" and "{shown_b}")'
    if method == Method.DOMAIN:
        return f"{label}: same domain ({a})"
    if method == Method.NORMALISED and shown_a != shown_b:
        return f"{label}: same once normalised ({a})"
    return f"{label}: same ({shown_a})"
