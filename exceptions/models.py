"""Models of the exceptions app; filled in by its own issue."""
