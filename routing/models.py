"""Models of the routing app; filled in by its own issue."""
