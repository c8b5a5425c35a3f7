"""Numbered versions of configuration objects and numbered releases of the whole configuration."""

from django.conf import settings
from django.db import models


class ObjectVersion(models.Model):
    """One saved state of a versioned configuration object (a routing rule, a pool, a queue…).

    ``data`` is the object's snapshot as its registration in ``revops.versions`` takes it (its
    fields and, for a pool, its members); ``number`` counts from 1 per object and is mirrored in
    the object's ``version`` field. Versions are never rewritten: restoring an old one records a
    new version whose ``restored_from`` names it.
    """

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    object_repr = models.CharField(max_length=200, help_text="The object's name when this version was saved.")
    number = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    restored_from = models.PositiveIntegerField(
        null=True, blank=True, help_text="The earlier version this one restored, if it is a restore."
    )

    class Meta:
        ordering = ["content_type", "object_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id", "number"], name="object_version_unique")
        ]

    def __str__(self):
        return f"{self.object_repr} v{self.number}"


class ConfigRelease(models.Model):
    """One applied configuration-as-code document: what the whole configuration was right after it.

    ``document`` is the full export after the apply (so any two releases can be compared, and a
    release can be rolled back to by applying it again); ``summary`` counts what the apply changed
    and ``changes`` lists it. ``rolled_back_to`` names the release whose document a rollback applied.
    """

    number = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=200, help_text="Where the document came from (a file name, api, admin).")
    reason = models.CharField(max_length=300, blank=True)
    document = models.JSONField(default=dict)
    summary = models.CharField(max_length=300, blank=True)
    changes = models.JSONField(default=list, blank=True)
    rolled_back_to = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = "configuration release"

    def __str__(self):
        return f"Release {self.number}"
