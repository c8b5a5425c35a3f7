"""The exception queue's triage admin: where managers work the queue every morning.

Importing this package registers the model admins (``items``, ``queues``) and sends managers to the triage view
after logging in (``landing``). The modules:

- ``items`` — ``ExceptionItemAdmin``. The changelist is the triage view: by default the awake open
  items of the queues the user may see (``exceptions.selectors.visible_queues``; snoozed items have
  their own "Snoozed" state), in the order "Next item" serves them (``services.triage_order``:
  overdue first, then severity, then due time), two lines a row (title and reason, → expected
  action), with a header of counts per visible queue (open, overdue, approvals waiting, snoozed), the
  row macros (one-click actions) and a "Next item" button that claims the most urgent claimable item
  in the user's queues (``exception_next_item``, safe under concurrency) and opens it in "next item"
  mode. The item page is read-only: the record (with its "why?" page), the reason and the expected
  action, the panels other apps register (the run's explanation), the proposal of an approval,
  related open items on the same record, the escalation path and the history.
- ``action_views`` — the actions on items, all from the one table in ``exceptions.actions`` that
  the API reads too: buttons on the item page, the action's form page, a bulk action on the list
  per action with a bulk service, the row macros, and "next item" mode (after an action that settles
  the item, the next one opens). The admin only validates the input (the action's form) and calls
  the services, which write the change and its audit row; refusals come back as messages.
- ``filters`` — the list filters and the paginator, which never counts the whole table
  (``show_full_result_count`` is off, at most ``COUNT_CAP`` rows are counted) and reads a page's ids
  first, tier by tier for the open views (``services.triage_tiers``), then those rows.
- ``helpers`` — queue counts, history rows, record fields, refusal messages.
- ``queues`` — ``QueueAdmin``: the queues as configuration (RevOps admins write, managers read),
  through ``exceptions.queues``.
- ``scarcity`` — ``SuppressionAdmin`` (lift early) and ``RateLimitAdmin`` (per-owner limits, what they hold back).
- ``landing`` — the admin index redirects managers (not superusers) to the triage view
  (``/admin/?index=1`` still shows the index).

URLs (names unchanged): ``admin:exceptions_exceptionitem_changelist``/``_change``/``_history``,
``admin:exceptions_exceptionitem_next`` (``next/``), ``admin:exceptions_exceptionitem_act``
(``<id>/act/<action key>/``) and ``admin:exceptions_exceptionitem_macro`` (``<id>/macro/<macro key>/``).
"""

from . import items, notifications, queues, scarcity  # noqa: F401  (register the item, queue, notification, suppression and rate-limit admins)
from .landing import install_landing

install_landing()
