"""The core's part of the demo: the CRM record mirror of a realistic org, and the CRM's morning sync.

- ``tables``: reference data (countries, names, industries, the team tree, the rep plan);
- ``org``, ``records`` and ``contacts``: the seeded generator of teams, reps, accounts, leads,
  opportunities, activities, tasks and contacts (bulk-created with history, attributed to the demo
  loader);
- ``crm`` (and ``crm_contacts``): what the CRM pushes on the demo's morning, through the real sync
  service, and its processing by the outbox consumer (the engine), as a worker would do a moment later;
- ``builders``: the two demo builders the core registers (``revops.apps``), the demo's RevOps
  people and ``demo_loaded``.

Everything here is core: it imports only core modules. The layers above add their own parts of
the demo (queues, automations, routing) through their builders; ``revops.demo`` runs them all.
"""
