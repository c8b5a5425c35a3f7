"""Admin registrations, one module per area."""

from . import dictionary, records, sync  # noqa: F401
