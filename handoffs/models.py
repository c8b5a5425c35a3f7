"""Models of the handoffs app; filled in by its own issue."""
