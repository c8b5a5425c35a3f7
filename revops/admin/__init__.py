"""Admin registrations, one module per area."""

from . import automation, dictionary, records, sync  # noqa: F401
