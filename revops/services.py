"""Writes for the core app: the revenue data dictionary and hand edits of CRM mirror records.

Every service is keyword-only, runs in one transaction, validates with ``full_clean()`` and
attributes its history rows to an explicit ``actor`` with a reason (see ``revops.audit``).
The admin, API views and jobs validate their input and call these; they never save models
themselves.
"""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from simple_history.utils import bulk_create_with_history

from . import selectors
from .audit import audited
from .models import Account, Activity, Contact, FieldDefinition, Lead, Opportunity, Rep, Required, Task, Team
from .plugins import field_users
from .validation import STAGE_FIELDS

Actor = AbstractBaseUser | None

# Core entries mirror a table column: these describe the column itself and never change.
CORE_LOCKED_FIELDS = ("object_type", "key", "field_type", "is_core")
# Columns a custom attribute may not shadow even though they are not described by the dictionary.
RESERVED_KEYS = {"id", "attributes", "raw_values", "created_at", "updated_at", "history"}
DICTIONARY_EDITABLE_FIELDS = tuple(
    f.name for f in FieldDefinition._meta.concrete_fields if f.name not in {"id", "version", "created_at", "updated_at"}
)
RECORD_MODELS = (Team, Rep, Account, Lead, Contact, Opportunity, Activity, Task)


# --- Data dictionary -------------------------------------------------------------------------


def dictionary_field_validate(*, field: FieldDefinition, stored: FieldDefinition | None = None) -> None:
    """Check the dictionary's governance rules that span the records it describes.

    ``field.clean()`` checks an entry on its own (choices need values, references a target…);
    this checks it against the record tables: a core entry must name an existing column, a
    custom attribute must not shadow one, "required from stages" must list real stages, and
    (given ``stored``, the row as saved) a core entry's key, object and type never change.
    Raises ``ValidationError`` keyed by field name.
    """
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    object_type, key = field.object_type, field.key
    if object_type not in selectors.RECORD_MODELS:
        raise ValidationError({"object_type": f"{object_type!r} is not a record type."})
    model = selectors.record_model(object_type)
    model_name = model._meta.verbose_name
    columns = selectors.record_column_names(object_type)

    if stored is not None and stored.is_core:
        for name in CORE_LOCKED_FIELDS:
            if getattr(field, name) != getattr(stored, name):
                add(
                    name,
                    f"{stored} is a core column: its {name.replace('_', ' ')} mirrors the table and cannot change.",
                )
    if stored is not None:
        risky = [("is_deprecated", "deprecated")] if field.is_deprecated and not stored.is_deprecated else []
        if field.field_type != stored.field_type:
            risky.append(("field_type", "given another type"))
        users = active_field_users(stored) if risky else []
        for name, doing in risky if users else ():
            add(name, _in_use(stored, doing, users))
    if stored is not None and not stored.is_core and (stored.key, stored.object_type) != (key, object_type):
        in_use = selectors.dictionary_field_usage(object_type=stored.object_type, key=stored.key)
        if in_use:
            add(
                "key",
                f"{in_use} {stored.object_type} record(s) hold a value under {stored.key!r}; renaming it would orphan "
                "them. Create a new field and deprecate this one instead.",
            )

    if field.is_core:
        if key and key not in columns:
            add(
                "key",
                f"{model_name} has no column {key!r}; only table columns can be core entries "
                f"(columns: {', '.join(columns)}). Untick 'core column' to define a custom attribute.",
            )
        elif key:
            column = model._meta.get_field(key)
            column_choices = [value for value, _label in column.choices or ()]
            if column_choices and field.allowed_values:
                extra = [value for value in field.allowed_values if value not in column_choices]
                if extra:
                    add(
                        "allowed_values",
                        f"The {key} column only stores {', '.join(column_choices)}; not {', '.join(map(str, extra))}.",
                    )
    else:
        if not selectors.record_has_attributes(object_type):
            add(
                "is_core",
                f"{model_name.capitalize()} records have no custom attributes; only their columns can be described.",
            )
        elif key in columns or key in RESERVED_KEYS:
            add("key", f"{key!r} is a column of {model_name}; a custom attribute needs a different key.")

    if field.required == Required.FROM_STAGES and field.required_from:
        stage_field = STAGE_FIELDS.get(object_type)
        if stage_field is None:
            add(
                "required",
                f"{model_name.capitalize()} records have no stage or status; use 'Always' or 'Optional'.",
            )
        else:
            stages = [value for value, _label in model._meta.get_field(stage_field).choices]
            unknown = [value for value in field.required_from if value not in stages]
            if unknown:
                add(
                    "required_from",
                    f"Not a {model_name} {stage_field}: {', '.join(map(str, unknown))} (valid: {', '.join(stages)}).",
                )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def dictionary_field_create(*, actor: Actor, reason: str | None = None, **fields: Any) -> FieldDefinition:
    """Add an entry to the data dictionary (usually a custom attribute) and return it.

    ``fields`` are ``FieldDefinition`` fields (``object_type``, ``key``, ``label``, ``definition``,
    ``field_type``, ``owning_team``…). Validators built from the dictionary pick the entry up
    on their next use. Raises ``ValidationError`` for invalid or conflicting entries.
    """
    field = FieldDefinition(**fields)
    field.full_clean()
    dictionary_field_validate(field=field)
    with audited(actor=actor, reason=reason or f"dictionary: created {field}"):
        field.save()
    return field


