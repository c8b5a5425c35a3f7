"""Normalisation on ingest: what a dictionary field's ``normalise`` setting does to a value.

Each normaliser takes the value the CRM sent (already a string) and returns the stored form, or
raises ``InvalidValue`` with a sentence saying what is accepted:

* ``country``: a country's English name, official name, common name or common variant ("USA",
  "U.S.", "UK", "Great Britain", "Deutschland"…), or an ISO 3166-1 alpha-2/alpha-3 code, any
  case → the alpha-2 code ("United States" → "US"). No fuzzy guessing: "Untied States" is refused.
* ``phone``: a phone number → E.164 ("+1 (415) 555-0100" → "+14155550100"); a national number
  uses the record's country as its region.
* ``email``: trimmed and lower-cased.
* ``domain``: a website or domain → its registrable domain ("https://www.Acme.co.uk/about" →
  "acme.co.uk"), using the public-suffix list bundled with ``tldextract`` (never downloaded).

Every text value is whitespace-trimmed whatever its normaliser.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

from .models.dictionary import NORMALISER_TYPES, Normaliser

__all__ = ["NORMALISER_TYPES", "InvalidValue", "normalise"]


class InvalidValue(Exception):
    """Raised by a normaliser or a coercer with a plain-language message."""


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# Variants that are neither a pycountry name nor a code, folded like ``_fold`` does.
COUNTRY_VARIANTS = {
    "america": "US",
    "us": "US",
    "usa": "US",
    "us of a": "US",
    "united states of america": "US",
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "deutschland": "DE",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "czech republic": "CZ",
    "ivory coast": "CI",
    "vatican": "VA",
    "uae": "AE",
    "emirates": "AE",
    "espana": "ES",
    "schweiz": "CH",
    "suisse": "CH",
    "osterreich": "AT",
    "turkey": "TR",
    "macedonia": "MK",
    "swaziland": "SZ",
    "burma": "MM",
    "cape verde": "CV",
    "east timor": "TL",
    "laos": "LA",
    "syria": "SY",
    "moldova": "MD",
    "tanzania": "TZ",
    "venezuela": "VE",
    "palestine": "PS",
    "brunei": "BN",
    "micronesia": "FM",
    "hong kong": "HK",
    "macau": "MO",
}

_PUNCT_RE = re.compile(r"[^\w\s]")
_SPACE_RE = re.compile(r"\s+")


def _fold(text: str) -> str:
    """Lower-case, accents and dots removed, other punctuation as spaces: "U.S." → "us", "Côte d'Ivoire" → "cote d ivoire"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().replace(".", "")
    return _SPACE_RE.sub(" ", _PUNCT_RE.sub(" ", text)).strip()


@cache
def _country_table() -> dict[str, str]:
    import pycountry

    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for name in (
            country.alpha_2,
            country.alpha_3,
            country.name,
            getattr(country, "official_name", ""),
            getattr(country, "common_name", ""),
        ):
            if name:
                table.setdefault(_fold(name), code)
        # "Korea, Republic of" is also sent as "Republic of Korea".
        if ", " in country.name:
            head, _, tail = country.name.partition(", ")
            table.setdefault(_fold(f"{tail} {head}"), code)
    table.update(COUNTRY_VARIANTS)
    return table


def normalise_country(value: str) -> str:
    code = _country_table().get(_fold(value))
    if code is None:
        raise InvalidValue(f"{_show(value)} is not a country name or ISO 3166 code")
    return code


def normalise_phone(value: str, region: str | None = None) -> str:
    import phonenumbers

    try:
        number = phonenumbers.parse(value, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        where = f" (national numbers are read as {region})" if region else ""
        raise InvalidValue(
            f"{_show(value)} is not a phone number: send it with its country code, e.g. +44 20 7946 0958{where}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    return value.strip().lower()


@cache
def _extractor():
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _registrable_of(host: str) -> str:
    return _extractor()(host).top_domain_under_public_suffix


# Remembered, as a sync repeats its companies' domains (``normalise_domain`` keeps no name longer than
# DNS allows).
_registrable = lru_cache(maxsize=20_000)(_registrable_of)


_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def normalise_domain(value: str) -> str:
    text = value.strip()
    host = _SCHEME_RE.sub("", text).split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].strip(".").lower()
    if not host or " " in host:
        registrable = ""
    else:
        registrable = (_registrable if len(host) <= 253 else _registrable_of)(host)
    if not registrable:
        raise InvalidValue(f"{_show(value)} is not a website or domain (expected e.g. acme.co.uk or https://acme.com)")
    return registrable


# normaliser -> function(value, the record's country or None)
NORMALISERS: dict[str, Callable[[str, str | None], str]] = {
    Normaliser.COUNTRY: lambda value, region: normalise_country(value),
    Normaliser.PHONE: normalise_phone,
    Normaliser.EMAIL: lambda value, region: normalise_email(value),
    Normaliser.DOMAIN: lambda value, region: normalise_domain(value),
}

# Examples shown in the dictionary admin and docs: (raw, stored).
EXAMPLES = {
    Normaliser.NONE: ("  Acme  ", "Acme"),
    Normaliser.COUNTRY: ("United States", "US"),
    Normaliser.PHONE: ("+1 (415) 555-0100", "+14155550100"),
    Normaliser.EMAIL: (" Ada@Example.COM ", "ada@example.com"),
    Normaliser.DOMAIN: ("https://www.Acme.co.uk/about", "acme.co.uk"),
}


def normalise(kind: str, value, region: str | None = None):
    """``value`` normalised by ``kind`` (a ``Normaliser``); non-text values are left to the type check."""
    if type(value) is not str:
        return value
    value = value.strip()
    function = NORMALISERS.get(kind)
    if function is None or not value:
        return value
    return function(value, region)
