"""Workspace secrets: stored values, `{{secret:NAME}}` references, the run's vault."""
