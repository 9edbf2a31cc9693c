"""The scheduled purge of stale wizard drafts."""
