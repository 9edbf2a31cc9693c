"""Running an agent: its snapshot, one turn with tools, PII redaction, the RPM limit."""
