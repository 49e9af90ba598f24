"""Platform pages: opening a permalink, managers' permalinks, the admin section's platforms, and the
integrators' documentation."""
