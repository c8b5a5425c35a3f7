"""Admin registrations of the core, one module per area (the engine registers its own in ``revops.engine.admin``)."""

from . import contacts, dictionary, people, records, releases, sync  # noqa: F401
