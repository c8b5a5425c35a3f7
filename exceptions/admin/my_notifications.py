"""*My notifications*: where each signed-in person chooses how the portal reaches them.

One page for every staff login (reps, managers, RevOps): their channels (their login's e-mail,
other e-mail addresses, Slack, Microsoft Teams, webhooks) with a *Send a test* button, a table of
kinds of notice × channels to tick, the time zone their digest and quiet hours are read in, the
hour of their daily digest, their quiet hours, and the last notices the portal sent them. The page
only validates input and calls ``exceptions.notification_settings``.
"""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from revops.access import user_role
from revops.values import datetime_text

from ..channels import LOGIN_EMAIL, person_zone, targets_for
from ..models import Notification, NotificationChannel
from ..notification_settings import (
    notification_channel_add,
    notification_channel_remove,
    notification_channel_try,
    notification_preference_of,
    notification_settings_save,
)
from ..registry import notification_events

RECENT = 20


def _zone_choices(current: str) -> list[tuple[str, str]]:
    return [
        ("", f"My Rep record's, else the portal's ({current})"),
        *((z, z) for z in sorted(zoneinfo.available_timezones())),
    ]


class SettingsForm(forms.Form):
    time_zone = forms.ChoiceField(required=False, label="Time zone")
    digest_hour = forms.TypedChoiceField(
        coerce=int, choices=[(h, f"{h:02d}:00") for h in range(24)], label="Daily digest at"
    )
    quiet_from = forms.TimeField(required=False, label="Quiet from", widget=forms.TimeInput(attrs={"type": "time"}))
    quiet_until = forms.TimeField(required=False, label="until", widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args, zone_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _zone_choices(zone_name)


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(choices=NotificationChannel.Kind.choices, label="Kind")
    name = forms.CharField(max_length=80, label="Name", widget=forms.TextInput(attrs={"placeholder": "#east-alerts"}))
    address = forms.CharField(
        max_length=500,
        required=False,
        label="Address or webhook URL",
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "https://hooks.slack.com/services/…"}),
    )


def _when(value) -> str:
    return datetime_text(value) if value else "—"


def _masked(channel: NotificationChannel) -> str:
    """An address as the page shows it: a webhook URL's secret part hidden."""
    if channel.kind == NotificationChannel.Kind.EMAIL or not channel.address:
        return channel.address or "(your login's address)"
    scheme, _, rest = channel.address.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/…"


def _context(request, settings_form, channel_form):
    person = request.user
    preference = notification_preference_of(person)
    channels = list(NotificationChannel.objects.filter(person=person).order_by("kind", "name", "pk"))
    columns = [{"key": LOGIN_EMAIL, "label": "My login's e-mail", "detail": person.email or "no address"}]
    columns += [
        {"key": str(c.pk), "label": c.name, "detail": c.get_kind_display(), "inactive": not c.is_active}
        for c in channels
    ]
    rows = []
    for event in _events_for(person):
        targets, _ = targets_for(person, event.key, preference if preference.pk else None)
        on = {LOGIN_EMAIL if t.channel_id is None else str(t.channel_id) for t in targets}
        if preference.pk and event.key in (preference.routes or {}):
            on = {str(v) for v in preference.routes[event.key]}
        rows.append(
            {
                "event": event,
                "cells": [{"value": f"{event.key}|{col['key']}", "on": col["key"] in on} for col in columns],
            }
        )
    zone = person_zone(person, preference if preference.pk else None)
    recent = Notification.objects.filter(recipient=person).order_by("-sent_at", "-pk")[:RECENT]
    with timezone.override(zone):
        when = {n.pk: _when(n.sent_at) for n in recent}
        until = {n.pk: _when(n.deliver_after) for n in recent}
        sent = {c.pk: _when(c.last_sent_at) for c in channels}
        failed = {c.pk: _when(c.last_failed_at) for c in channels}
    return {
        **admin.site.each_context(request),
        "title": "My notifications",
        "settings_form": settings_form,
        "channel_form": channel_form,
        "channels": [
            {"channel": c, "address": _masked(c), "sent": sent[c.pk], "failed": failed[c.pk]} for c in channels
        ],
        "columns": columns,
        "rows": rows,
        "zone": zone,
        "recent": [{"note": n, "when": when[n.pk], "until": until[n.pk]} for n in recent],
    }


def _settings_form(request, data=None):
    preference = notification_preference_of(request.user)
    zone_name = str(person_zone(request.user, None))
    initial = {
        "time_zone": preference.time_zone,
        "digest_hour": preference.digest_hour,
        "quiet_from": preference.quiet_from,
        "quiet_until": preference.quiet_until,
    }
    return SettingsForm(data, initial=initial, zone_name=zone_name)


def _events_for(person):
    role = user_role(person)
    return [e for e in notification_events() if e.for_role(role)]


def _routes(post, person) -> dict[str, list[str]]:
    """The ticked boxes of the kinds of notice the page showed (the others keep their routing)."""
    routes: dict[str, list[str]] = {event.key: [] for event in _events_for(person)}
    for value in post.getlist("route"):
        event, _, target = value.partition("|")
        if event in routes:
            routes[event].append(target)
    return routes


@require_http_methods(["GET", "POST"])
def my_notifications_view(request):
    """The page (GET) and its four actions (POST ``action``: save, add, remove, test)."""
    person = request.user
    here = reverse("my-notifications")
    settings_form, channel_form = _settings_form(request), ChannelForm()
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "save":
            settings_form = _settings_form(request, request.POST)
            if settings_form.is_valid():
                data = settings_form.cleaned_data
                try:
                    notification_settings_save(
                        person=person,
                        time_zone=data["time_zone"],
                        digest_hour=data["digest_hour"],
                        quiet_from=data["quiet_from"],
                        quiet_until=data["quiet_until"],
                        routes=_routes(request.POST, person),
                        actor=person,
                    )
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        settings_form.add_error(field if field in settings_form.fields else None, errors)
                else:
                    messages.success(request, "Your notification settings are saved.")
                    return HttpResponseRedirect(here)
        elif action == "add":
            channel_form = ChannelForm(request.POST)
            if channel_form.is_valid():
                try:
                    channel = notification_channel_add(person=person, actor=person, **channel_form.cleaned_data)
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        channel_form.add_error(field if field in channel_form.fields else None, errors)
                else:
                    messages.success(
                        request, f"{channel} is added. Tick the notices it should get, then save, or send it a test."
                    )
                    return HttpResponseRedirect(here)
        elif action in ("remove", "test"):
            raw = request.POST.get("channel") or ""
            if not (raw.isdecimal() and raw.isascii()):
                raise Http404("No such channel of yours.")
            channel = get_object_or_404(NotificationChannel, pk=int(raw), person=person)
            if action == "remove":
                notification_channel_remove(channel=channel, actor=person)
                messages.success(request, f"{channel} is removed.")
            else:
                error = notification_channel_try(channel=channel)
                if error:
                    messages.error(request, f"The test notice to {channel} did not go: {error}")
                else:
                    messages.success(request, f"A test notice went to {channel}.")
            return HttpResponseRedirect(here)
        else:
            messages.error(request, "Nothing was changed: the form did not say what to do.")
            return HttpResponseRedirect(here)
    return TemplateResponse(
        request, "admin/exceptions/my_notifications.html", _context(request, settings_form, channel_form)
    )
