"""Key custody: rotating master and data keys, and crypto-shredding a workspace.

Runs as `convoship_keys` (its own connection, CONVOSHIP_KEYS_DATABASE_URL), one workspace
per transaction under row-level security like a request; across workspaces that role sees
only their ids. Used by `convoship rotate-keys`, `convoship workspace delete` and the
rotate_keys Lambda job.
"""
