"""Admin for the sync area."""
