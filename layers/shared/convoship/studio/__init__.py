"""What Studio edits: agents and what they own, workspace settings, drafts, history, the purge."""
