"""Shapes of the kill-switch API: requests (a reason, the decision on held events) and the switch states."""

from __future__ import annotations

from rest_framework import serializers

from revops.models import Automation, HeldEvent

from ..pause import Pause, automation_pause_state, person


class StrictCharField(serializers.CharField):
    """Text only: a number or a list is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Give the reason as text.")
        return super().to_internal_value(data)


class PauseRequestSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=2000, help_text="Why (required); kept in the history with your name.")


class ResumeRequestSerializer(PauseRequestSerializer):
    held = serializers.ChoiceField(
        choices=[("process", "process"), ("skip", "skip")],
        help_text="What happens to the events held while paused: `process` runs each through the automation "
        "(in the background), `skip` runs none; each event records the decision, who and when.",
    )


class PauseSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=HeldEvent.Scope.choices, help_text="`automation`: its own switch; `all`: the pause-all switch."
    )
    by = serializers.CharField(help_text="Who paused, by name.")
    at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    sentence = serializers.CharField(help_text="The pause in words.")


def pause_data(pause: Pause | None, name: str = "") -> dict | None:
    if pause is None:
        return None
    return {
        "scope": pause.scope,
        "by": pause.by,
        "at": pause.at,
        "reason": pause.reason,
        "sentence": pause.sentence(name),
    }


class AutomationSwitchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mode = serializers.CharField(help_text="draft, shadow, live, paused (switched off) or retired; a pause keeps it.")
    paused = serializers.BooleanField(help_text="Whether this automation's own switch is on.")
    paused_by = serializers.CharField(allow_null=True)
    paused_at = serializers.DateTimeField(allow_null=True)
    pause_reason = serializers.CharField(allow_blank=True)
    effective_pause = PauseSerializer(
        allow_null=True, help_text="Why it does not run now (its own switch, else the pause-all one); null: it runs."
    )
    held_events = serializers.IntegerField(help_text="Events held while paused and still waiting for a decision.")


def automation_switch_data(automation: Automation, *, switch: Pause | None, held: int) -> dict:
    return {
        "id": automation.pk,
        "name": automation.name,
        "mode": automation.mode,
        "paused": automation.paused_at is not None,
        "paused_by": person(automation.paused_by) if automation.paused_at else None,
        "paused_at": automation.paused_at,
        "pause_reason": automation.pause_reason,
        "effective_pause": pause_data(automation_pause_state(automation, switch), automation.name),
        "held_events": held,
    }


class SwitchResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField(
        help_text="False when the switch already was in that position (nothing changed)."
    )
    message = serializers.CharField(help_text="What happened, in words.")
    held_decided = serializers.IntegerField(help_text="Held events that got the decision now.")
    automation = AutomationSwitchSerializer(required=False, help_text="For one automation: its state now.")
    all_paused = PauseSerializer(allow_null=True, required=False, help_text="For pause-all: the switch now.")


class SwitchesSerializer(serializers.Serializer):
    all_paused = PauseSerializer(allow_null=True, help_text="The pause-all switch; null when automations run.")
    held_events = serializers.IntegerField(help_text="Events held and waiting for a decision, all automations.")
    paused = AutomationSwitchSerializer(many=True, help_text="The automations paused on their own.")
