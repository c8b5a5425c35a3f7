"""Plug-in points of the exception queue, filled by the layers above it in their ``AppConfig.ready()``.

- **Item kinds**: the producing app registers each kind of item it opens, with the label people
  read, a default severity and a default expected action. The kind is stored as its key; a new
  kind needs no migration of ``exceptions``. An item whose kind nobody registers (an app was
  removed) still shows, with its key made readable.
- **Approval handlers**: the queue stores an approval request and its prepared proposal; on
  approve or override it calls the handler registered for the item's kind, which applies the
  proposal (the engine registers ``approval_required``) and returns what happened in words.
- **Item panels**: extra panels on an item's page (the engine adds the run that opened it).
- **Suppression topics**: which rules of an item a person may suppress for its record, and how the
  producer brings the item up to date at once (the forecast-hygiene scan registers its policies).
- **Queue users**: what each app routes to a queue by name (automations' exception paths, routing
  rules), so a queue in use is neither renamed nor deleted from under them.
- **Notification events**: the kinds of notice a person can send to chosen channels (*My
  notifications*): the queue's own (critical items, escalations, digests…), one per item kind
  registered with ``notify_on_open`` (an SLA breach), and the apps' digests and e-mails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ItemKind:
    """A kind of exception item: ``key`` is stored on the item, ``label`` is what people read."""

    key: str
    label: str
    severity: str = "medium"
    expected_action: str = ""
    notify_on_open: bool = False


@dataclass(frozen=True)
class NotificationEvent:
    """A kind of notice people route to their channels: ``key`` is stored in their preferences,
    ``label`` and ``help`` are what the *My notifications* form shows; ``immediate`` notices wait
    out the person's quiet hours and count towards the hourly limit."""

    key: str
    label: str
    help: str = ""
    immediate: bool = True
    order: int = 100
    roles: tuple[str, ...] = ()  # who gets it (role names); empty: anyone

    def for_role(self, role: str | None) -> bool:
        return not self.roles or role in self.roles


@dataclass(frozen=True)
class OverrideField:
    """What a person may change in a prepared action when overriding it: ``name`` is the key of the
    override's ``params`` (``owner``, ``value``), ``choices`` (value, label) make it a select."""

    name: str
    label: str
    help_text: str = ""
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ApprovalHandler:
    """What the producing layer does with its approval requests.

    - ``apply(item, actor) -> status word`` ("applied", "skipped"…) applies the approved proposal;
      raises ``django.core.exceptions.ValidationError`` when it cannot be applied;
    - ``describe(proposal) -> {"label", "changes"}`` gives the item page the action and its rows;
    - ``reject(item, actor, reason)`` records on the producer's side that a person said no;
    - ``override_field(proposal) -> OverrideField | None`` says what a person may change (None: nothing),
      ``override_params(proposal, params) -> dict`` turns their change into the action's parameters,
      refusing (``ValidationError``) anything else.
    """

    kind: str
    apply: Callable
    describe: Callable | None = None
    reject: Callable | None = None
    override_field: Callable | None = None
    override_params: Callable | None = None


@dataclass(frozen=True)
class ItemPanel:
    """A panel on an item's page: ``context(item) -> dict | None`` rendered by ``template`` as ``panel``."""

    name: str
    context: Callable
    template: str
    order: int = 100


_KINDS: dict[str, ItemKind] = {}
_EVENTS: dict[str, NotificationEvent] = {}
_APPROVALS: dict[str, ApprovalHandler] = {}
_PANELS: dict[str, ItemPanel] = {}


def register_item_kind(
    key: str, label: str, *, severity: str = "medium", expected_action: str = "", notify_on_open: bool = False
) -> ItemKind:
    """Declare a kind of exception item (idempotent by key; the last registration wins).

    ``notify_on_open``: its owner is told at once when one opens (as for every critical item),
    through the channels they chose for it."""
    if len(key) > 30:
        raise ValueError(f"exception item kind {key!r} is longer than 30 characters")
    kind = _KINDS[key] = ItemKind(
        key=key, label=label, severity=severity, expected_action=expected_action, notify_on_open=notify_on_open
    )
    return kind


