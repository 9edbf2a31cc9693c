"""Workspace secrets: stored values, `{{secret:NAME}}` references, the hosts each may go to,
the run's vault and the scrubbing of every value it used."""
