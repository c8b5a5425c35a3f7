"""Reverts of automation runs: one per run reverted (who, why, what each action became), and batches
that revert every run of an automation in a time window ("a bad hour") in a background job."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class RunRevertBatch(models.Model):
    """All runs of one automation (optionally one version, optionally narrowed by a kind's filter such
    as one routing rule) between two times, reverted together by a background job.

    Planned first (``plan``: counts per action, conflicts, a sample), then applied in chunks; progress
    is the number of runs that have a ``RunRevert`` of this batch, so a re-enqueued job resumes with
    the runs not done yet. Its history rows are the batch's audit trail (who, why, when applied).
    """

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned (not applied)"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Reverting"
        FINISHED = "finished", "Finished"

    automation = models.ForeignKey("revops.Automation", on_delete=models.CASCADE, related_name="revert_batches")
    version = models.ForeignKey(
        "revops.AutomationVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    run_filter = models.CharField(max_length=40, blank=True, help_text="The kind's run filter (e.g. routing rule).")
    filter_value = models.CharField(max_length=120, blank=True)
    filter_label = models.CharField(max_length=200, blank=True, help_text="The filter in words, e.g. the rule's name.")
    started_from = models.DateTimeField(help_text="Runs created at or after this time…")
    until = models.DateTimeField(help_text="…and before this time.")
    reason = models.TextField(help_text="Why these runs are reverted.")
    force = models.BooleanField(default=False, help_text="Revert actions whose record changed since, too.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    plan = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its job last started or finished a chunk (the sweeper resumes a silent one).",
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "run revert batch"
        verbose_name_plural = "run revert batches"

    def __str__(self):
        return f"Revert of {self.automation} runs #{self.pk}"


class RunRevert(models.Model):
    """One revert of one run: who, why, forced or not, and one line per action (what it became and why).

    A second revert of the same run writes a second row whose lines say there was nothing left to undo.
    """

    run = models.ForeignKey("revops.AutomationRun", on_delete=models.CASCADE, related_name="reverts")
    batch = models.ForeignKey(RunRevertBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="reverts")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField()
    force = models.BooleanField(default=False)
    lines = models.JSONField(default=list, blank=True)
    reverted = models.PositiveIntegerField(default=0, help_text="How many actions this revert undid.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["batch", "run"], name="run_revert_batch_run")]

    def __str__(self):
        return f"Revert of run #{self.run_id}"
