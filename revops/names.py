"""Names and domains as matching compares them: free-mail domains, public second-level domains,
legal suffixes, ``normalise_domain``, ``email_domain``, ``company_key`` ("Acme, Inc." == "ACME Inc").

Pure functions over text, no database, in the core because two workflow apps compare names:
routing's account index (``routing.matching``) and the duplicate rules (``dataquality``).
The free-mail list is ``revops/freemail.txt``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

# --------------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------------

FREE_MAIL_FILE = Path(__file__).with_name("freemail.txt")


def _load_domain_list(path: Path) -> frozenset[str]:
    """Read a one-domain-per-line file; ``#`` starts a comment, blank lines are ignored."""
    domains = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            domains.add(entry)
    return frozenset(domains)


FREE_MAIL_DOMAINS: frozenset[str] = _load_domain_list(FREE_MAIL_FILE)

# Second-level labels under which anyone can register (``acme.co.uk``). Stripping subdomains stops
# before these, so ``eu.acme.co.uk`` is tried as ``acme.co.uk`` but never as ``co.uk``. A short list
# of the common ones, not the full Public Suffix List.
PUBLIC_SECOND_LEVEL_DOMAINS: frozenset[str] = frozenset(
    """
    ac.uk co.uk gov.uk ltd.uk me.uk net.uk nhs.uk org.uk plc.uk sch.uk
    ac.jp co.jp go.jp ne.jp or.jp
    com.au edu.au gov.au net.au org.au
    ac.nz co.nz govt.nz net.nz org.nz
    co.za org.za
    com.br gov.br net.br org.br
    com.mx gob.mx org.mx
    com.ar com.co com.ec com.pe com.uy
    com.cn gov.cn net.cn org.cn com.hk com.tw com.sg com.my com.ph com.vn com.pk
    co.id co.in firm.in gen.in net.in org.in co.kr or.kr co.th ac.th
    ac.il co.il org.il com.tr com.ua com.sa com.eg com.ng co.ke
    """.split()
)

# Website hosts shared by many unrelated companies (social profiles, site builders): an account's
# website on one of them says nothing about its domain, so it is not indexed.
SHARED_WEBSITE_HOSTS: frozenset[str] = frozenset(
    """
    facebook.com linkedin.com twitter.com x.com instagram.com youtube.com google.com sites.google.com
    github.com github.io wordpress.com blogspot.com wixsite.com squarespace.com medium.com
    """.split()
)

# Legal-form words dropped from the end of company names (after punctuation is removed, so
# "L.L.C." arrives as "llc"). Multi-word forms ("pty ltd", "gmbh & co kg") fall off word by word;
# a trailing "and" left behind ("Smith & Co") goes too. "group" and "holdings" are kept: they tell
# apart real, different companies.
LEGAL_SUFFIXES: frozenset[str] = frozenset(
    """
    inc incorporated llc ltd limited gmbh ag sa sas sarl bv nv plc pty co corp corporation company
    kg kgaa oy oyj ab as asa aps spa srl kk pte pvt llp lp se ltda sl sro sdn bhd
    """.split()
)
_TRAILING_DROPPABLE = LEGAL_SUFFIXES | {"and"}


# --------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://")
_HOST_END_RE = re.compile(r"[/?#\\]")
_DOMAIN_RE = re.compile(r"(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})")
_APOSTROPHES_RE = re.compile(r"['’`´]")
_INITIALISM_RE = re.compile(r"(?<!\S)(?:\w\.)+\w?(?!\S)")  # "l.l.c.", "j.p.", "s.a"
_NON_WORD_RE = re.compile(r"[\W_]+")


def normalise_domain(value: str) -> str:
    """The bare, lower-case domain of a URL, domain or e-mail address; ``""`` when there is none.

    Strips a scheme (``https://``, ``mailto:``), user info, ``www.``, the path, query, port and a
    trailing dot; internationalised names become their ASCII (punycode) form. Junk (no dot, spaces,
    IP addresses, invalid labels) gives ``""``.
    """
    if not value:
        return ""
    if _DOMAIN_RE.fullmatch(value) and not value.startswith("www."):
        return value  # already normalised: the common case for stored and e-mail domains
    text = str(value).strip().strip("<>\"' \t").lower()
    if text.startswith("mailto:"):
        text = text[7:]
    scheme = _SCHEME_RE.match(text)
    if scheme:
        text = text[scheme.end() :]
    elif text.startswith("//"):
        text = text[2:]
    text = _HOST_END_RE.split(text, 1)[0]
    text = text.rpartition("@")[2]  # e-mail address, or user info in a URL
    text = text.split(":", 1)[0].strip().rstrip(".")
    if text.startswith("www.") and "." in text[4:]:
        text = text[4:]
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    return text if _DOMAIN_RE.fullmatch(text) else ""


def email_domain(email: str) -> str:
    """The normalised domain of an e-mail address (``"Bob <bob@EU.Acme.com>"`` → ``"eu.acme.com"``); ``""`` if none."""
    if not email or "@" not in email:
        return ""
    return normalise_domain(email.rpartition("@")[2])


def _join_initials(tokens: list[str]) -> list[str]:
    """Join runs of one-character tokens: "j p morgan" → "jp morgan", "l l c" → "llc"."""
    joined: list[str] = []
    run = ""
    for token in tokens:
        if len(token) == 1:
            run += token
            continue
        if run:
            joined.append(run)
            run = ""
        joined.append(token)
    if run:
        joined.append(run)
    return joined


def company_key(name: str) -> str:
    """A comparison key for a company name: "Acme, Inc." == "ACME Inc" == "acme"; "Müller GmbH" → "muller".

    Lower-case with accents folded; apostrophes dropped, dots dropped inside initialisms ("L.L.C."),
    other punctuation read as a space, and runs of single letters joined (so "A.C.M.E.", "J. P.
    Morgan" and "JP Morgan" come out as "acme", "jp morgan", "jp morgan"); ``&`` → "and"; a leading
    "the" and trailing legal forms (``LEGAL_SUFFIXES``, repeatedly) removed; at least one word is
    always kept ("The Company" → "company").
    """
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _APOSTROPHES_RE.sub("", text.replace("&", " and "))
    text = _INITIALISM_RE.sub(lambda m: m.group().replace(".", ""), text)
    tokens = _join_initials(_NON_WORD_RE.sub(" ", text).split())
    while len(tokens) > 1 and tokens[0] == "the":
        del tokens[0]
    while len(tokens) > 1 and tokens[-1] in _TRAILING_DROPPABLE:
        tokens.pop()
    return " ".join(tokens)


def domain_chain(domain: str) -> Iterator[str]:
    """``domain``, then its parent domains while at least two labels remain and the rest is not a
    public second level: eu.acme.co.uk → eu.acme.co.uk, acme.co.uk."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:]) if start else domain
        if candidate in PUBLIC_SECOND_LEVEL_DOMAINS:
            return
        yield candidate


def is_free_mail_normalised(domain: str) -> bool:
    return any(candidate in FREE_MAIL_DOMAINS for candidate in domain_chain(domain))


def is_free_mail(domain: str) -> bool:
    """Whether ``domain`` (or URL or e-mail address) belongs to a free/consumer mail provider, subdomains included."""
    normalised = normalise_domain(domain)
    return bool(normalised) and is_free_mail_normalised(normalised)
