"""Where a person's notices go: their channels for each kind of notice, their quiet hours and local
time, and the transports that carry a notice to e-mail, Slack, Microsoft Teams or a webhook.

A person without settings gets every notice by e-mail at their login's address, as before channels
existed. With settings (*My notifications*), each kind of notice goes to the channels they ticked
for it, or nowhere if they ticked none. E-mail goes through Django's mail settings; Slack, Teams
and webhooks through apprise (a Slack incoming-webhook URL, a Teams *Workflows* webhook URL, or any
URL that takes apprise's JSON post). ``TRANSPORTS`` maps a channel kind to its sender, so tests can
put a fake in.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import zoneinfo
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import URLValidator, validate_email

from revops.timezones import zone_named

from .models import NotificationChannel, NotificationPreference

logger = logging.getLogger(__name__)

Kind = NotificationChannel.Kind


@dataclass(frozen=True)
class Target:
    """One place a notice is sent: a saved channel, or the login's e-mail for a person without settings."""

    kind: str
    name: str
    address: str
    channel_id: int | None = None

    @property
    def label(self) -> str:
        return "E-mail" if self.channel_id is None else f"{Kind(self.kind).label}: {self.name}"


def preference_of(person) -> NotificationPreference | None:
    return NotificationPreference.objects.filter(person=person).first()


def person_zone(person, preference: NotificationPreference | None = None) -> zoneinfo.ZoneInfo:
    """The time zone a person's digest and quiet hours are read in: theirs if set, else their Rep
    record's, else the portal's ``TIME_ZONE``."""
    rep = getattr(person, "rep", None) if person is not None else None
    for name in (preference.time_zone if preference else "", getattr(rep, "time_zone", "")):
        zone = zone_named(name)
        if zone is not None:
            return zone
    return zone_named(settings.TIME_ZONE) or dt.UTC


LOGIN_EMAIL = "login"  # in ``routes``: the login's own e-mail address, which is not a saved channel


def targets_for(person, event: str, preference: NotificationPreference | None = None) -> tuple[list[Target], bool]:
    """The places ``person`` gets notices of kind ``event``, and whether they chose them (True) or
    fell back to their login's e-mail (False)."""
    if preference is None or event not in (preference.routes or {}):
        return ([Target(Kind.EMAIL, "E-mail", person.email)] if person.email else []), False
    wanted = set(map(str, preference.routes[event]))
    targets = [Target(Kind.EMAIL, "E-mail", person.email)] if LOGIN_EMAIL in wanted and person.email else []
    ids = {int(pk) for pk in wanted if pk.isdecimal() and pk.isascii()}
    if ids:
        channels = NotificationChannel.objects.filter(person=person, is_active=True, pk__in=ids).order_by("pk")
        targets += [
            Target(c.kind, c.name, c.address or person.email, c.pk) for c in channels if c.address or person.email
        ]
    seen, unique = set(), []
    for target in targets:  # one address ticked twice (the login's e-mail and an e-mail channel) gets one copy
        if (target.kind, target.address.lower()) not in seen:
            seen.add((target.kind, target.address.lower()))
            unique.append(target)
    return unique, True


def quiet_until(person, now: dt.datetime, preference: NotificationPreference | None = None) -> dt.datetime | None:
    """When the person's quiet hours end, if ``now`` is inside them; None otherwise."""
    if preference is None or preference.quiet_from is None or preference.quiet_until is None:
        return None
    start, end = preference.quiet_from, preference.quiet_until
    if start == end:
        return None
    zone = person_zone(person, preference)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    # The wall-clock end in the person's zone, in UTC. In the hour a DST change repeats, the first
    # reading of the end may already be past: the second one is the end.
    for fold in (0, 1):
        until = dt.datetime.combine(day, end, tzinfo=zone).replace(fold=fold).astimezone(dt.UTC)
        if until > now:
            return until
    return None


def channel_address_clean(kind: str, address: str) -> str:
    """The address a channel of ``kind`` may have, stripped; raises ``ValidationError`` saying what is accepted."""
    address = (address or "").strip()
    if kind == Kind.EMAIL:
        if address:
            validate_email(address)
        return address
    if not address:
        raise ValidationError("Paste the incoming webhook's URL.")
    try:
        URLValidator(schemes=["https", "http"])(address)
    except ValidationError:
        raise ValidationError("Expected a URL starting with https:// (http:// only inside your network).") from None
    if kind == Kind.WEBHOOK and not _internal_allowed() and internal_address(address):
        raise ValidationError(
            "The portal does not post to addresses inside its own network; use the receiver's public address "
            "(RevOps can allow internal ones with NOTIFICATION_WEBHOOKS_INTERNAL=1)."
        )
    if kind == Kind.SLACK and not address.startswith("https://hooks.slack.com/"):
        raise ValidationError("Expected a Slack incoming webhook: https://hooks.slack.com/services/…")
    import apprise  # here, not at the top: 17 MB that only channel checks and sends need

    if kind in (Kind.SLACK, Kind.TEAMS) and not apprise.Apprise().add(address):
        where = "Slack incoming webhook" if kind == Kind.SLACK else "Teams Workflows webhook (…/workflows/…/invoke?…)"
        raise ValidationError(f"This is not a {where} URL.")
    return address


def internal_address(url: str) -> bool:
    """Whether ``url``'s host is (or resolves to) an address inside the portal's own network: loopback,
    private, link-local (cloud metadata), reserved. A host that does not resolve is not internal."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, None)]
        except (OSError, UnicodeError, ValueError):
            return False
    return any(
        a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_multicast or a.is_unspecified
        for a in addresses
    )


def _internal_allowed() -> bool:
    return bool(getattr(settings, "NOTIFICATION_WEBHOOKS_INTERNAL", False))


def apprise_url(target: Target) -> str:
    """The apprise URL for a Slack, Teams or webhook target: the native URL for Slack and Teams,
    ``jsons://`` (``json://`` for http) for a webhook, its query parameters passed on as apprise's
    ``-name=value`` (apprise would read plain ones as its own options)."""
    if target.kind != Kind.WEBHOOK:
        return target.address
    parts = urlsplit(target.address)
    scheme = "jsons" if parts.scheme == "https" else "json"
    query = urlencode([(f"-{name}", value) for name, value in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((scheme, parts.netloc, parts.path or "/", query, ""))


def send_email(target: Target, subject: str, text: str, html: str) -> None:
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[target.address]
    )
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


def send_apprise(target: Target, subject: str, text: str, html: str) -> None:
    if target.kind == Kind.WEBHOOK and not _internal_allowed() and internal_address(target.address):
        raise RuntimeError("the address is inside the portal's own network (NOTIFICATION_WEBHOOKS_INTERNAL is off)")
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(apprise_url(target)):
        raise RuntimeError("the channel's URL is not one the portal can send to")
    with apprise.LogCapture(level=logging.WARNING) as log:
        ok = notifier.notify(title=subject, body=text, body_format=apprise.NotifyFormat.TEXT)
    if not ok:
        raise RuntimeError((log.getvalue().strip().splitlines() or ["the receiver refused the notice"])[-1])


TRANSPORTS = {Kind.EMAIL: send_email, Kind.SLACK: send_apprise, Kind.TEAMS: send_apprise, Kind.WEBHOOK: send_apprise}