def register_notification_event(
    key: str, label: str, *, help: str = "", immediate: bool = True, order: int = 100, roles: tuple[str, ...] = ()
) -> NotificationEvent:
    """Declare a kind of notice people can route to their channels (idempotent by key); ``roles``: the
    roles that ever get it (the *My notifications* page shows a person only theirs)."""
    event = _EVENTS[key] = NotificationEvent(
        key=key, label=label, help=help, immediate=immediate, order=order, roles=tuple(roles)
    )
    return event


def notification_events() -> list[NotificationEvent]:
    """Every kind of notice, the item kinds told on open included, in the form's order."""
    opened = [
        NotificationEvent(
            key=f"opened:{kind.key}",
            label=f"{kind.label} for me",
            help=f"A new “{kind.label}” item is yours.",
            order=15,
        )
        for kind in _KINDS.values()
        if kind.notify_on_open
    ]
    return sorted([*_EVENTS.values(), *opened], key=lambda e: (e.order, e.label.lower()))


def notification_event(key: str) -> NotificationEvent | None:
    return next((e for e in notification_events() if e.key == key), None)


def item_kind(key: str) -> ItemKind | None:
    return _KINDS.get(key)


def item_kind_keys() -> set[str]:
    return set(_KINDS)


def item_kind_label(key: str) -> str:
    kind = _KINDS.get(key)
    return kind.label if kind is not None else str(key or "").replace("_", " ").capitalize()


def item_kind_choices() -> list[tuple[str, str]]:
    """``(key, label)`` of every registered kind, by label (for filters and forms)."""
    return sorted(((k.key, k.label) for k in _KINDS.values()), key=lambda pair: pair[1].lower())


def register_approval_handler(
    kind: str,
    apply: Callable,
    *,
    describe: Callable | None = None,
    reject: Callable | None = None,
    override_field: Callable | None = None,
    override_params: Callable | None = None,
) -> ApprovalHandler:
    """Make items of ``kind`` approval requests, applied by ``apply(item, actor)`` when approved."""
    handler = _APPROVALS[kind] = ApprovalHandler(
        kind=kind,
        apply=apply,
        describe=describe,
        reject=reject,
        override_field=override_field,
        override_params=override_params,
    )
    return handler


def approval_handler(kind: str) -> ApprovalHandler | None:
    return _APPROVALS.get(kind)


def approval_kinds() -> set[str]:
    return set(_APPROVALS)


def register_item_panel(name: str, context: Callable, *, template: str, order: int = 100) -> ItemPanel:
    panel = _PANELS[name] = ItemPanel(name=name, context=context, template=template, order=order)
    return panel


def item_panels() -> list[ItemPanel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.name))


_QUEUE_USERS: dict[str, Callable[[str], list[str]]] = {}


def register_queue_users(name: str, users: Callable[[str], list[str]]) -> None:
    """``users(queue_name) -> ["automation 'X'", …]``: what an app still routes to a queue, by name.

    The queue refuses to rename or delete a queue that something still names.
    """
    _QUEUE_USERS[name] = users


def queue_users(queue_name: str) -> list[str]:
    found: list[str] = []
    for name in sorted(_QUEUE_USERS):
        found.extend(_QUEUE_USERS[name](queue_name))
    return found


@dataclass(frozen=True)
class SuppressionTopics:
    """What may be suppressed on items of ``kind``.

    - ``topics(item) -> [(automation id, label), …]``: the rules the item lists now;
    - ``after(item, actor)``: called in the same transaction once suppressions were created, to bring
      the item up to date (leave the rules off it, close it when nothing is left). None: the queue
      closes the item itself (code ``suppressed``) when every topic of it is suppressed.
    """

    kind: str
    topics: Callable
    after: Callable | None = None


_SUPPRESSION_TOPICS: dict[str, SuppressionTopics] = {}


def register_suppression_topics(kind: str, topics: Callable, *, after: Callable | None = None) -> SuppressionTopics:
    """Say which rules a person may suppress on items of ``kind`` (idempotent; the last one wins)."""
    spec = _SUPPRESSION_TOPICS[kind] = SuppressionTopics(kind=kind, topics=topics, after=after)
    return spec


def suppression_topics(kind: str) -> SuppressionTopics | None:
    return _SUPPRESSION_TOPICS.get(kind)
