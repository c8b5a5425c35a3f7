"""Kill switches: the global pause of every automation, and the events held while an automation is paused.

One automation is paused with its own fields (``Automation.paused_at``/``paused_by``/``pause_reason``);
all of them at once with the single ``AutomationSwitch`` row. Both keep history with the actor and
the reason. The services are in ``revops.engine.pause``.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class AutomationSwitch(models.Model):
    """The one "pause all automations" switch (a single row, ``pk=1``), read by the pipeline once per batch."""

    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pause_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "pause-all switch"

    def __str__(self):
        return "All automations paused" if self.paused_at else "Automations running"


class HeldEvent(models.Model):
    """An event that arrived while its automation was paused: kept until RevOps decides to process or skip it.

    One row per (automation, event). On resume each pending row gets its decision with who and
    when; processed rows then point at the run the normal pipeline made for them.
    """

    class Scope(models.TextChoices):
        AUTOMATION = "automation", "This automation was paused"
        ALL = "all", "All automations were paused"

    class Decision(models.TextChoices):
        PENDING = "pending", "Held (waiting for the resume)"
        PROCESS = "process", "Process"
        SKIP = "skip", "Skip"

    automation = models.ForeignKey("revops.Automation", on_delete=models.CASCADE, related_name="held_events")
    event = models.ForeignKey("revops.OutboxEvent", on_delete=models.CASCADE, related_name="held")
    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    external_id = models.CharField(max_length=64, blank=True)
    arrived_at = models.DateTimeField(help_text="When the event arrived (it was held instead of run).")
    held_because = models.CharField(max_length=12, choices=Scope.choices)
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey("revops.AutomationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.TextField(blank=True, help_text="What processing did, in words.")

    class Meta:
        ordering = ["arrived_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["automation", "event"], name="held_event_once")]
        indexes = [models.Index(fields=["automation", "decision"], name="held_automation_decision")]

    def __str__(self):
        return f"{self.object_type} {self.external_id or self.object_id} held for automation {self.automation_id}"
