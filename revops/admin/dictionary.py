"""Admin for the dictionary area."""
