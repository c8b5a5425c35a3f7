"""Integration plumbing: API tokens, sync batches and failures, idempotency, the outbox and the changes feed."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class Scope(models.TextChoices):
    SYNC_WRITE = "sync:write", "Push CRM records (sync:write)"
    READ = "read", "Read records and the changes feed (read)"
    EXCEPTIONS_WRITE = "exceptions:write", "Act on exception items (exceptions:write)"
    CONFIG_WRITE = "config:write", "Change configuration (config:write)"
    RUNS_REVERT = "runs:revert", "Revert automation runs (runs:revert)"


TOKEN_PREFIX = "rvp_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A named integration token. Only its SHA-256 is stored; the secret is shown once at creation.

    Requests made with it act as ``user`` (an inactive system login created for the token), so
    history shows which integration changed what.
    """

    name = models.CharField(max_length=100, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    prefix = models.CharField(max_length=12, db_index=True, help_text="First characters, to recognise the token.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


class SyncBatch(models.Model):
    """One ``POST /api/v1/sync/<object>/`` request that was applied (its counts and who sent it)."""

    object_type = models.CharField(max_length=20)
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="batches")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    record_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, help_text="Results per status.")
    normalised = models.JSONField(
        default=dict, blank=True, help_text="Values rewritten by a dictionary normaliser, per field key."
    )
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "sync batches"

    def __str__(self):
        return f"sync {self.object_type} #{self.pk}"


class SyncFailure(models.Model):
    """A record the CRM sent that was rejected, kept so someone accountable can review and fix it."""

    batch = models.ForeignKey(SyncBatch, null=True, on_delete=models.SET_NULL, related_name="failures")
    token = models.ForeignKey(ApiToken, null=True, on_delete=models.SET_NULL, related_name="+")
    object_type = models.CharField(max_length=20, db_index=True)
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    payload = models.JSONField()
    errors = models.JSONField(help_text="Field errors: {field: [messages]}.")
    fingerprint = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Hash of the payload and errors: a re-send is recognised."
    )
    occurrences = models.PositiveIntegerField(default=1, help_text="How often the CRM sent this record unchanged.")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.object_type} {self.external_id or '?'} rejected"


class IdempotencyRecord(models.Model):
    """The first response to a request sent with an ``Idempotency-Key`` header, replayed on retries."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    token = models.ForeignKey(ApiToken, null=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]

    def __str__(self):
        return f"{self.key} ({self.state})"


class OutboxEvent(models.Model):
    """A change to a record, written in the same transaction as the change; automations consume these."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    external_id = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=20, help_text="created or updated")
    changed_fields = models.JSONField(default=list)
    changes = models.JSONField(default=dict, help_text="{field: [old, new]} for the changed fields.")
    batch = models.ForeignKey(SyncBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the change happened in the CRM (its source_updated_at), if known."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="outbox_status_created"),
            models.Index(fields=["object_type", "object_id"], name="outbox_object"),
        ]

    def __str__(self):
        return f"{self.object_type}#{self.object_id} {self.kind}"


class ChangeEntry(models.Model):
    """One decision the CRM must apply, in a stable order (``id`` is the feed cursor)."""

    class Kind(models.TextChoices):
        OWNER_ASSIGNED = "owner_assigned", "Owner assigned"
        TASK_CREATED = "task_created", "Task created"
        TASK_CANCELLED = "task_cancelled", "Task cancelled"
        FIELD_UPDATED = "field_updated", "Field updated"
        HANDOFF_SIGNAL = "handoff_signal", "Handoff signal"
        RECORDS_MERGED = "records_merged", "Records merged"
        MERGE_UNDONE = "merge_undone", "Merge undone"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    object_type = models.CharField(max_length=20)
    external_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    reason = models.CharField(max_length=255, blank=True, help_text="Why: the automation and run, or who.")
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "change entries"
        # The dashboard's roll-up: reverts since its last run (revops.engine.metrics); only revert
        # entries are indexed, so the feed's writes do not pay for it.
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dedupe_key__startswith="revert:run:"),
                name="change_entry_reverts",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.object_type} {self.external_id}"
