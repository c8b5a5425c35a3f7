"""Admin for the records area."""
