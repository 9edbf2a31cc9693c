"""On-demand key rotation (`convoship rotate-keys` as a Lambda job)."""
