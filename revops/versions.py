"""Versions of configuration objects: a number per saved change, snapshots, and "restore this version".

Each app registers the models it owns in its ``AppConfig.ready()`` with ``register_versioned``
(the core never imports an app). From then on every saved change of such an object — and of its
registered children, e.g. a pool's members — records an ``ObjectVersion`` with a snapshot, the
actor and the reason of the surrounding ``audited`` block, and mirrors the number in the object's
``version`` field. All saves inside one ``audited`` block (one service call, one admin save with
its inlines, one configuration apply) make one version per object; a save that changes nothing
makes none.

``version_restore`` puts an old snapshot back through the object's own service (the same
validation as an edit), which records a *new* version naming the one it restored; history is
never rewritten. The words of a diff are in ``revops.version_words``.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from .audit import audited, current
from .models import ObjectVersion

# Bookkeeping fields no version shows: timestamps, the counter itself, what is derived from other fields.
# Not configuration: bookkeeping, and the kill switch (revops/engine/pause.py), which is operated on its
# own (pausing is not a new version, and restoring a version neither pauses nor resumes).
ALWAYS_EXCLUDED = ("id", "version", "created_at", "updated_at", "fields_used", "paused_at", "paused_by", "pause_reason")


@dataclass(frozen=True)
class Child:
    """Rows that belong to a versioned object (a pool's members): part of its snapshot, in ``order``."""

    model: type[models.Model]
    parent_field: str
    label: str
    order: tuple[str, ...] = ("pk",)
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Versioned:
    """A registered model: how to snapshot it, label it and restore it.

    ``restore(obj, data, *, actor, reason)`` writes the snapshot ``data`` back through the app's
    service and raises ``ValidationError`` when it is no longer valid. ``counter`` names the field
    mirroring the version number (None: the model keeps its own, as automations keep their rule
    version). ``conditions`` maps JSON fields holding condition trees to their object type, so
    diffs read them in words; ``describe(name, value)`` may render any other value (None: default).
    """

    model: type[models.Model]
    label: str
    restore: Callable[..., Any]
    children: tuple[Child, ...] = ()
    exclude: tuple[str, ...] = ()
    counter: str | None = "version"
    conditions: dict[str, str] = field(default_factory=dict)
    describe: Callable[[str, Any], str | None] | None = None

    def fields(self) -> list[models.Field]:
        skip = {*ALWAYS_EXCLUDED, *self.exclude}
        return [f for f in self.model._meta.concrete_fields if f.name not in skip]


_REGISTRY: dict[type[models.Model], Versioned] = {}
_CHILDREN: dict[type[models.Model], tuple[Versioned, Child]] = {}


def register_versioned(
    model: type[models.Model],
    *,
    label: str,
    restore: Callable[..., Any],
    children: tuple[Child, ...] = (),
    exclude: tuple[str, ...] = (),
    counter: str | None = "version",
    conditions: dict[str, str] | None = None,
    describe: Callable[[str, Any], str | None] | None = None,
) -> Versioned:
    """Version ``model`` (idempotent): every saved change records a numbered snapshot."""
    spec = Versioned(model, label, restore, children, exclude, counter, dict(conditions or {}), describe)
    _REGISTRY[model] = spec
    uid = f"revops.versions:{model._meta.label}"
    post_save.connect(_on_save, sender=model, dispatch_uid=uid)
    for child in children:
        _CHILDREN[child.model] = (spec, child)
        post_save.connect(_on_child_change, sender=child.model, dispatch_uid=f"{uid}:{child.model._meta.label}")
        post_delete.connect(_on_child_change, sender=child.model, dispatch_uid=f"{uid}:{child.model._meta.label}:del")
    return spec


def versioned(model_or_obj) -> Versioned | None:
    """The registration of a model (or of an object's model), None when it is not versioned."""
    model = model_or_obj if isinstance(model_or_obj, type) else type(model_or_obj)
    return _REGISTRY.get(model._meta.concrete_model)


def versioned_models() -> list[Versioned]:
    return sorted(_REGISTRY.values(), key=lambda spec: spec.label)


# --- snapshots ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _row(obj: models.Model, fields: list[models.Field]) -> dict[str, Any]:
    return {f.name: _plain(f.value_from_object(obj)) for f in fields}


def child_fields(child: Child) -> list[models.Field]:
    skip = {*ALWAYS_EXCLUDED, child.parent_field, *child.exclude}
    return [f for f in child.model._meta.concrete_fields if f.name not in skip]


def snapshot(obj: models.Model, spec: Versioned | None = None) -> dict[str, Any]:
    """The object's versioned state: ``{"fields": {...}, "<child label>": [{...}, …]}`` (ids for references)."""
    spec = spec or versioned(obj)
    data: dict[str, Any] = {"fields": _row(obj, spec.fields())}
    for child in spec.children:
        rows = child.model._default_manager.filter(**{child.parent_field: obj.pk}).order_by(*child.order)
        data[child.label] = [_row(row, child_fields(child)) for row in rows]
    return data


# --- recording ------------------------------------------------------------------------------------


def _record(obj: models.Model, spec: Versioned) -> ObjectVersion | None:
    """Record ``obj``'s state as a new version (or fold it into this audited block's version)."""
    ctx = current()
    content_type = ContentType.objects.get_for_model(spec.model)
    key = (content_type.pk, obj.pk)
    data = snapshot(obj, spec)
    pending: ObjectVersion | None = ctx.versions.get(key) if ctx is not None else None
    if pending is not None:
        pending.data, pending.object_repr = data, str(obj)[:200]
        # 0 rows: a savepoint that failed rolled the version back; record it anew below.
        if ObjectVersion.objects.filter(pk=pending.pk).update(data=data, object_repr=pending.object_repr):
            return pending
    latest = ObjectVersion.objects.filter(content_type=content_type, object_id=obj.pk).order_by("-number").first()
    if latest is not None and latest.data == data:
        return None
    actor = getattr(ctx, "actor", None)
    version = ObjectVersion.objects.create(
        content_type=content_type,
        object_id=obj.pk,
        object_repr=str(obj)[:200],
        number=(latest.number if latest else 0) + 1,
        data=data,
        created_by=actor if getattr(actor, "pk", None) else None,
        reason=getattr(ctx, "reason", "") or "",
    )
    if spec.counter:
        spec.model._default_manager.filter(pk=obj.pk).update(**{spec.counter: version.number})
        setattr(obj, spec.counter, version.number)
    if ctx is not None:
        ctx.versions[key] = version
    return version


def _on_save(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw:
        return
    spec = versioned(sender)
    if spec is None:
        return
    if update_fields is not None and not {f.name for f in spec.fields()} & set(update_fields):
        return  # e.g. a pool's round-robin pointer: not part of the configuration
    _record(instance, spec)


def _on_child_change(sender, instance, raw=False, **kwargs):
    if raw or sender not in _CHILDREN:
        return
    spec, child = _CHILDREN[sender]
    parent_id = getattr(instance, f"{child.parent_field}_id", None)
    parent = spec.model._default_manager.filter(pk=parent_id).first() if parent_id else None
    if parent is not None:  # None: the parent itself is being deleted
        _record(parent, spec)


# --- reading --------------------------------------------------------------------------------------


def versions_of(obj: models.Model):
    """The object's versions, newest first."""
    content_type = ContentType.objects.get_for_model(type(obj)._meta.concrete_model)
    return ObjectVersion.objects.filter(content_type=content_type, object_id=obj.pk).select_related("created_by")


def version_of(obj: models.Model, number: int) -> ObjectVersion | None:
    return versions_of(obj).filter(number=number).first()


# --- restoring ------------------------------------------------------------------------------------


def can_restore(user, model: type[models.Model]) -> bool:
    """Restoring is editing: it needs the model's change permission (managers do not have it for rules)."""
    opts = model._meta
    return bool(user and user.is_active and user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))


def apply_fields(obj: models.Model, values: dict[str, Any], spec: Versioned) -> list[str]:
    """Set ``obj``'s versioned fields from a snapshot's ``fields``; return the names that differ."""
    changed = []
    for f in spec.fields():
        if f.name not in values:
            continue
        value = values[f.name]
        if value is not None and not f.is_relation:
            value = f.to_python(value)
        current_value = f.value_from_object(obj)
        if current_value != value:
            setattr(obj, f.attname, value)
            changed.append(f.name)
    return changed


@transaction.atomic
def version_restore(*, obj: models.Model, number: int, actor, reason: str) -> ObjectVersion:
    """Make version ``number`` of ``obj`` current again, as a new version; return that new version.

    The snapshot goes through the object's own service (the registered ``restore``), so it is
    validated as an edit would be: a version naming a rep who has left, or a queue that no longer
    exists, is refused with the service's message and nothing changes. ``reason`` is required; the
    new version and the history rows say who restored which version and why.
    """
    spec = versioned(obj)
    if spec is None:
        raise ValidationError(f"{type(obj)._meta.verbose_name} objects have no versions.")
    if not can_restore(actor, spec.model):
        raise PermissionDenied(f"Restoring a {spec.label} needs permission to change {spec.label}s.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why you restore this version (the reason is kept with it)."})
    old = version_of(obj, number)
    if old is None:
        raise ValidationError({"version": f"{spec.label.capitalize()} {obj} has no version {number}."})
    locked = spec.model._default_manager.select_for_update().get(pk=obj.pk)
    if snapshot(locked, spec) == old.data:
        raise ValidationError({"version": f"Version {number} is the same as the current one: nothing to restore."})
    text = f"restored version {number}: {reason}"
    with audited(actor=actor, reason=text[:100]):
        spec.restore(locked, old.data, actor=actor, reason=text[:100])
        ctx = current()
        content_type = ContentType.objects.get_for_model(spec.model)
        made = ctx.versions.get((content_type.pk, locked.pk))
    if made is None:
        raise ValidationError({"version": f"Restoring version {number} changed nothing."})
    made.restored_from = number
    made.reason = text[:300]
    made.save(update_fields=["restored_from", "reason"])
    return made


def restore_with_save(save: Callable[..., Any]) -> Callable[..., Any]:
    """A ``restore`` for models without children: set the snapshot's fields, then ``save(obj, actor=, reason=)``.

    References to objects deleted since are reported in words, not as database errors.
    """

    def restore(obj, data, *, actor, reason):
        spec = versioned(obj)
        missing = missing_references(spec, data.get("fields", {}))
        if missing:
            raise ValidationError(missing)
        apply_fields(obj, data.get("fields", {}), spec)
        save(obj, actor=actor, reason=reason)

    return restore


def missing_references(spec: Versioned, values: dict[str, Any]) -> dict[str, str]:
    """The snapshot's references whose object no longer exists, by field, in words."""
    problems = {}
    for f in spec.fields():
        if f.is_relation and values.get(f.name) is not None:
            if not f.related_model._default_manager.filter(pk=values[f.name]).exists():
                problems[f.name] = (
                    f"the {f.verbose_name} this version names (id {values[f.name]}) no longer exists; "
                    "choose another one by editing instead"
                )
    return problems