@transaction.atomic
def dictionary_field_update(
    *, field: FieldDefinition, actor: Actor, reason: str | None = None, **changes: Any
) -> FieldDefinition:
    """Change a dictionary entry's definition, owner, source of truth, requirement or flags.

    A core entry's object, key, type and core flag mirror a table column and cannot change;
    a custom attribute that records already use cannot be renamed. Saving without any real
    change writes no history row. Raises ``ValidationError`` with the reason.
    """
    unknown = sorted(set(changes) - set(DICTIONARY_EDITABLE_FIELDS))
    if unknown:
        raise TypeError(f"dictionary_field_update() got unknown fields: {', '.join(unknown)}")
    stored = FieldDefinition.objects.select_for_update().get(pk=field.pk)
    for name, value in changes.items():
        setattr(field, name, value)
    changed = [name for name in DICTIONARY_EDITABLE_FIELDS if getattr(field, name) != getattr(stored, name)]
    if not changed:
        return field
    field.full_clean()
    dictionary_field_validate(field=field, stored=stored)
    with audited(actor=actor, reason=reason or f"dictionary: changed {', '.join(changed)} of {field}"):
        field.save()
    return field


def dictionary_field_delete_blockers(*, field: FieldDefinition) -> list[str]:
    """Plain-language reasons why ``field`` cannot be deleted (empty when it can)."""
    if field.is_core:
        model_name = selectors.record_model(field.object_type)._meta.verbose_name
        return [
            f"{field} describes a core column of {model_name}: core entries mirror the table and cannot be "
            "deleted. Edit its definition or mark it deprecated instead."
        ]
    blockers = []
    users = active_field_users(field)
    if users:
        blockers.append(_in_use(field, "deleted", users))
    in_use = selectors.dictionary_field_usage(object_type=field.object_type, key=field.key)
    if in_use:
        blockers.append(
            f"{in_use} {field.object_type} record(s) still hold a value for {field.key!r}: mark the field "
            "deprecated instead, or clear those values first."
        )
    return blockers


def active_field_users(field: FieldDefinition) -> list:
    """The active automations, rules, policies… that read ``field`` (``revops.plugins.field_users``)."""
    return [user for user in field_users(field.object_type, field.key) if user.active]


def _in_use(field: FieldDefinition, doing: str, users: list) -> str:
    return f"{field} cannot be {doing} while {users_sentence(users)} read it; change or switch those off first."


def users_sentence(users: list) -> str:
    """ "the routing rule EMEA enterprise and the automation Stale deals" (at most five named)."""
    names = [f"the {user.kind.lower()} {user.name}" for user in users[:5]]
    if len(users) > 5:
        names.append(f"{len(users) - 5} more")
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@transaction.atomic
def dictionary_field_delete(*, field: FieldDefinition, actor: Actor, reason: str | None = None) -> None:
    """Delete a custom dictionary entry that no record uses any more.

    Core entries (table columns) are never deleted, and neither are custom attributes that
    records still carry: both raise ``ValidationError`` saying why and what to do instead.
    """
    stored = FieldDefinition.objects.select_for_update().get(pk=field.pk)
    blockers = dictionary_field_delete_blockers(field=stored)
    if blockers:
        raise ValidationError(blockers)
    with audited(actor=actor, reason=reason or f"dictionary: deleted {stored}"):
        stored.delete()


