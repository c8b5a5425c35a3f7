"""Routing and response-SLA models. The engine's start/stop SLA clock actions write ``SlaClock``."""

from django.db import models
from simple_history.models import HistoricalRecords


class SlaClock(models.Model):
    """A response clock on a lead: started at assignment, stopped by the owner's first touch.

    At most one clock runs per lead (partial unique constraint), so a repeated start is a no-op.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        MET = "met", "Met"
        BREACHED = "breached", "Breached"
        CANCELLED = "cancelled", "Cancelled"

    lead = models.ForeignKey("revops.Lead", on_delete=models.CASCADE, related_name="sla_clocks")
    owner = models.ForeignKey("revops.Rep", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy = models.CharField(max_length=120, help_text="The SLA policy that set the target.")
    target_minutes = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(db_index=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING, db_index=True)
    run = models.ForeignKey("revops.AutomationRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at"]
        verbose_name = "SLA clock"
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=models.Q(status="running"), name="sla_one_running_clock_per_lead"
            )
        ]

    def __str__(self):
        return f"{self.policy} on {self.lead_id} ({self.status})"
