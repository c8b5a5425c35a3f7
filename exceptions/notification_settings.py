"""Writes of a person's notification settings (*My notifications*) and of the portal's limits.

Each person edits only their own settings and channels; every change is a history row with the
person who made it. A channel is checked when added (the address its kind accepts) and can be
tried at once with a test notice.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from revops.audit import audited

from .channels import LOGIN_EMAIL, TRANSPORTS, Target, channel_address_clean
from .models import NotificationChannel, NotificationPreference
from .notifications import digest_hour_default
from .registry import notification_events


def _is_id(value: str) -> bool:
    return value.isdecimal() and value.isascii()


def notification_preference_of(person) -> NotificationPreference:
    """The person's settings, or the defaults (unsaved) if they never saved any: the digest at the
    portal's ``EXCEPTION_DIGEST_HOUR``, as the digest job reads it for them."""
    preference = NotificationPreference.objects.filter(person=person).first()
    if preference is None:
        preference = NotificationPreference(person=person, digest_hour=digest_hour_default())
    return preference


def notification_settings_save(
    *,
    person,
    time_zone: str,
    digest_hour: int,
    quiet_from: dt.time | None,
    quiet_until: dt.time | None,
    routes: dict[str, list],
    actor,
) -> NotificationPreference:
    """Save ``person``'s time zone, digest hour, quiet hours and routes (``{event key: ["login" | channel id, …]}``,
    an empty list meaning "nowhere"; an event left out keeps its routing, by default the login's e-mail).
    Unknown events and channels that are not the person's are dropped."""
    if time_zone:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                {"time_zone": f"{time_zone!r} is not a time zone (expected e.g. Europe/Berlin)."}
            ) from None
    if (quiet_from is None) != (quiet_until is None):
        raise ValidationError({"quiet_until": "Give both ends of the quiet hours, or neither."})
    own = set(NotificationChannel.objects.filter(person=person).values_list("pk", flat=True))
    with transaction.atomic(), audited(actor=actor, reason="notification settings"):
        preference = notification_preference_of(person)
        clean = {key: value for key, value in (preference.routes or {}).items()}
        for event in notification_events():
            if event.key not in routes:
                continue
            picked = [str(pk) for pk in routes[event.key]]
            clean[event.key] = [LOGIN_EMAIL] if LOGIN_EMAIL in picked else []
            clean[event.key] += sorted({int(pk) for pk in picked if _is_id(pk) and int(pk) in own})
        preference.time_zone = time_zone
        preference.digest_hour = digest_hour
        preference.quiet_from, preference.quiet_until = quiet_from, quiet_until
        preference.routes = clean
        preference.full_clean()
        preference.save()
    return preference


def notification_channel_add(*, person, kind: str, name: str, address: str, actor) -> NotificationChannel:
    """Add a channel for ``person``; the address must be what its kind accepts (``ValidationError`` says what)."""
    try:
        address = channel_address_clean(kind, address)
    except ValidationError as exc:
        raise ValidationError({"address": exc.messages}) from None
    channel = NotificationChannel(person=person, kind=kind, name=(name or "").strip(), address=address)
    channel.full_clean()
    with transaction.atomic(), audited(actor=actor, reason="notification channel added"):
        channel.save()
    return channel


def notification_channel_remove(*, channel: NotificationChannel, actor) -> None:
    """Remove a channel; routes that named it simply no longer reach it."""
    with transaction.atomic(), audited(actor=actor, reason="notification channel removed"):
        channel.delete()


def notification_channel_try(*, channel: NotificationChannel) -> str:
    """Send a test notice to ``channel`` now. Returns "" when it went, else what went wrong; the channel
    keeps the outcome like a real notice."""
    person = channel.person
    target = Target(channel.kind, channel.name, channel.address or person.email, channel.pk)
    now = timezone.now()
    text = (
        f"This is a test notice from the RevOps portal for {person.get_full_name() or person.get_username()}.\n"
        "Notices you route to this channel will arrive here."
    )
    try:
        if not target.address:
            raise RuntimeError("your login has no e-mail address")
        TRANSPORTS[channel.kind](target, "RevOps portal: test notice", text, "")
    except Exception as exc:  # noqa: BLE001 - the person reads what went wrong
        NotificationChannel.objects.filter(pk=channel.pk).update(last_failed_at=now, last_error=str(exc)[:300])
        return str(exc)[:300] or exc.__class__.__name__
    NotificationChannel.objects.filter(pk=channel.pk).update(last_sent_at=now)
    return ""