@transaction.atomic
def dictionary_load_defaults(*, actor: Actor) -> list[FieldDefinition]:
    """Create the default dictionary entries that are missing and return them.

    Existing entries are left alone, so a team's edits to definitions, owners or sources of
    truth survive; running it again creates nothing. History rows name ``actor``.
    """
    from .dictionary_defaults import DEFAULT_FIELDS

    existing = set(FieldDefinition.objects.values_list("object_type", "key"))
    missing = [
        FieldDefinition(**copy.deepcopy(entry))
        for entry in DEFAULT_FIELDS
        if (entry["object_type"], entry["key"]) not in existing
    ]
    if not missing:
        return []
    for field in missing:
        field.full_clean(validate_unique=False, validate_constraints=False)
    return bulk_create_with_history(
        missing, FieldDefinition, default_user=actor, default_change_reason="dictionary: default entries"
    )


# --- CRM mirror records ----------------------------------------------------------------------


def _check_record(instance: models.Model) -> None:
    if not isinstance(instance, RECORD_MODELS):
        raise TypeError(f"{type(instance).__name__} is not a CRM record; use its own service.")


_UNTRACKED = {"id", "created_at", "updated_at", "source_updated_at", "attributes"}


def _record_values(instance: models.Model) -> dict[str, Any]:
    """The record's values by dictionary key, as outbox events carry them (references by external id)."""
    from .values import jsonable

    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in _UNTRACKED:
            continue
        if field.is_relation:
            related_id = getattr(instance, field.attname)
            related = getattr(instance, field.name) if related_id is not None else None
            values[field.name] = getattr(related, "external_id", related_id) if related is not None else None
        else:
            values[field.name] = jsonable(getattr(instance, field.attname))
    for key, value in (getattr(instance, "attributes", None) or {}).items():
        values.setdefault(key, value)
    return values


def _outbox_event(instance: models.Model, kind: str, changes: dict[str, list]) -> None:
    from .models import OutboxEvent
    from .outbox import outbox_enqueue_events

    event = OutboxEvent.objects.create(
        object_type=instance._meta.model_name,
        object_id=instance.pk,
        external_id=getattr(instance, "external_id", "") or "",
        kind=kind,
        changed_fields=list(changes),
        changes=changes,
    )
    event_id = event.pk
    transaction.on_commit(lambda: outbox_enqueue_events(event_ids=[event_id]))


@transaction.atomic
def record_save(*, instance: models.Model, actor: Actor, reason: str | None = None) -> models.Model:
    """Create or update one mirror record (team, rep, account, lead, opportunity, activity, task).

    Used for hand edits (the admin); the CRM's own changes arrive through the sync service.
    Validates with ``full_clean()`` and writes one history row attributed to ``actor``. Like a
    sync, a real change also writes an outbox event (changed fields with old and new values, in
    the same transaction) whose automations run on the hot queue after commit.
    """
    _check_record(instance)
    instance.full_clean()
    adding = instance._state.adding
    stored = None if adding else type(instance).objects.filter(pk=instance.pk).first()
    before = {} if stored is None else _record_values(stored)
    verb = "created" if stored is None else "updated"
    with audited(actor=actor, reason=reason or f"{verb} by hand"):
        instance.save()
    after = _record_values(instance)
    changes = {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}
    changes.update({key: [value, None] for key, value in before.items() if key not in after and value is not None})
    if stored is None or changes:
        _outbox_event(instance, verb, changes)
    return instance


@transaction.atomic
def record_delete(*, instance: models.Model, actor: Actor, reason: str | None = None) -> None:
    """Delete one mirror record; its history keeps a deletion row attributed to ``actor``.

    A ``deleted`` outbox event records it (no automation triggers on deletions today).
    """
    _check_record(instance)
    pk = instance.pk
    with audited(actor=actor, reason=reason or "deleted by hand"):
        instance.delete()
    instance.pk = pk
    _outbox_event(instance, "deleted", {})


def dictionary_field_restore(field: FieldDefinition, data: dict[str, Any], *, actor: Actor, reason: str) -> None:
    """Put a dictionary entry back as an earlier version had it, through ``dictionary_field_update``
    (so a core entry's column, or a key records already use, is protected as in any edit)."""
    values = data.get("fields", {})
    changes = {name: values[name] for name in DICTIONARY_EDITABLE_FIELDS if name in values}
    dictionary_field_update(field=field, actor=actor, reason=reason, **changes)
