"""Admin for the automation registry, runs and the why view."""
